package vmm

import (
	"time"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/i8042"
	"github.com/gluevmm/glue/rtc"
	"github.com/gluevmm/glue/serial"
	"github.com/gluevmm/glue/x86"
)

// irqLine adapts a device's interrupt output to KVM_IRQ_LINE. The in-kernel
// PIC and IOAPIC see the level changes and detect edges themselves.
type irqLine struct {
	vm  *VM
	irq uint32
}

func (l irqLine) SetLevel(high bool) {
	if err := l.vm.kvm.IRQLine(l.irq, high); err != nil {
		l.vm.log.Warn("set interrupt line", "irq", l.irq, "err", err)
	}
}

// sink is a port that accepts writes and reads as zero: the POST-code port
// Linux writes for I/O delays, kept off the "unhandled" debug log.
type sink struct{}

func (sink) Read(_ uint64, data []byte) { clear(data) }
func (sink) Write(uint64, []byte)       {}

// createDevices puts the legacy PC devices on the port bus and the virtio
// devices on the MMIO bus.
func (vm *VM) createDevices() error {
	vm.pio, vm.mmio = &bus.Bus{}, &bus.Bus{}
	loop, err := eventloop.New(vm.log)
	if err != nil {
		return err
	}
	vm.loop = loop
	vm.uart = serial.New(vm.cfg.Console, irqLine{vm, x86.IRQCOM1})
	vm.consoleIn = vm.uart
	kbd := i8042.New(i8042.Config{
		Reset:       vm.requestReset,
		KeyboardIRQ: irqLine{vm, x86.IRQKeyboard},
		AuxIRQ:      irqLine{vm, x86.IRQMouse},
	})
	var low, high uint64
	for _, r := range vm.mem.Regions() {
		if r.Base < x86.MMIOGapEnd {
			low += r.Size
		} else {
			high += r.Size
		}
	}
	cmos := rtc.New(time.Now, low, high)
	for _, d := range []struct {
		port, size uint64
		dev        bus.Device
	}{
		{x86.COM1Port, x86.UARTPorts, vm.uart},
		{x86.I8042Data, 1, kbd.DataPort()},
		{x86.I8042Cmd, 1, kbd.CommandPort()},
		{x86.RTCIndex, 2, cmos},
		{x86.DebugPort, 1, sink{}},
	} {
		if err := vm.pio.Insert(d.port, d.size, d.dev); err != nil {
			return err
		}
	}
	return vm.createVirtioDevices()
}

// createVirtioDevices adds the virtio devices the config asks for, in a
// fixed order (disks, networks, entropy, console: the order of optionals),
// through the functions the components this build contains provided.
// Config.Validate has already refused devices this build lacks.
func (vm *VM) createVirtioDevices() error {
	for _, o := range optionals {
		if o.add == nil || !o.wanted(&vm.cfg) {
			continue
		}
		if err := o.add(vm); err != nil {
			return err
		}
	}
	return nil
}

// requestReset is the i8042's reset line. Linux pulses it up to ten times,
// so it must be idempotent.
func (vm *VM) requestReset() {
	vm.resetOnce.Do(func() { close(vm.reset) })
}
