package vmm

import (
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
)

// deviceManager is the one owner of everything between the guest and the
// device models (Firecracker's device manager): the port and MMIO buses;
// the legacy PC devices at their x86/layout.go ports and IRQs; the virtio
// slots, each an MMIO window and IOAPIC pin from x86/layout.go with its
// irqfd and ioeventfds (virtio.go); the event loop that runs device work;
// the backends the devices use (disk images, taps); the guest's console
// output and input; and the kernel command-line entries that describe the
// devices to the guest. Slots, addresses and interrupt lines are handed out
// here and nowhere else, so that is where PCI slots, GSIs and ACPI table
// entries go too.
//
// The machine's VM and memory are borrowed: the device manager binds
// interrupts and queue notifications on the VM and gives the devices guest
// memory, but the machine owns and closes both.
type deviceManager struct {
	vm  *kvm.VM
	mem *guestmem.Memory
	log *slog.Logger

	pio, mmio *bus.Bus
	loop      *eventloop.Loop
	output    *guestOutput  // what every console device writes to
	consoleIn consoleDevice // the device host console input goes to
	virtio    []*virtioSlot // in slot order
	params    []string      // kernel command-line entries, one per device that needs one
	backends  []io.Closer   // disk images, taps: closed after the devices

	// reset is closed (once) when the guest pulses the i8042 reset line.
	reset     chan struct{}
	resetOnce sync.Once
}

// buses are the address spaces vCPU exits are dispatched on.
type buses struct{ pio, mmio *bus.Bus }

// createDevices is the "create devices" step: the device manager with the
// legacy devices, then the virtio devices cfg asks for, each kind made by
// its device file and put in the next slots, in the order the guest finds
// them (that of optionals). A kind this build left out comes from its
// device_*_missing.go file, which refuses (Config.Validate has refused
// such a config already).
func createDevices(v *kvm.VM, mem *guestmem.Memory, cfg *Config, log *slog.Logger) (_ *deviceManager, err error) {
	dm, err := newDeviceManager(v, mem, cfg.Console, cfg.Timeline, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			dm.close()
		}
	}()
	uart, err := dm.addLegacyDevices()
	if err != nil {
		return nil, err
	}
	dm.consoleIn = uart
	if len(cfg.Disks) > 0 {
		disks, err := newDisks(cfg.Disks, log)
		if err != nil {
			return nil, err
		}
		if err := dm.addVirtio(disks...); err != nil {
			return nil, err
		}
	}
	if len(cfg.Nets) > 0 {
		nets, err := newNets(dm.loop, cfg.Name, cfg.Nets, log)
		if err != nil {
			return nil, err
		}
		if err := dm.addVirtio(nets...); err != nil {
			return nil, err
		}
	}
	if cfg.RNG {
		rng, err := newRNG()
		if err != nil {
			return nil, err
		}
		if err := dm.addVirtio(rng); err != nil {
			return nil, err
		}
	}
	if cfg.ConsoleDevice == ConsoleVirtio {
		hvc, in, err := newVirtioConsole(dm.output)
		if err != nil {
			return nil, err
		}
		if err := dm.addVirtio(hvc); err != nil {
			return nil, err
		}
		dm.consoleIn = in
	}
	return dm, nil
}

// newDeviceManager creates empty buses, the event loop and the guest
// output in front of console.
func newDeviceManager(v *kvm.VM, mem *guestmem.Memory, console io.Writer, tl *Timeline, log *slog.Logger) (*deviceManager, error) {
	loop, err := eventloop.New(log)
	if err != nil {
		return nil, err
	}
	if console == nil {
		console = io.Discard
	}
	return &deviceManager{
		vm: v, mem: mem, log: log,
		pio: &bus.Bus{}, mmio: &bus.Bus{},
		loop:   loop,
		output: newGuestOutput(console, tl),
		reset:  make(chan struct{}),
	}, nil
}

// buses returns the address spaces for the vCPUs' exits.
func (dm *deviceManager) buses() buses { return buses{dm.pio, dm.mmio} }

// kernelParams returns the command-line entries that describe the devices.
func (dm *deviceManager) kernelParams() []string { return dm.params }

// close releases what the device manager owns, once no vCPU runs: the
// event loop (so no device work runs any more), the virtio eventfds, the
// backends, and last the guest output, flushed within
// GuestOutputFlushTimeout.
func (dm *deviceManager) close() error {
	errs := []error{dm.loop.Close()}
	dm.closeVirtio()
	for _, c := range dm.backends {
		errs = append(errs, c.Close())
	}
	dm.output.close(dm.log)
	return errors.Join(errs...)
}
