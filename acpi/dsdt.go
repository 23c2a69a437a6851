package acpi

import (
	"fmt"

	"github.com/gluevmm/glue/acpi/aml"
)

const (
	dsdtRevision = 2 // integers are 64 bits wide

	pciConfigPorts      = 0xcf8
	pciConfigPortLen    = 8
	serialPorts         = 8
	rtcPort             = 0x70 // index and data: 0x70, 0x71
	rtcPorts            = 2
	rtcIRQ              = 8
	notifyButtonPressed = 0x80 // to a power button device: it was pressed
)

// buildDSDT returns the DSDT: the sleep state, then the devices under \_SB.
func buildDSDT(m *Machine) ([]byte, error) {
	var devices []aml.Term
	for i := range m.CPUs {
		devices = append(devices, aml.Device(fmt.Sprintf("C%03X", i),
			aml.Name("_HID", aml.String("ACPI0007")),
			aml.Name("_UID", aml.Int(uint64(i)))))
	}
	if m.PCI != nil {
		devices = append(devices, pciHostBridge(m.PCI), ecamReservation(m.PCI))
	}
	for i, s := range m.Serial {
		devices = append(devices, aml.Device(fmt.Sprintf("COM%d", i+1),
			aml.Name("_HID", aml.EISAIDTerm("PNP0501")),
			aml.Name("_UID", aml.Int(uint64(i+1))),
			aml.Name("_CRS", aml.ResourceTemplate(
				aml.IO(s.Port, s.Port, 1, serialPorts),
				aml.IRQNoFlags(s.IRQ)))))
	}
	if m.CMOSRTC {
		devices = append(devices, cmosRTC())
	}
	for i, d := range m.VirtioMMIO {
		devices = append(devices, aml.Device(fmt.Sprintf("V%03X", i),
			aml.Name("_HID", aml.String("LNRO0005")),
			aml.Name("_UID", aml.Int(uint64(i))),
			aml.Name("_CRS", aml.ResourceTemplate(
				aml.Memory32Fixed(true, d.Base, d.Size),
				interrupt(d.IRQ)))))
	}
	devices = append(devices, powerButton(), genericEventDevice(m.Power))

	body, err := aml.Encode(
		// SLP_TYPa, SLP_TYPb (unused when hardware-reduced), reserved.
		aml.Name(`\_S5`, aml.Package(aml.Int(SleepTypeS5), aml.Int(0), aml.Int(0), aml.Int(0))),
		aml.Scope(`\_SB`, devices...),
	)
	if err != nil {
		return nil, fmt.Errorf("DSDT: %w", err)
	}
	t := newTable("DSDT", dsdtRevision, HeaderSize+len(body))
	copy(t[HeaderSize:], body)
	seal(t)
	return t, nil
}

func interrupt(irq Interrupt) aml.Descriptor {
	trigger, polarity := aml.Edge, aml.ActiveHigh
	if irq.Level {
		trigger = aml.Level
	}
	if irq.ActiveLow {
		polarity = aml.ActiveLow
	}
	return aml.Interrupt(trigger, polarity, irq.GSI)
}

// pciHostBridge is PCI0, the PCIe root complex (PNP0A08, compatible with
// the conventional PCI host bridge PNP0A03).
func pciHostBridge(p *PCIHostBridge) aml.Term {
	crs := []aml.Descriptor{aml.WordAddress(aml.AddressSpace{
		Type: aml.BusNumberRange, Min: uint64(p.BusStart), Max: uint64(p.BusEnd),
	})}
	if p.ConfigPorts {
		crs = append(crs, aml.IO(pciConfigPorts, pciConfigPorts, 1, pciConfigPortLen))
	}
	for _, w := range p.IOWindows {
		crs = append(crs, aml.WordAddress(aml.AddressSpace{
			Type: aml.IORange, Min: uint64(w.First), Max: uint64(w.Last),
		}))
	}
	if w := p.Mem32; w.Size != 0 {
		crs = append(crs, aml.DWordAddress(aml.AddressSpace{
			Type: aml.MemoryRange, Min: w.Base, Max: w.Base + w.Size - 1,
		}))
	}
	if w := p.Mem64; w.Size != 0 {
		crs = append(crs, aml.QWordAddress(aml.AddressSpace{
			Type: aml.MemoryRange, Min: w.Base, Max: w.Base + w.Size - 1, Cacheable: true,
		}))
	}
	routes := make([]aml.Term, len(p.Routes))
	for i, r := range p.Routes {
		// Address: device in the high word, 0xffff for "every function";
		// source 0: the index is a GSI.
		routes[i] = aml.Package(aml.Int(uint64(r.Device)<<16|0xffff), aml.Int(uint64(r.Pin)),
			aml.Int(0), aml.Int(uint64(r.GSI)))
	}
	return aml.Device("PCI0",
		aml.Name("_HID", aml.EISAIDTerm("PNP0A08")),
		aml.Name("_CID", aml.EISAIDTerm("PNP0A03")),
		aml.Name("_SEG", aml.Int(uint64(p.Segment))),
		aml.Name("_BBN", aml.Int(uint64(p.BusStart))),
		aml.Name("_UID", aml.Int(uint64(p.Segment))),
		aml.Name("_CRS", aml.ResourceTemplate(crs...)),
		aml.Name("_PRT", aml.Package(routes...)),
	)
}

