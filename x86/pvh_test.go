package x86

import (
	"slices"
	"strings"
	"testing"

	"github.com/gluevmm/glue/guestmem"
)

// pvhStartInfo is struct hvm_start_info and what it points to, decoded.
type pvhStartInfo struct {
	magic, version, flags uint32
	cmdline, rsdp         uint64
	modules               []guestmem.Span
	memmap                []E820Entry
	memmapReserved        []uint32
}

func readPVHStartInfo(t *testing.T, mem *guestmem.Memory) pvhStartInfo {
	t.Helper()
	read := func(addr guestmem.Addr, n int) []byte {
		b := make([]byte, n)
		if err := mem.ReadAt(b, addr); err != nil {
			t.Fatal(err)
		}
		return b
	}
	si := read(PVHStartInfoAddr, pvhStartInfoSize)
	info := pvhStartInfo{
		magic:   u32(si, 0),
		version: u32(si, 4),
		flags:   u32(si, 8),
		cmdline: u64(si, 24),
		rsdp:    u64(si, 32),
	}
	if n := u32(si, 12); n > 0 {
		mods := read(guestmem.Addr(u64(si, 16)), int(n)*32)
		for i := range int(n) {
			m := mods[i*32:]
			if u64(m, 16) != 0 || u64(m, 24) != 0 {
				t.Errorf("module %d has a command line or reserved bits", i)
			}
			info.modules = append(info.modules, guestmem.Span{Base: guestmem.Addr(u64(m, 0)), Size: u64(m, 8)})
		}
	}
	n := int(u32(si, 48))
	table := read(guestmem.Addr(u64(si, 40)), n*24)
	for i := range n {
		e := table[i*24:]
		info.memmap = append(info.memmap, E820Entry{Addr: guestmem.Addr(u64(e, 0)), Size: u64(e, 8), Type: E820Type(u32(e, 16))})
		info.memmapReserved = append(info.memmapReserved, u32(e, 20))
	}
	return info
}

func TestWritePVHStartInfo(t *testing.T) {
	t.Parallel()
	e820, err := E820Map(RAMSpans(6 << 30))
	if err != nil {
		t.Fatal(err)
	}
	initrd := guestmem.Span{Base: 0x1_0000_0000, Size: 0x12_3456}
	tests := []struct {
		name string
		info BootInfo
	}{
		{"with initrd", BootInfo{CmdlineAddr: CmdlineAddr, Initrd: initrd, E820: e820}},
		{"without initrd", BootInfo{CmdlineAddr: CmdlineAddr, E820: e820}},
		{"without command line", BootInfo{E820: e820[:3]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newTestMemory(t, 6<<30)
			if err := WritePVHStartInfo(mem, tt.info); err != nil {
				t.Fatal(err)
			}
			got := readPVHStartInfo(t, mem)
			if got.magic != 0x336ec578 || got.version != 1 || got.flags != 0 || got.rsdp != 0 {
				t.Errorf("magic %#x version %d flags %#x rsdp %#x, want 0x336ec578 1 0 0",
					got.magic, got.version, got.flags, got.rsdp)
			}
			if got.cmdline != uint64(tt.info.CmdlineAddr) {
				t.Errorf("cmdline_paddr %#x, want %#x", got.cmdline, tt.info.CmdlineAddr)
			}
			var wantModules []guestmem.Span
			if tt.info.Initrd.Size != 0 {
				wantModules = []guestmem.Span{tt.info.Initrd}
			}
			if !slices.Equal(got.modules, wantModules) {
				t.Errorf("modules %v, want %v", got.modules, wantModules)
			}
			if !slices.Equal(got.memmap, tt.info.E820) {
				t.Errorf("memory map\n%v\nwant\n%v", got.memmap, tt.info.E820)
			}
			for i, r := range got.memmapReserved {
				if r != 0 {
					t.Errorf("memory map entry %d reserved field %#x", i, r)
				}
			}
		})
	}
}

func TestWritePVHStartInfoRejectsLongMemoryMap(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 64<<20)
	err := WritePVHStartInfo(mem, BootInfo{E820: make([]E820Entry, MaxE820Entries+1)})
	if err == nil || !strings.HasPrefix(err.Error(), "x86: PVH start info: ") {
		t.Fatalf("WritePVHStartInfo: %v, want an x86: PVH start info error", err)
	}
}
