package acpi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Tables are the ACPI tables of a machine before they have addresses. The
// XSDT and the RSDP, which hold the other tables' addresses, and the FADT's
// X_DSDT are made by Layout.
type Tables struct {
	FADT, DSDT, MADT []byte
	MCFG             []byte // nil without PCI
}

// Build returns the tables that describe m.
func Build(m Machine) (*Tables, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("acpi: %w", err)
	}
	dsdt, err := buildDSDT(&m)
	if err != nil {
		return nil, fmt.Errorf("acpi: %w", err)
	}
	t := &Tables{FADT: buildFADT(&m), DSDT: dsdt, MADT: buildMADT(&m)}
	if m.PCI != nil {
		t.MCFG = buildMCFG(m.PCI)
	}
	return t, nil
}

// Where the OS finds the RSDP (ACPI 6.5 §5.2.5.1). Linux takes its address
// from boot_params.acpi_rsdp_addr (zero page offset 0x070) when it is
// non-zero; otherwise, like other OSes on a BIOS machine, it scans the
// 16-byte boundaries of [ScanAreaStart, ScanAreaEnd) (and of the EBDA's
// first KiB) for the signature. Layout at a base in the scan area serves
// both: the RSDP comes first in the image.
const (
	ScanAreaStart = 0xe0000
	ScanAreaEnd   = 0x100000
	RSDPAlign     = 16
	// ZeroPageRSDPOffset is the offset of acpi_rsdp_addr (u64) in Linux's
	// struct boot_params.
	ZeroPageRSDPOffset = 0x070
)

// RSDP (ACPI 6.5 §5.2.5.3), revision 2: 36 bytes.
const (
	RSDPSize           = 36
	rsdpSignature      = "RSD PTR "
	rsdpRevision       = 2
	rsdpV1Size         = 20 // what the first checksum covers
	offRSDPChecksum    = 8
	offRSDPRevision    = 15
	offRSDPLength      = 20
	offRSDPXSDT        = 24
	offRSDPExtChecksum = 32
	xsdtRevision       = 1
	tableAlign         = 8
)

// Placed is a table's signature, guest-physical address and size.
type Placed struct {
	Signature string
	Addr      uint64
	Size      int
}

// Image is the tables laid out in guest memory.
type Image struct {
	RSDPAddr uint64 // put into boot_params.acpi_rsdp_addr
	// Blob holds the bytes of [Base, Base+len(Blob)); the VMM copies it
	// into guest RAM and reports the range reserved (or ACPI) in e820.
	Base   uint64
	Blob   []byte
	Tables []Placed // RSDP first, then XSDT, FADT, DSDT, MADT, MCFG
}

// Size returns how many bytes Layout's blob takes, for the VMM to check
// against the room it has (the scan area is 128 KiB; a few hundred vCPUs
// and devices take some tens of KiB).
func (t *Tables) Size() int {
	n := 0
	for _, b := range t.layoutOrder(make([]byte, xsdtSize(t))) {
		n = alignUp(n, tableAlign) + len(b.data)
	}
	return n
}

type namedTable struct {
	signature string
	data      []byte
}

// layoutOrder lists the tables in blob order, with xsdt standing for the
// XSDT; the RSDP goes first so that a base in the scan area makes it
// findable.
func (t *Tables) layoutOrder(xsdt []byte) []namedTable {
	order := []namedTable{
		{"RSDP", make([]byte, RSDPSize)}, {"XSDT", xsdt},
		{"FACP", t.FADT}, {"DSDT", t.DSDT}, {"APIC", t.MADT},
	}
	if t.MCFG != nil {
		order = append(order, namedTable{"MCFG", t.MCFG})
	}
	return order
}

func xsdtSize(t *Tables) int {
	n := 2 // FADT, MADT
	if t.MCFG != nil {
		n++
	}
	return HeaderSize + 8*n
}

func alignUp(n, a int) int { return (n + a - 1) / a * a }

// Layout places the tables at base (16-byte aligned), each 8-byte aligned,
// and fills in the addresses: the RSDP's XSDT address, the XSDT's entries
// and the FADT's X_DSDT. The Tables are not modified.
func (t *Tables) Layout(base uint64) (*Image, error) {
	if base%RSDPAlign != 0 {
		return nil, fmt.Errorf("acpi: layout at %#x: want %d-byte alignment", base, RSDPAlign)
	}
	if t.FADT == nil || t.DSDT == nil || t.MADT == nil {
		return nil, errors.New("acpi: layout: missing FADT, DSDT or MADT")
	}
	size := uint64(t.Size())
	if base > ^uint64(0)-size {
		return nil, fmt.Errorf("acpi: layout at %#x: %d bytes wrap", base, size)
	}
	img := &Image{RSDPAddr: base, Base: base, Blob: make([]byte, size)}
	off := 0
	addr := map[string]uint64{}
	for _, nt := range t.layoutOrder(make([]byte, xsdtSize(t))) {
		off = alignUp(off, tableAlign)
		addr[nt.signature] = base + uint64(off)
		img.Tables = append(img.Tables, Placed{nt.signature, base + uint64(off), len(nt.data)})
		copy(img.Blob[off:], nt.data)
		off += len(nt.data)
	}
	at := func(sig string) []byte {
		for _, p := range img.Tables {
			if p.Signature == sig {
				o := p.Addr - base
				return img.Blob[o : o+uint64(p.Size)]
			}
		}
		return nil
	}
	le := binary.LittleEndian

	fadt := at("FACP")
	le.PutUint64(fadt[offFADTXDSDT:], addr["DSDT"])
	seal(fadt)

	xsdt := at("XSDT")
	copy(xsdt, newTable("XSDT", xsdtRevision, len(xsdt)))
	entries := []string{"FACP", "APIC"}
	if t.MCFG != nil {
		entries = append(entries, "MCFG")
	}
	for i, sig := range entries {
		le.PutUint64(xsdt[HeaderSize+8*i:], addr[sig])
	}
	seal(xsdt)

	rsdp := at("RSDP")
	copy(rsdp, rsdpSignature)
	copy(rsdp[9:15], oemID[:])
	rsdp[offRSDPRevision] = rsdpRevision
	le.PutUint32(rsdp[offRSDPLength:], RSDPSize)
	le.PutUint64(rsdp[offRSDPXSDT:], addr["XSDT"])
	rsdp[offRSDPChecksum] = -sum(rsdp[:rsdpV1Size])
	rsdp[offRSDPExtChecksum] = -sum(rsdp)
	return img, nil
}

// FindRSDP scans area, which starts at a 16-byte aligned address, for an
// RSDP as an OS does: on 16-byte boundaries, the signature, a valid
// checksum over the first 20 bytes and, from revision 2, a length that fits
// and a valid extended checksum. It returns the RSDP's offset in area.
func FindRSDP(area []byte) (int, bool) {
	for off := 0; off+rsdpV1Size <= len(area); off += RSDPAlign {
		r := area[off:]
		if string(r[:len(rsdpSignature)]) != rsdpSignature || sum(r[:rsdpV1Size]) != 0 {
			continue
		}
		if r[offRSDPRevision] < rsdpRevision {
			return off, true
		}
		if len(r) < RSDPSize {
			continue
		}
		n := binary.LittleEndian.Uint32(r[offRSDPLength:])
		if n >= RSDPSize && uint64(n) <= uint64(len(r)) && sum(r[:n]) == 0 {
			return off, true
		}
	}
	return 0, false
}
