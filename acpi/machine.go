package acpi

import (
	"errors"
	"fmt"
)

// Machine is the plain description of a virtual machine that Build turns
// into ACPI tables. The VMM fills it from its memory and IRQ layout; the
// package assigns nothing itself.
type Machine struct {
	// CPUs lists the vCPUs in order; the first is the bootstrap processor.
	// CPU n gets ACPI processor UID n and the DSDT processor device Cnnn.
	CPUs []CPU

	LocalAPICAddr uint32 // the local APICs' MMIO base, 0xfee00000 on a PC
	IOAPIC        IOAPIC
	// DualPIC says the machine also has the PC's two 8259 PICs (MADT flag
	// PCAT_COMPAT): the OS masks them before it uses the IOAPIC.
	DualPIC bool
	// Overrides map ISA IRQs to other GSIs or other trigger modes than the
	// ISA default (edge, active high), as MADT interrupt source overrides.
	Overrides []Override

	// PCI is the PCI host bridge, or nil for a machine without PCI (then
	// there is no MCFG).
	PCI *PCIHostBridge

	// Serial lists the 16550 UARTs, COM1 first.
	Serial []SerialPort

	// VirtioMMIO lists the virtio-mmio transports, announced as LNRO0005
	// devices.
	VirtioMMIO []MMIODevice

	// Power is where the register block of the power device (power button
	// event, sleep control and status, reset; see Power) is decoded, and
	// the GSI of its power button interrupt. Every machine has one: it is
	// how the guest powers off and resets.
	Power PowerBlock

	// CMOSRTC is the PC's real-time clock, or nil for a machine without
	// one (FADT flag CMOS RTC Not Present).
	CMOSRTC *CMOSRTC

	// Legacy devices the OS may probe without ACPI describing them (FADT
	// IA-PC boot architecture flags).
	I8042 bool // an 8042 keyboard controller at ports 0x60/0x64
	VGA   bool // VGA ports and memory
}

// CMOSRTC is an MC146818-compatible clock with its index register at Port
// and its data register at Port+1. The DSDT describes it (RTC0, PNP0B00):
// on a hardware-reduced machine Linux sets up no legacy ISA interrupts, so
// the clock it registers without a description (IRQ 8) fails to probe.
// It is described without an interrupt, as glue's clock raises none: the
// OS runs it without alarms.
type CMOSRTC struct {
	Port uint16
}

// CPU is one vCPU.
type CPU struct {
	// APICID is its local APIC ID. IDs from 255 up (and CPUs from number
	// 255 up) get Processor Local x2APIC entries, the others Processor Local
	// APIC entries.
	APICID uint32
}

// IOAPIC is the I/O APIC.
type IOAPIC struct {
	ID      uint8
	Addr    uint32 // its MMIO base, 0xfec00000 on a PC
	GSIBase uint32 // the GSI of its pin 0
}

// Trigger is an interrupt's trigger mode in an Override.
type Trigger uint8

const (
	TriggerConforming Trigger = 0 // that of the bus: edge for ISA
	TriggerEdge       Trigger = 1
	TriggerLevel      Trigger = 3
)

// Polarity is an interrupt's polarity in an Override.
type Polarity uint8

const (
	PolarityConforming Polarity = 0 // that of the bus: active high for ISA
	ActiveHigh         Polarity = 1
	ActiveLow          Polarity = 3
)

// Override is an interrupt source override: ISA IRQ Source arrives at GSI.
type Override struct {
	Source   uint8
	GSI      uint32
	Trigger  Trigger
	Polarity Polarity
}

// Interrupt is a GSI a device raises, edge-triggered and active high unless
// Level or ActiveLow say otherwise.
type Interrupt struct {
	GSI       uint32
	Level     bool
	ActiveLow bool
}

// PCIHostBridge is PCI segment Segment, a root complex with buses
// [BusStart, BusEnd].
type PCIHostBridge struct {
	Segment          uint16
	BusStart, BusEnd uint8
	// ECAMBase is the address of bus 0's configuration space in the
	// memory-mapped (ECAM) configuration region, 1 MiB per bus, as MCFG
	// gives it; the region of buses [BusStart, BusEnd] is also declared as
	// a motherboard resource (PNP0C02), without which Linux ignores MCFG.
	ECAMBase uint64
	// ConfigPorts says the bridge also decodes configuration mechanism #1
	// at ports 0xcf8-0xcff.
	ConfigPorts bool
	// IOWindows are the port ranges forwarded to PCI (none for a machine
	// whose devices have no I/O BARs).
	IOWindows []IOWindow
	// Mem32 is the memory window below 4 GiB, Mem64 the one above RAM (a
	// zero Size leaves a window out).
	Mem32, Mem64 Window
	// Routes are the INTx routes of the _PRT.
	Routes []PCIRoute
}

// IOWindow is the port range [First, Last].
type IOWindow struct{ First, Last uint16 }

// Window is the address range [Base, Base+Size).
type Window struct{ Base, Size uint64 }

// PCIRoute routes interrupt pin Pin (0 = INTA# to 3 = INTD#) of every
// function of device Device (0-31) on bus BusStart to GSI. ACPI defines
// such a GSI as level-triggered, active low and shareable: the VMM must
// program and drive it so (and keep it off the ISA GSIs 0-15).
type PCIRoute struct {
	Device uint8
	Pin    uint8
	GSI    uint32
}

