package x86

import (
	"testing"

	"github.com/gluevmm/glue/guestmem"
)

// translate walks the 4-level page tables at cr3 as the CPU does and returns
// the physical address for virt, or false if it is not mapped.
func translate(t *testing.T, mem *guestmem.Memory, cr3, virt uint64) (uint64, bool) {
	t.Helper()
	const addrMask = 0x000f_ffff_ffff_f000
	table := cr3
	for level, shift := range []uint{39, 30, 21, 12} {
		entry, err := mem.ReadU64(guestmem.Addr(table + (virt>>shift&511)*8))
		if err != nil {
			t.Fatalf("level %d table %#x: %v", 4-level, table, err)
		}
		if entry&ptePresent == 0 {
			return 0, false
		}
		if entry&ptePageSize != 0 {
			if shift != 21 {
				t.Fatalf("PS set in a level-%d entry %#x for %#x: only 2 MiB pages are allowed", 4-level, entry, virt)
			}
			return entry&addrMask&^(1<<shift-1) | virt&(1<<shift-1), true
		}
		table = entry & addrMask
	}
	return table | virt&0xfff, true
}

func TestWritePageTablesIdentityMaps(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 512<<20)
	// Stale bytes in the tables must not survive.
	if err := mem.WriteU64(PML4Addr+8, 0xdead_b00f); err != nil {
		t.Fatal(err)
	}
	if err := WritePageTables(mem); err != nil {
		t.Fatal(err)
	}
	const gib = 1 << 30
	mapped := []uint64{0, 0x1234, 0x1f_ffff, 0x20_0000, 0x7654_3210, 3 * gib, uint64(IOAPICAddr), uint64(LAPICAddr) + 0x300, IdentityMapGiB*gib - 1}
	for _, virt := range mapped {
		phys, ok := translate(t, mem, uint64(PML4Addr), virt)
		if !ok || phys != virt {
			t.Errorf("%#x maps to %#x (mapped %v), want itself", virt, phys, ok)
		}
	}
	for _, virt := range []uint64{IdentityMapGiB * gib, 512 * gib, 0xffff_ffff_8000_0000} {
		if phys, ok := translate(t, mem, uint64(PML4Addr), virt); ok {
			t.Errorf("%#x maps to %#x, want unmapped", virt, phys)
		}
	}
}

func TestWritePageTablesEntries(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 512<<20)
	if err := WritePageTables(mem); err != nil {
		t.Fatal(err)
	}
	read := func(addr guestmem.Addr) uint64 {
		v, err := mem.ReadU64(addr)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for i := range pageTableEntries {
		var wantPML4, wantPDPT uint64
		if i == 0 {
			wantPML4 = uint64(PDPTAddr) | 3
		}
		if i < IdentityMapGiB {
			wantPDPT = uint64(PDAddr) + uint64(i)*4096 | 3
		}
		if got := read(PML4Addr + guestmem.Addr(i*8)); got != wantPML4 {
			t.Errorf("PML4[%d] = %#x, want %#x", i, got, wantPML4)
		}
		if got := read(PDPTAddr + guestmem.Addr(i*8)); got != wantPDPT {
			t.Errorf("PDPT[%d] = %#x, want %#x", i, got, wantPDPT)
		}
	}
	for i := range IdentityMapGiB * pageTableEntries {
		want := uint64(i)<<21 | 0x83 // present, writable, 2 MiB page
		if got := read(PDAddr + guestmem.Addr(i*8)); got != want {
			t.Fatalf("PD entry %d = %#x, want %#x", i, got, want)
		}
	}
}

func TestWriteDescriptorTables(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 64<<20)
	if err := mem.WriteU64(IDTAddr, ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	if err := WriteDescriptorTables(mem); err != nil {
		t.Fatal(err)
	}
	for i, want := range BootGDT {
		got, err := mem.ReadU64(GDTAddr + guestmem.Addr(8*i))
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("GDT[%d] = %#x, want %#x", i, got, want)
		}
	}
	idt := make([]byte, BootIDTSize)
	if err := mem.ReadAt(idt, IDTAddr); err != nil {
		t.Fatal(err)
	}
	for i, b := range idt {
		if b != 0 {
			t.Fatalf("IDT byte %d = %#x, want an empty IDT", i, b)
		}
	}
}
