package vmm

import (
	"log/slog"
	"time"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/i8042"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/rtc"
	"github.com/gluevmm/glue/serial"
	"github.com/gluevmm/glue/x86"
)

// The device manager's legacy PC devices, at the ports and IRQs of
// x86/layout.go.

// addLegacyDevices puts the PC devices every guest expects on the port bus:
// COM1 (returned: it takes console input unless a virtio console does), the
// i8042 (whose reset line ends the VM), the CMOS RTC and a sink for the
// POST-code port.
func (dm *deviceManager) addLegacyDevices() (*serial.UART, error) {
	uart := serial.New(dm.output, dm.irqLine(x86.IRQCOM1))
	kbd := i8042.New(i8042.Config{
		Reset:       dm.requestReset,
		KeyboardIRQ: dm.irqLine(x86.IRQKeyboard),
		AuxIRQ:      dm.irqLine(x86.IRQMouse),
	})
	var low, high uint64
	for _, r := range dm.mem.Regions() {
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
		{x86.COM1Port, x86.UARTPorts, uart},
		{x86.I8042Data, 1, kbd.DataPort()},
		{x86.I8042Cmd, 1, kbd.CommandPort()},
		{x86.RTCIndex, 2, cmos},
		{x86.DebugPort, 1, sink{}},
	} {
		if err := dm.pio.Insert(d.port, d.size, d.dev); err != nil {
			return nil, err
		}
	}
	return uart, nil
}

// requestReset is the i8042's reset line. Linux pulses it up to ten times,
// so it must be idempotent.
func (dm *deviceManager) requestReset() {
	dm.resetOnce.Do(func() { close(dm.reset) })
}

// irqLine returns the interrupt output of a legacy device on irq.
func (dm *deviceManager) irqLine(irq uint32) irqLine { return irqLine{dm.vm, irq, dm.log} }

// irqLine adapts a device's interrupt output to KVM_IRQ_LINE. The in-kernel
// PIC and IOAPIC see the level changes and detect edges themselves.
type irqLine struct {
	vm  *kvm.VM
	irq uint32
	log *slog.Logger
}

func (l irqLine) SetLevel(high bool) {
	if err := l.vm.IRQLine(l.irq, high); err != nil {
		l.log.Warn("set interrupt line", "irq", l.irq, "err", err)
	}
}

// sink is a port that accepts writes and reads as zero: the POST-code port
// Linux writes for I/O delays, kept off the "unhandled" debug log.
type sink struct{}

func (sink) Read(_ uint64, data []byte) { clear(data) }
func (sink) Write(uint64, []byte)       {}
