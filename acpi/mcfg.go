package acpi

import "encoding/binary"

// MCFG (PCI Firmware Specification 3.3 §4.1.2): where ECAM is.
const (
	mcfgRevision   = 1
	mcfgEntriesAt  = 44 // after the header and 8 reserved bytes
	mcfgEntrySize  = 16
	mcfgAllocation = mcfgEntriesAt + mcfgEntrySize
)

func buildMCFG(p *PCIHostBridge) []byte {
	t := newTable("MCFG", mcfgRevision, mcfgAllocation)
	e := t[mcfgEntriesAt:]
	binary.LittleEndian.PutUint64(e[0:], p.ECAMBase)
	binary.LittleEndian.PutUint16(e[8:], p.Segment)
	e[10], e[11] = p.BusStart, p.BusEnd
	seal(t)
	return t
}
