package vmm

import (
	"errors"
	"io"
	"log/slog"
	"sync"

	"github.com/gluevmm/glue/acpi"
	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
)

// deviceManager is the one owner of everything between the guest and the
// device models (Firecracker's device manager): the port and MMIO buses;
// the legacy PC devices at their x86/layout.go ports and IRQs; the PCI
// root complex with its slots, BAR windows and INTx lines (pci.go); the
// GSI routing table and the MSI-X vectors' irqfds (msix.go); the virtio
// devices on PCI or MMIO with their irqfds and ioeventfds (virtio.go,
// transport_*.go); the ACPI power device and the description of all of it
// for the ACPI tables or the kernel command line (acpi.go); the event loop
// that runs device work; the backends the devices use (disk images, taps);
// and the guest's console output and input. Slots, addresses and
// interrupt lines are handed out here and nowhere else.
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
	output    *guestOutput   // what every console device writes to
	consoleIn consoleDevice  // the device host console input goes to
	balloon   balloonControl // nil without a balloon device
	gsis      *gsiRouter
	pci       *pciBus
	power     *acpi.Power // nil without ACPI
	backends  []io.Closer // disk images, taps: closed after the devices
	eventFDs  []int       // irqfds and ioeventfds, closed after the event loop

	// The virtio-mmio devices, for the DSDT or (without ACPI) the
	// command line.
	mmioDevices []acpi.MMIODevice
	mmioParams  []string

	// reset is closed (once) when the guest pulses the i8042 reset line or
	// writes the ACPI reset register; powerOff when it enters S5.
	reset        chan struct{}
	resetOnce    sync.Once
	powerOff     chan struct{}
	powerOffOnce sync.Once
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
	consoleLimit, err := RateLimit{Bytes: cfg.ConsoleLimit}.limiter()
	if err != nil {
		return nil, &ConfigError{Field: FieldConsoleDevice, Err: err}
	}
	dm, err := newDeviceManager(v, mem, guestOutputConfig{cfg.Console, cfg.Timeline, consoleLimit}, log)
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
	var ram []guestmem.Span
	for _, r := range mem.Regions() {
		ram = append(ram, r.Span)
	}
	if dm.pci, err = newPCIBus(v.IRQLine, dm.pio, dm.mmio, ram, log); err != nil {
		return nil, err
	}
	if !cfg.NoACPI {
		if err := dm.addPowerDevice(); err != nil {
			return nil, err
		}
	}
	if len(cfg.Disks) > 0 {
		disks, err := newDisks(dm.loop, cfg.Disks, log)
		if err != nil {
			return nil, err
		}
		for i := range disks {
			disks[i].transport = cfg.transportOf(cfg.Disks[i].Transport)
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
		for i := range nets {
			nets[i].transport = cfg.transportOf(cfg.Nets[i].Transport)
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
		rng.transport = cfg.transportOf(cfg.RNGTransport)
		if err := dm.addVirtio(rng); err != nil {
			return nil, err
		}
	}
	if cfg.ConsoleDevice == ConsoleVirtio {
		hvc, in, err := newVirtioConsole(dm.output)
		if err != nil {
			return nil, err
		}
		hvc.transport = cfg.transportOf(cfg.ConsoleTransport)
		if err := dm.addVirtio(hvc); err != nil {
			return nil, err
		}
		dm.consoleIn = in
	}
	if cfg.Balloon != nil {
		dev, ctl, err := newBalloon(*cfg.Balloon, log)
		if err != nil {
			return nil, err
		}
		dev.transport = cfg.transportOf(cfg.Balloon.Transport)
		if err := dm.addVirtio(dev); err != nil {
			return nil, err
		}
		dm.balloon = ctl
	}
	if cfg.Vsock != nil {
		vs, err := newVsock(dm.loop, *cfg.Vsock, log)
		if err != nil {
			return nil, err
		}
		vs.transport = cfg.transportOf(cfg.Vsock.Transport)
		if err := dm.addVirtio(vs); err != nil {
			return nil, err
		}
	}
	return dm, nil
}

// newDeviceManager creates empty buses, the event loop and the guest
// output.
func newDeviceManager(v *kvm.VM, mem *guestmem.Memory, out guestOutputConfig, log *slog.Logger) (*deviceManager, error) {
	loop, err := eventloop.New(log)
	if err != nil {
		return nil, err
	}
	return &deviceManager{
		vm: v, mem: mem, log: log,
		pio: &bus.Bus{}, mmio: &bus.Bus{},
		loop:     loop,
		output:   newGuestOutput(out),
		gsis:     newGSIRouter(v.SetGSIRouting),
		reset:    make(chan struct{}),
		powerOff: make(chan struct{}),
	}, nil
}

// buses returns the address spaces for the vCPUs' exits.
func (dm *deviceManager) buses() buses { return buses{dm.pio, dm.mmio} }

// close releases what the device manager owns, once no vCPU runs: the
// event loop (so no device work runs any more), the irqfds and
// ioeventfds, the backends, and last the guest output, flushed within
// GuestOutputFlushTimeout.
func (dm *deviceManager) close() error {
	errs := []error{dm.loop.Close()}
	dm.closeEventFDs()
	for _, c := range dm.backends {
		errs = append(errs, c.Close())
	}
	dm.output.close(dm.log)
	return errors.Join(errs...)
}
