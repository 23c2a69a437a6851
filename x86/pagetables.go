package x86

import (
	"encoding/binary"

	"github.com/gluevmm/glue/guestmem"
)

// The tables the CPU walks from its first instruction in long mode: the
// identity page tables, the GDT and an empty IDT.

const (
	pageTableSize    = 4096
	pageTableEntries = pageTableSize / 8
	largePageSize    = 2 << 20 // a page directory entry with PS set maps 2 MiB

	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	ptePageSize = 1 << 7 // PS: the entry maps a page instead of pointing to a table
)

// One PDPT has room for the page directories of 512 GiB; this fails to
// compile if IdentityMapGiB ever outgrows it.
const _ = uint(pageTableEntries - IdentityMapGiB)

// BootIDTSize is the size of the empty IDT at IDTAddr: one 64-bit gate,
// zeroed (not present). IDTR.limit is BootIDTSize-1. Interrupts are off at
// entry, and any exception before the kernel loads its own IDT ends in a
// triple fault, which KVM reports as a shutdown exit.
const BootIDTSize = 16

// WritePageTables writes page tables that identity-map the first
// IdentityMapGiB GiB with 2 MiB pages: one PML4 at PML4Addr, one PDPT at
// PDPTAddr and IdentityMapGiB page directories from PDAddr. 1 GiB pages are
// deliberately not used: some KVM hosts (PVM) triple-fault on them.
// CR3 is PML4Addr.
func WritePageTables(mem *guestmem.Memory) error {
	return writeBlobs(mem, pageTableBlobs()...)
}

func pageTableBlobs() []blob {
	le := binary.LittleEndian
	pml4 := make([]byte, pageTableSize)
	le.PutUint64(pml4, uint64(PDPTAddr)|ptePresent|pteWritable)

	pdpt := make([]byte, pageTableSize)
	pds := make([]byte, IdentityMapGiB*pageTableSize)
	for gib := range IdentityMapGiB {
		pd := PDAddr + guestmem.Addr(gib*pageTableSize)
		le.PutUint64(pdpt[gib*8:], uint64(pd)|ptePresent|pteWritable)
		for i := range pageTableEntries {
			page := uint64(gib*pageTableEntries+i) * largePageSize
			le.PutUint64(pds[(gib*pageTableEntries+i)*8:], page|ptePresent|pteWritable|ptePageSize)
		}
	}
	return []blob{
		{what: "PML4", addr: PML4Addr, data: pml4},
		{what: "PDPT", addr: PDPTAddr, data: pdpt},
		{what: "page directories", addr: PDAddr, data: pds},
	}
}

// WriteDescriptorTables writes BootGDT at GDTAddr and an empty IDT of
// BootIDTSize bytes at IDTAddr.
func WriteDescriptorTables(mem *guestmem.Memory) error {
	return writeBlobs(mem, descriptorTableBlobs()...)
}

func descriptorTableBlobs() []blob {
	gdt := make([]byte, 8*len(BootGDT))
	for i, d := range BootGDT {
		binary.LittleEndian.PutUint64(gdt[i*8:], d)
	}
	return []blob{
		{what: "GDT", addr: GDTAddr, data: gdt},
		{what: "IDT", addr: IDTAddr, data: make([]byte, BootIDTSize)},
	}
}
