package vmm

import (
	"encoding/binary"
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
		var err error
		switch d.transport {
		case TransportPCI:
			err = dm.addPCIVirtio(d.dev)
		case TransportMMIO:
			err = dm.addMMIOVirtio(d.dev)
		default:
			err = fmt.Errorf("vmm: virtio %v: no transport", d.dev.Type())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// newNotifyFD returns an eventfd that, once an ioeventfd binds it to queue
// q's notify address, runs notify(q) on the event loop; notify reports
// whether work is left, which is then queued behind other fds (bounded
// work per call).
func (dm *deviceManager) newNotifyFD(q int, notify func(q int) bool) (int, error) {
	fd, err := dm.newEventFD()
	if err != nil {
		return -1, err
	}
	var run func()
	run = func() {
		if notify(q) {
			dm.loop.Submit(run)
		}
	}
	return fd, dm.loop.Add(fd, unix.EPOLLIN, func(uint32) {
		drainEventFD(fd)
		run()
	})
}

// newEventFD returns an eventfd the device manager closes, after the event
// loop, in close (KVM drops its irqfd and ioeventfd bindings with the VM).
func (dm *deviceManager) newEventFD() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("vmm: eventfd: %w", err)
	}
	dm.eventFDs = append(dm.eventFDs, fd)
	return fd, nil
}

func (dm *deviceManager) closeEventFDs() {
	for _, fd := range dm.eventFDs {
		unix.Close(fd)
	}
	dm.eventFDs = nil
}

func drainEventFD(fd int) {
	var buf [8]byte
	unix.Read(fd, buf[:])
}

// signalEventFD adds one to the eventfd: an irqfd's interrupt.
func signalEventFD(fd int) {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(fd, one[:])
}
