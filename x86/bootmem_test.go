package x86

import (
	"slices"
	"strings"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader"
)

// newTestMemory maps memBytes of guest RAM laid out by RAMSpans.
func newTestMemory(t *testing.T, memBytes uint64) *guestmem.Memory {
	t.Helper()
	mem, err := guestmem.New(RAMSpans(memBytes))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	return mem
}

func TestWriteBootMemoryLinux64(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 3<<30+4096)
	const cmdline = "console=ttyS0 reboot=k panic=1"
	initrd := guestmem.Span{Base: 0x800_0000, Size: 0x1234}
	err := WriteBootMemory(mem, BootConfig{Cmdline: cmdline, Initrd: initrd, NumCPUs: 2})
	if err != nil {
		t.Fatal(err)
	}

	got := make([]byte, len(cmdline)+1)
	if err := mem.ReadAt(got, CmdlineAddr); err != nil {
		t.Fatal(err)
	}
	if string(got) != cmdline+"\x00" {
		t.Errorf("command line %q, want %q NUL-terminated", got, cmdline)
	}

	page := zeroPage(t, mem)
	if u32(page, hdrCmdLinePtr) != uint32(CmdlineAddr) || u32(page, hdrRamdiskImage) != uint32(initrd.Base) ||
		u32(page, hdrRamdiskSize) != uint32(initrd.Size) {
		t.Errorf("zero page cmd_line_ptr %#x ramdisk %#x+%#x, want %#x and %#x+%#x",
			u32(page, hdrCmdLinePtr), u32(page, hdrRamdiskImage), u32(page, hdrRamdiskSize),
			CmdlineAddr, initrd.Base, initrd.Size)
	}
	want, err := E820Map(RAMSpans(3<<30 + 4096))
	if err != nil {
		t.Fatal(err)
	}
	if e820 := decodeE820(page); !slices.Equal(e820, want) {
		t.Errorf("zero page e820\n%v\nwant\n%v", e820, want)
	}

	cfg, err := parseMPTable(mem)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.cpus) != 2 {
		t.Errorf("MP table lists %d CPUs, want 2", len(cfg.cpus))
	}
	if phys, ok := translate(t, mem, uint64(PML4Addr), 0x7654_3210); !ok || phys != 0x7654_3210 {
		t.Errorf("page tables map 0x76543210 to %#x (mapped %v)", phys, ok)
	}
	if gdt, err := mem.ReadU64(GDTAddr + SelCode64); err != nil || gdt != BootGDT[SelCode64>>3] {
		t.Errorf("GDT code64 descriptor %#x (%v)", gdt, err)
	}
	if start, err := mem.ReadU32(PVHStartInfoAddr); err != nil || start != 0 {
		t.Errorf("PVH start info magic %#x (%v) in a Linux64 boot", start, err)
	}
}

func TestWriteBootMemoryPVH(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 512<<20)
	if err := WriteBootMemory(mem, BootConfig{Protocol: loader.PVH, Cmdline: "console=ttyS0", NumCPUs: 1}); err != nil {
		t.Fatal(err)
	}
	info := readPVHStartInfo(t, mem)
	if info.magic != pvhStartMagic || info.cmdline != uint64(CmdlineAddr) || len(info.modules) != 0 {
		t.Errorf("start info magic %#x cmdline %#x modules %v", info.magic, info.cmdline, info.modules)
	}
	want, err := E820Map(RAMSpans(512 << 20))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.memmap, want) {
		t.Errorf("PVH memory map\n%v\nwant\n%v", info.memmap, want)
	}
	if page := zeroPage(t, mem); u32(page, hdrMagic) != 0 {
		t.Error("zero page written in a PVH boot")
	}
	if _, err := parseMPTable(mem); err != nil {
		t.Error(err)
	}
}

func TestWriteBootMemoryLongestCommandLine(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 64<<20)
	cmdline := strings.Repeat("a", CmdlineRegionSize-1)
	if err := WriteBootMemory(mem, BootConfig{Cmdline: cmdline, NumCPUs: 1}); err != nil {
		t.Fatal(err)
	}
	last, err := mem.Slice(CmdlineAddr+CmdlineRegionSize-2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if string(last) != "a\x00" {
		t.Errorf("command line ends %q, want \"a\\x00\"", last)
	}
}

