package acpi

import "encoding/binary"

// MADT (ACPI 6.5 §5.2.12): the interrupt controllers.
const (
	madtRevision    = 5
	madtFlagPCAT    = 1 << 0 // dual 8259 PICs present
	offMADTLAPIC    = 36
	offMADTFlags    = 40
	madtEntriesFrom = 44

	madtLocalAPIC         = 0 // Processor Local APIC, 8 bytes
	madtIOAPIC            = 1 // 12 bytes
	madtOverride          = 2 // Interrupt Source Override, 10 bytes
	madtLocalAPICNMI      = 4 // 6 bytes
	madtLocalX2APIC       = 9 // Processor Local x2APIC, 16 bytes
	madtLocalX2APICNMI    = 10
	madtLocalAPICLen      = 8
	madtIOAPICLen         = 12
	madtOverrideLen       = 10
	madtLocalAPICNMILen   = 6
	madtLocalX2APICLen    = 16
	madtLocalX2APICNMILen = 12

	lapicEnabled = 1 << 0
	// The NMI input of every local APIC is LINT1, edge-triggered and
	// active high as on a PC.
	nmiLINT       = 1
	nmiFlags      = uint16(TriggerEdge)<<2 | uint16(ActiveHigh)
	allProcessors = 0xff
)

// usesX2APIC says whether CPU i with APIC ID id needs an x2APIC entry:
// 0xff is the xAPIC broadcast ID and UIDs in a Local APIC entry are 8 bits.
func usesX2APIC(i int, id uint32) bool { return id >= 0xff || i >= 0xff }

func buildMADT(m *Machine) []byte {
	size := madtEntriesFrom + madtIOAPICLen + len(m.Overrides)*madtOverrideLen + madtLocalAPICNMILen
	anyX2 := false
	for i, c := range m.CPUs {
		if usesX2APIC(i, c.APICID) {
			size += madtLocalX2APICLen
			anyX2 = true
		} else {
			size += madtLocalAPICLen
		}
	}
	if anyX2 {
		size += madtLocalX2APICNMILen
	}
	t := newTable("APIC", madtRevision, size)
	le := binary.LittleEndian
	le.PutUint32(t[offMADTLAPIC:], m.LocalAPICAddr)
	if m.DualPIC {
		le.PutUint32(t[offMADTFlags:], madtFlagPCAT)
	}
	e := t[madtEntriesFrom:]
	for i, c := range m.CPUs {
		if usesX2APIC(i, c.APICID) {
			e[0], e[1] = madtLocalX2APIC, madtLocalX2APICLen
			le.PutUint32(e[4:], c.APICID)
			le.PutUint32(e[8:], lapicEnabled)
			le.PutUint32(e[12:], uint32(i))
			e = e[madtLocalX2APICLen:]
			continue
		}
		e[0], e[1] = madtLocalAPIC, madtLocalAPICLen
		e[2], e[3] = byte(i), byte(c.APICID)
		le.PutUint32(e[4:], lapicEnabled)
		e = e[madtLocalAPICLen:]
	}
	e[0], e[1], e[2] = madtIOAPIC, madtIOAPICLen, m.IOAPIC.ID
	le.PutUint32(e[4:], m.IOAPIC.Addr)
	le.PutUint32(e[8:], m.IOAPIC.GSIBase)
	e = e[madtIOAPICLen:]
	for _, o := range m.Overrides {
		e[0], e[1], e[2], e[3] = madtOverride, madtOverrideLen, 0, o.Source // bus 0: ISA
		le.PutUint32(e[4:], o.GSI)
		le.PutUint16(e[8:], uint16(o.Trigger)<<2|uint16(o.Polarity))
		e = e[madtOverrideLen:]
	}
	e[0], e[1], e[2] = madtLocalAPICNMI, madtLocalAPICNMILen, allProcessors
	le.PutUint16(e[3:], nmiFlags)
	e[5] = nmiLINT
	e = e[madtLocalAPICNMILen:]
	if anyX2 {
		e[0], e[1] = madtLocalX2APICNMI, madtLocalX2APICNMILen
		le.PutUint16(e[2:], nmiFlags)
		le.PutUint32(e[4:], 0xffff_ffff) // all processors
		e[8] = nmiLINT
	}
	seal(t)
	return t
}