// SerialPort is a 16550 UART at ports [Port, Port+8) on ISA line IRQ.
type SerialPort struct {
	Port uint16
	IRQ  uint8
}

// MMIODevice is a virtio-mmio transport: Size bytes at Base, raising IRQ.
type MMIODevice struct {
	Base uint32
	Size uint32
	IRQ  Interrupt
}

// Space is the address space of the power device's register block.
type Space uint8

const (
	SystemMemory Space = 0 // MMIO
	SystemIO     Space = 1 // port I/O
)

// PowerBlock places the power device's registers: PowerBlockSize bytes at
// Base in Space. The device pulses GSI (edge-triggered, active high) when
// an event becomes pending.
type PowerBlock struct {
	Space Space
	Base  uint64
	GSI   uint32
}

// Limits of what the tables can describe.
const (
	maxCPUs       = 4096 // processor device names Cnnn are three hex digits
	maxSerial     = 4    // COM1-COM4
	maxVirtioMMIO = 4096 // device names Vnnn are three hex digits
	maxPCIDevice  = 31
	maxPCIPin     = 3
	ecamBusSize   = 1 << 20
)

func (m *Machine) validate() error {
	if len(m.CPUs) == 0 || len(m.CPUs) > maxCPUs {
		return fmt.Errorf("%d CPUs, want 1 to %d", len(m.CPUs), maxCPUs)
	}
	seen := make(map[uint32]bool, len(m.CPUs))
	for i, c := range m.CPUs {
		if c.APICID == 0xffff_ffff {
			return fmt.Errorf("CPU %d: APIC ID %#x is the broadcast ID", i, c.APICID)
		}
		if seen[c.APICID] {
			return fmt.Errorf("CPU %d: APIC ID %d used twice", i, c.APICID)
		}
		seen[c.APICID] = true
	}
	if m.LocalAPICAddr == 0 || m.IOAPIC.Addr == 0 {
		return errors.New("local APIC or IOAPIC address is zero")
	}
	for i, o := range m.Overrides {
		if o.Source > 15 || (o.Trigger != TriggerConforming && o.Trigger != TriggerEdge && o.Trigger != TriggerLevel) ||
			(o.Polarity != PolarityConforming && o.Polarity != ActiveHigh && o.Polarity != ActiveLow) {
			return fmt.Errorf("override %d: IRQ %d, trigger %d, polarity %d: want an ISA IRQ and known modes", i, o.Source, o.Trigger, o.Polarity)
		}
	}
	if m.PCI != nil {
		if err := m.PCI.validate(); err != nil {
			return fmt.Errorf("PCI: %w", err)
		}
	}
	if len(m.Serial) > maxSerial {
		return fmt.Errorf("%d serial ports, at most %d", len(m.Serial), maxSerial)
	}
	for i, s := range m.Serial {
		if s.IRQ > 15 || s.Port > 0xffff-7 {
			return fmt.Errorf("serial port %d: port %#x IRQ %d: want 8 ports and an ISA IRQ", i, s.Port, s.IRQ)
		}
	}
	if len(m.VirtioMMIO) > maxVirtioMMIO {
		return fmt.Errorf("%d virtio-mmio devices, at most %d", len(m.VirtioMMIO), maxVirtioMMIO)
	}
	for i, d := range m.VirtioMMIO {
		if d.Size == 0 || uint64(d.Base)+uint64(d.Size) > 1<<32 {
			return fmt.Errorf("virtio-mmio device %d: %#x+%#x: want a non-empty range below 4 GiB", i, d.Base, d.Size)
		}
	}
	switch p := m.Power; {
	case p.Space != SystemMemory && p.Space != SystemIO:
		return fmt.Errorf("power block: unknown address space %d", p.Space)
	case p.Base == 0:
		return errors.New("power block: base address is zero")
	case p.Space == SystemIO && p.Base > 0x10000-PowerBlockSize:
		return fmt.Errorf("power block: port %#x: beyond the I/O space", p.Base)
	case p.Base > ^uint64(0)-PowerBlockSize:
		return fmt.Errorf("power block: address %#x: wraps", p.Base)
	}
	return nil
}

func (p *PCIHostBridge) validate() error {
	if p.BusStart > p.BusEnd {
		return fmt.Errorf("bus range %d-%d is empty", p.BusStart, p.BusEnd)
	}
	if p.ECAMBase%ecamBusSize != 0 || p.ECAMBase > ^uint64(0)-256*ecamBusSize {
		return fmt.Errorf("ECAM base %#x: want 1 MiB aligned, room for 256 buses", p.ECAMBase)
	}
	for i, w := range p.IOWindows {
		if w.First > w.Last {
			return fmt.Errorf("I/O window %d: %#x-%#x is empty", i, w.First, w.Last)
		}
	}
	if w := p.Mem32; w.Size != 0 && (w.Base > 1<<32 || w.Size > 1<<32-w.Base) {
		return fmt.Errorf("32-bit window %#x+%#x: crosses 4 GiB", w.Base, w.Size)
	}
	if w := p.Mem64; w.Size != 0 && w.Base > ^uint64(0)-(w.Size-1) {
		return fmt.Errorf("64-bit window %#x+%#x: wraps", w.Base, w.Size)
	}
	for i, r := range p.Routes {
		if r.Device > maxPCIDevice || r.Pin > maxPCIPin {
			return fmt.Errorf("route %d: device %d pin %d: want device 0-31, pin 0-3", i, r.Device, r.Pin)
		}
	}
	return nil
}
