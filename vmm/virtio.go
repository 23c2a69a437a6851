package vmm

import (
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/virtio"
)

// The device manager's virtio devices. Each sits on its transport
// (Config.transportOf): a PCI slot with its BAR, MSI-X vectors and INTx
// line (transport_pci.go), or an MMIO window with an IOAPIC pin
// (transport_mmio.go).
//
// Neither direction goes through a vCPU exit on the fast path:
//   - a queue notification (the guest writing to the queue's notify
//     address) signals an ioeventfd inside KVM, one per queue, which the
//     event loop turns into the transport's NotifyQueue;
//   - an interrupt is a write to an irqfd: the device's IOAPIC pin on MMIO,
//     the vector's GSI on PCI with MSI-X.

// virtioDevice is a device made by a device file, for a virtio slot, with
// the backend it uses (nil if none) and the transport it goes on. A device
// file that fails half-way closes the backends it opened; once handed to
// addVirtio, they are the device manager's.
type virtioDevice struct {
	dev       virtio.Device
	backend   io.Closer
	transport Transport // resolved by createDevices
	// onTransport, if set, is told the transport's NotifyQueue once the
	// device is on it (a rate-limited device's queueWake).
	onTransport func(notify func(queue int) (more bool))
}

// addVirtio takes ownership of the devices' backends, then puts each device
// on its transport, in order.
func (dm *deviceManager) addVirtio(devs ...virtioDevice) error {
	for _, d := range devs {
		if d.backend != nil {
			dm.backends = append(dm.backends, d.backend)
		}
	}
	for _, d := range devs {
		var notify func(queue int) bool
		var err error
		switch d.transport {
		case TransportPCI:
			notify, err = dm.addPCIVirtio(d.dev)
		case TransportMMIO:
			notify, err = dm.addMMIOVirtio(d.dev)
		default:
			err = fmt.Errorf("vmm: virtio %v: no transport", d.dev.Type())
		}
		if err != nil {
			return err
		}
		if d.onTransport != nil {
			d.onTransport(notify)
		}
	}
	return nil
}

// closeEventFDs closes the irqfds and ioeventfds the device manager made.
func (dm *deviceManager) closeEventFDs() {
	for _, fd := range dm.eventFDs {
		unix.Close(fd)
	}
	dm.eventFDs = nil
}
