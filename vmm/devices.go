package vmm

import (
	"crypto/rand"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/i8042"
	"github.com/gluevmm/glue/rtc"
	"github.com/gluevmm/glue/serial"
	"github.com/gluevmm/glue/tap"
	"github.com/gluevmm/glue/virtio/blk"
	"github.com/gluevmm/glue/virtio/rng"
	"github.com/gluevmm/glue/virtio/vconsole"
	"github.com/gluevmm/glue/virtio/vnet"
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
// fixed order: disks, networks, entropy, console.
func (vm *VM) createVirtioDevices() error {
	for _, d := range vm.cfg.Disks {
		disk, err := blk.Open(d.Path, blk.Options{ReadOnly: d.ReadOnly})
		if err != nil {
			return &ConfigError{Field: "Disks", Err: err}
		}
		vm.closers = append(vm.closers, disk)
		if err := vm.addVirtio(blk.New(disk, vm.log.With("disk", d.Path))); err != nil {
			return err
		}
	}
	for i, n := range vm.cfg.Nets {
		if err := vm.addNet(i, n); err != nil {
			return err
		}
	}
	if vm.cfg.RNG {
		if err := vm.addVirtio(rng.New(rand.Reader)); err != nil {
			return err
		}
	}
	if vm.cfg.ConsoleDevice == ConsoleVirtio {
		hvc := vconsole.New(vm.cfg.Console)
		vm.consoleIn = hvc
		if err := vm.addVirtio(hvc); err != nil {
			return err
		}
	}
	return nil
}

// addNet opens the tap and adds a virtio-net device on it. The event loop
// reads the tap while the guest has receive buffers; the device turns that
// interest off when it has none (so a busy tap cannot spin the loop) and on
// again when the guest posts more.
func (vm *VM) addNet(i int, n Net) error {
	t, err := tap.Open(n.Tap, tap.Options{})
	if err != nil {
		return &ConfigError{Field: "Nets", Err: err}
	}
	vm.closers = append(vm.closers, t)
	mac := vnet.MACFromName(fmt.Sprintf("%s/%d", vm.cfg.Name, i))
	if n.MAC != "" {
		if mac, err = vnet.ParseMAC(n.MAC); err != nil {
			return &ConfigError{Field: "Nets", Err: fmt.Errorf("net %s: %w", n.Tap, err)}
		}
	}
	fd := t.Fd()
	dev, err := vnet.New(vnet.Config{
		MAC:     mac,
		Backend: t,
		SetRxInterest: func(on bool) {
			events := uint32(0)
			if on {
				events = unix.EPOLLIN
			}
			vm.loop.Modify(fd, events)
		},
		Log: vm.log.With("net", n.Tap),
	})
	if err != nil {
		return err
	}
	var receive func()
	receive = func() {
		if dev.HandleRx() {
			vm.loop.Submit(receive) // bounded work per call; the rest after other fds
		}
	}
	if err := vm.loop.Add(fd, unix.EPOLLIN, func(uint32) { receive() }); err != nil {
		return err
	}
	return vm.addVirtio(dev)
}

// requestReset is the i8042's reset line. Linux pulses it up to ten times,
// so it must be idempotent.
func (vm *VM) requestReset() {
	vm.resetOnce.Do(func() { close(vm.reset) })
}
