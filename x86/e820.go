package x86

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gluevmm/glue/guestmem"
)

// E820Type is the kind of an address range in the BIOS e820 memory map. The
// PVH memory map uses the same numbers.
type E820Type uint32

// The e820 types glue reports.
const (
	E820RAM      E820Type = 1 // usable RAM
	E820Reserved E820Type = 2 // RAM the guest must not use (EBDA, BIOS area)
)

// String returns the name Linux prints for the type in its e820 map.
func (t E820Type) String() string {
	switch t {
	case E820RAM:
		return "usable"
	case E820Reserved:
		return "reserved"
	}
	return fmt.Sprintf("type %d", uint32(t))
}

// E820Entry is one range of the memory map.
type E820Entry struct {
	Addr guestmem.Addr
	Size uint64
	Type E820Type
}

// MaxE820Entries is the capacity of boot_params.e820_table; the PVH memory
// map is held to the same limit.
const MaxE820Entries = 128

// E820Map returns the memory map for the given RAM spans (as from RAMSpans,
// sorted by address): the first span must start at 0 and reach past
// HighMemStart. The legacy area [EBDAStart, HighMemStart) is reported
// reserved: the MP table and the ACPI tables live there, and real PCs keep
// the BIOS in it. Every other byte of RAM is usable. The reserved spans,
// which must lie outside RAM (the PCI ECAM region), are reported reserved
// too, the whole map in address order.
func E820Map(ram []guestmem.Span, reserved ...guestmem.Span) ([]E820Entry, error) {
	if len(ram) == 0 || ram[0].Base != 0 || ram[0].Size <= uint64(HighMemStart) {
		return nil, fmt.Errorf("x86: e820: the first RAM span must start at 0 and extend past %#x", HighMemStart)
	}
	low := ram[0]
	entries := []E820Entry{
		{Addr: 0, Size: uint64(EBDAStart), Type: E820RAM},
		{Addr: EBDAStart, Size: uint64(HighMemStart - EBDAStart), Type: E820Reserved},
		{Addr: HighMemStart, Size: low.Size - uint64(HighMemStart), Type: E820RAM},
	}
	prevEnd := low.End()
	for _, s := range ram[1:] {
		if s.Size == 0 || s.Base < prevEnd || s.End() < s.Base {
			return nil, fmt.Errorf("x86: e820: RAM span %#x+%#x is empty, out of order or overlapping", s.Base, s.Size)
		}
		entries = append(entries, E820Entry{Addr: s.Base, Size: s.Size, Type: E820RAM})
		prevEnd = s.End()
	}
	for _, r := range reserved {
		if r.Size == 0 || r.End() < r.Base {
			return nil, fmt.Errorf("x86: e820: reserved span %#x+%#x is empty or wraps", r.Base, r.Size)
		}
		for _, s := range ram {
			if r.Base < s.End() && s.Base < r.End() {
				return nil, fmt.Errorf("x86: e820: reserved span %#x+%#x overlaps RAM %#x+%#x", r.Base, r.Size, s.Base, s.Size)
			}
		}
		entries = append(entries, E820Entry{Addr: r.Base, Size: r.Size, Type: E820Reserved})
	}
	slices.SortFunc(entries, func(a, b E820Entry) int { return cmp.Compare(a.Addr, b.Addr) })
	if len(entries) > MaxE820Entries {
		return nil, fmt.Errorf("x86: e820: %d entries, at most %d fit", len(entries), MaxE820Entries)
	}
	return entries, nil
}