// ecamReservation declares the ECAM region of the bridge's buses as a
// motherboard resource (PNP0C02): Linux uses MCFG's region only when
// firmware reserves it so.
func ecamReservation(p *PCIHostBridge) aml.Term {
	base := p.ECAMBase + uint64(p.BusStart)*ecamBusSize
	size := (uint64(p.BusEnd) - uint64(p.BusStart) + 1) * ecamBusSize
	var d aml.Descriptor
	if base+size <= 1<<32 {
		d = aml.Memory32Fixed(false, uint32(base), uint32(size))
	} else {
		d = aml.QWordAddress(aml.AddressSpace{Type: aml.MemoryRange, Consumer: true, Min: base, Max: base + size - 1})
	}
	return aml.Device("MRES",
		aml.Name("_HID", aml.EISAIDTerm("PNP0C02")),
		aml.Name("_UID", aml.Int(0)),
		aml.Name("_CRS", aml.ResourceTemplate(d)))
}

// cmosRTC is RTC, the CMOS clock (PNP0B00). On a hardware-reduced
// machine Linux sets up no legacy ISA interrupt by itself: rtc_cmos gets
// IRQ 8 only through this device's _CRS, and without it fails to probe.
func cmosRTC() aml.Term {
	return aml.Device("RTC",
		aml.Name("_HID", aml.EISAIDTerm("PNP0B00")),
		aml.Name("_CRS", aml.ResourceTemplate(
			aml.IO(rtcPort, rtcPort, 1, rtcPorts),
			aml.IRQNoFlags(rtcIRQ))))
}

// powerButton is PWRB, the control-method power button (PNP0C0C) that the
// GED notifies: a hardware-reduced machine has no fixed-feature button.
func powerButton() aml.Term {
	return aml.Device("PWRB",
		aml.Name("_HID", aml.EISAIDTerm("PNP0C0C")),
		aml.Name("_UID", aml.Int(0)))
}

// genericEventDevice is GED0 (ACPI0013): Linux's GED driver requests every
// interrupt of its _CRS and runs _EVT(GSI) when one fires; _EVT reads (and
// so clears) the event register and notifies the devices of the events.
func genericEventDevice(p PowerBlock) aml.Term {
	space := aml.SystemMemory
	if p.Space == SystemIO {
		space = aml.SystemIO
	}
	return aml.Device("GED0",
		aml.Name("_HID", aml.String("ACPI0013")),
		aml.Name("_UID", aml.Int(0)),
		aml.Name("_CRS", aml.ResourceTemplate(aml.Interrupt(aml.Edge, aml.ActiveHigh, p.GSI))),
		aml.OperationRegion("EREG", space, p.Base+RegEvent, 4),
		aml.Field("EREG", aml.DWordAcc, aml.WriteAsZeros, aml.FieldUnit{Name: "ESEL", Bits: 32}),
		aml.Method("_EVT", 1, true,
			aml.Store(aml.Path("ESEL"), aml.Local(0)),
			aml.If(aml.LEqual(aml.And(aml.Local(0), aml.Int(EventPowerButton), nil), aml.Int(EventPowerButton)),
				aml.Notify(aml.Path(`\_SB.PWRB`), aml.Int(notifyButtonPressed))),
		),
	)
}