func TestWriteBootMemoryRejects(t *testing.T) {
	t.Parallel()
	ok := BootConfig{Cmdline: "console=ttyS0", NumCPUs: 1}
	with := func(change func(*BootConfig)) BootConfig {
		cfg := ok
		change(&cfg)
		return cfg
	}
	tests := []struct {
		name string
		mem  []guestmem.Span
		cfg  BootConfig
		want string
	}{
		{"command line too long", nil, with(func(c *BootConfig) { c.Cmdline = strings.Repeat("a", CmdlineRegionSize) }), "x86: command line is"},
		{"NUL in command line", nil, with(func(c *BootConfig) { c.Cmdline = "a\x00b" }), "NUL"},
		{"no CPUs", nil, with(func(c *BootConfig) { c.NumCPUs = 0 }), "x86: MP table:"},
		{"too many CPUs", nil, with(func(c *BootConfig) { c.NumCPUs = MaxCPUs + 1 }), "x86: MP table:"},
		{"initrd outside RAM", nil, with(func(c *BootConfig) { c.Initrd = guestmem.Span{Base: 63 << 20, Size: 2 << 20} }), "x86: initrd"},
		{"bad setup header", nil, with(func(c *BootConfig) { c.SetupHeader = make([]byte, 0x50) }), "x86: zero page:"},
		{"command line too long for the kernel", nil, with(func(c *BootConfig) {
			c.SetupHeader = bzImageHeader(0x020f, 8)
		}), "at most 8"},
		{"setup header with PVH", nil, with(func(c *BootConfig) {
			c.Protocol, c.SetupHeader = loader.PVH, bzImageHeader(0x020f, 2047)
		}), "PVH"},
		{"unknown protocol", nil, with(func(c *BootConfig) { c.Protocol = 7 }), "Protocol(7)"},
		{"no low RAM", []guestmem.Span{{Base: MMIOGapEnd, Size: 64 << 20}}, ok, "x86: e820:"},
		{"no RAM above 1MiB", []guestmem.Span{{Base: 0, Size: 1 << 20}}, ok, "x86: e820:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spans := tt.mem
			if spans == nil {
				spans = RAMSpans(64 << 20)
			}
			mem, err := guestmem.New(spans)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { mem.Close() })
			err = WriteBootMemory(mem, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WriteBootMemory: %v, want an error with %q", err, tt.want)
			}
			if !mem.Contains(GDTAddr, 8) {
				return
			}
			if gdt, err := mem.ReadU64(GDTAddr + SelCode64); err != nil || gdt != 0 {
				t.Errorf("GDT written (%#x, %v) although the config was rejected", gdt, err)
			}
		})
	}
}

// The structures written at boot must not overlap each other, the real-mode
// IVT and BIOS data area below 0x500, or anything a kernel may use: all but
// the MP table end below the EBDA, and the MP table ends below 1 MiB.
func TestBootStructuresDoNotOverlap(t *testing.T) {
	t.Parallel()
	type region struct {
		name string
		addr guestmem.Addr
		size uint64
	}
	regions := []region{
		{"GDT", GDTAddr, 8 * uint64(len(BootGDT))},
		{"IDT", IDTAddr, BootIDTSize},
		{"PVH start info", PVHStartInfoAddr, pvhStartInfoSize},
		{"PVH module list", PVHModlistAddr, pvhModlistEntrySize},
		{"PVH memory map", PVHMemmapAddr, MaxE820Entries * pvhMemmapEntrySize},
		{"zero page", ZeroPageAddr, ZeroPageSize},
		{"boot stack page", BootStackTop &^ 0xfff, uint64(BootStackTop & 0xfff)},
		{"PML4", PML4Addr, pageTableSize},
		{"PDPT", PDPTAddr, pageTableSize},
		{"page directories", PDAddr, IdentityMapGiB * pageTableSize},
		{"command line", CmdlineAddr, CmdlineRegionSize},
		{"MP table", MPTableAddr, uint64(mpTableSize(MaxCPUs))},
		{"ACPI tables", ACPITablesAddr, ACPITablesSize},
	}
	end := func(r region) guestmem.Addr { return r.addr + guestmem.Addr(r.size) }
	for i, r := range regions {
		limit := EBDAStart
		if r.name == "MP table" || r.name == "ACPI tables" {
			limit = HighMemStart
		}
		if r.addr < 0x500 || end(r) > limit {
			t.Errorf("%s [%#x, %#x) is outside [0x500, %#x)", r.name, r.addr, end(r), limit)
		}
		for _, o := range regions[i+1:] {
			if r.addr < end(o) && o.addr < end(r) {
				t.Errorf("%s [%#x, %#x) overlaps %s [%#x, %#x)", r.name, r.addr, end(r), o.name, o.addr, end(o))
			}
		}
	}
}

// The RSDP address and the reserved ECAM range reach the guest through both
// boot protocols: the zero page's acpi_rsdp_addr and e820 map, and the PVH
// start info's rsdp_paddr and memory map.
func TestWriteBootMemoryACPI(t *testing.T) {
	t.Parallel()
	const rsdp = ACPITablesAddr + 0x40
	ecam := guestmem.Span{Base: ECAMBase, Size: ECAMSize}
	for _, proto := range []loader.Protocol{loader.Linux64, loader.PVH} {
		t.Run(proto.String(), func(t *testing.T) {
			t.Parallel()
			mem := newTestMemory(t, 256<<20)
			cfg := BootConfig{Protocol: proto, NumCPUs: 1, RSDPAddr: rsdp, Reserved: []guestmem.Span{ecam}}
			if err := WriteBootMemory(mem, cfg); err != nil {
				t.Fatal(err)
			}
			var gotRSDP uint64
			var memmap []E820Entry
			if proto == loader.PVH {
				info := readPVHStartInfo(t, mem)
				gotRSDP, memmap = info.rsdp, info.memmap
			} else {
				page := zeroPage(t, mem)
				gotRSDP, memmap = u64(page, zpACPIRSDPAddr), decodeE820(page)
			}
			if gotRSDP != uint64(rsdp) {
				t.Errorf("RSDP address %#x, want %#x", gotRSDP, rsdp)
			}
			last := memmap[len(memmap)-1]
			if want := (E820Entry{Addr: ECAMBase, Size: ECAMSize, Type: E820Reserved}); last != want {
				t.Errorf("memory map ends with %v, want the ECAM range %v", last, want)
			}
		})
	}
}
