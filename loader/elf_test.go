package loader

import (
	"bytes"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader/loadertest"
)

// Offsets inside an Elf64_Phdr.
const (
	phType   = 0x00
	phOffset = 0x08
	phVaddr  = 0x10
	phPaddr  = 0x18
	phFilesz = 0x20
	phMemsz  = 0x28
)

func phdr(i, field int) int { return loadertest.ProgHeaderOffset(i) + field }

func TestLoadELF(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		image       []byte
		opts        Options
		wantPath    string
		wantEntry   guestmem.Addr
		wantEntries []EntryPoint
	}{
		{
			name:        "vmlinux",
			image:       testELF(false).Bytes(),
			wantPath:    "elf",
			wantEntry:   testText,
			wantEntries: []EntryPoint{{Linux64, testText}},
		},
		{
			name:        "pvh note, Linux64 preferred by default",
			image:       testELF(true).Bytes(),
			wantPath:    "elf",
			wantEntry:   testText,
			wantEntries: []EntryPoint{{Linux64, testText}, {PVH, testPVHEntry}},
		},
		{
			name:        "pvh note, PVH asked for",
			image:       testELF(true).Bytes(),
			opts:        Options{Protocol: PVH},
			wantPath:    "pvh",
			wantEntry:   testPVHEntry,
			wantEntries: []EntryPoint{{Linux64, testText}, {PVH, testPVHEntry}},
		},
		{
			name: "pvh note with a 4-byte descriptor",
			image: func() []byte {
				e := testELF(false)
				e.Notes = []loadertest.Note{{Name: "Xen", Type: 18, Desc: []byte{0x40, 0, 0x10, 0}}}
				return e.Bytes()
			}(),
			opts:        Options{Protocol: PVH},
			wantPath:    "pvh",
			wantEntry:   testPVHEntry,
			wantEntries: []EntryPoint{{Linux64, testText}, {PVH, testPVHEntry}},
		},
		{
			name: "pvh note in an SHT_NOTE section only",
			image: func() []byte {
				e := testELF(true)
				e.NotesInSection = true
				return e.Bytes()
			}(),
			opts:        Options{Protocol: PVH},
			wantPath:    "pvh",
			wantEntry:   testPVHEntry,
			wantEntries: []EntryPoint{{Linux64, testText}, {PVH, testPVHEntry}},
		},
		{
			name: "virtual e_entry translated to physical",
			image: func() []byte {
				e := testELF(false)
				e.Entry = 0xffffffff81000010
				return e.Bytes()
			}(),
			wantPath:    "elf",
			wantEntry:   testText + 0x10,
			wantEntries: []EntryPoint{{Linux64, testText + 0x10}},
		},
		{
			name:        "explicit MinAddr below the kernel",
			image:       testELF(false).Bytes(),
			opts:        Options{MinAddr: 0x80000},
			wantPath:    "elf",
			wantEntry:   testText,
			wantEntries: []EntryPoint{{Linux64, testText}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMem(t)
			k, err := Load(mem, tt.image, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if k.Format != FormatELF || k.Path != tt.wantPath || k.Entry != tt.wantEntry {
				t.Errorf("got format %v path %q entry %#x, want elf %q %#x", k.Format, k.Path, k.Entry, tt.wantPath, tt.wantEntry)
			}
			if want := map[string]Protocol{"elf": Linux64, "pvh": PVH}[tt.wantPath]; k.Protocol != want {
				t.Errorf("protocol %v, want %v", k.Protocol, want)
			}
			if !equalEntries(k.Entries, tt.wantEntries) {
				t.Errorf("entries %v, want %v", k.Entries, tt.wantEntries)
			}
			wantEnd := guestmem.Addr(testData + len(testDataBytes) + testBSS)
			if k.Start != testText || k.End != wantEnd {
				t.Errorf("kernel at [%#x, %#x), want [%#x, %#x)", k.Start, k.End, testText, wantEnd)
			}
			if k.SetupHeader != nil || k.CmdlineMax != 2047 || k.InitrdAddrMax != 0x37FFFFFF || k.Compression != "" {
				t.Errorf("ELF kernel has header %d bytes, cmdline max %d, initrd max %#x, compression %q",
					len(k.SetupHeader), k.CmdlineMax, k.InitrdAddrMax, k.Compression)
			}
			if got := readMem(t, mem, testText, len(testTextBytes)); !bytes.Equal(got, testTextBytes) {
				t.Error("text segment not copied")
			}
			if got := readMem(t, mem, testData, len(testDataBytes)); !bytes.Equal(got, testDataBytes) {
				t.Error("data segment not copied")
			}
			if got := readMem(t, mem, testData+guestmem.Addr(len(testDataBytes)), testBSS); !bytes.Equal(got, make([]byte, testBSS)) {
				t.Error("bss not zeroed")
			}
			// Nothing outside the segments changed.
			if b := readMem(t, mem, testText-1, 1)[0]; b != memPattern {
				t.Errorf("byte below the kernel changed to %#x", b)
			}
			if b := readMem(t, mem, wantEnd, 1)[0]; b != memPattern {
				t.Errorf("byte after the bss changed to %#x", b)
			}
		})
	}
}

func equalEntries(a, b []EntryPoint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadELFRejects(t *testing.T) {
	t.Parallel()
	valid := func() []byte { return testELF(false).Bytes() }
	withPVH := func() []byte { return testELF(true).Bytes() }
	// The PT_NOTE is program header 2 in testELF(true); its data is last.
	noteOff := func(b []byte) int { return int(le64(b, phdr(2, phOffset))) }
	tests := []struct {
		name  string
		image []byte
		opts  Options
		want  error
	}{
		{"bad magic", append([]byte("\x7fELG"), valid()[4:]...), Options{}, ErrUnknownFormat},
		{"truncated header", valid()[:40], Options{}, ErrELFHeader},
		{"32-bit class", func() []byte { b := valid(); b[4] = 1; return b }(), Options{}, ErrELFClass},
		{"big-endian", func() []byte { b := valid(); b[5] = 2; return b }(), Options{}, ErrELFClass},
		{"ident version", func() []byte { b := valid(); b[6] = 0; return b }(), Options{}, ErrELFHeader},
		{"e_version", put32(valid(), 0x14, 2), Options{}, ErrELFHeader},
		{"machine i386", put16(valid(), 0x12, 3), Options{}, ErrELFMachine},
		{"type DYN", put16(valid(), 0x10, 3), Options{}, ErrELFType},
		{"type REL", put16(valid(), 0x10, 1), Options{}, ErrELFType},
		{"phoff past the file", put64(valid(), 0x20, 1<<40), Options{}, ErrProgramHeaders},
		{"phoff near 2^64", put64(valid(), 0x20, 1<<64-8), Options{}, ErrProgramHeaders},
		{"phnum huge", put16(valid(), 0x38, 0xfffe), Options{}, ErrProgramHeaders},
		{"phnum extended", put16(valid(), 0x38, 0xffff), Options{}, ErrProgramHeaders},
		{"phentsize too small", put16(valid(), 0x36, 32), Options{}, ErrProgramHeaders},
		{"phnum zero", put16(valid(), 0x38, 0), Options{}, ErrNoLoadableSegments},
		{"no PT_LOAD", put32(put32(valid(), phdr(0, phType), 6), phdr(1, phType), 6), Options{}, ErrNoLoadableSegments},
		{"filesz > memsz", put64(valid(), phdr(1, phMemsz), 4), Options{}, ErrSegmentSize},
		{"offset past EOF", put64(valid(), phdr(0, phOffset), 1<<20), Options{}, ErrSegmentFileRange},
		{"offset+filesz overflows", put64(valid(), phdr(0, phOffset), 1<<64-1), Options{}, ErrSegmentFileRange},
		{"filesz past EOF", put64(put64(valid(), phdr(1, phFilesz), 1<<20), phdr(1, phMemsz), 1<<20), Options{}, ErrSegmentFileRange},
		{"paddr+memsz overflows", put64(valid(), phdr(1, phPaddr), 1<<64-1), Options{}, ErrAddressOverflow},
		{"vaddr+memsz overflows", put64(valid(), phdr(1, phVaddr), 1<<64-0x10), Options{}, ErrAddressOverflow},
		{"segment outside RAM", put64(valid(), phdr(1, phPaddr), 64<<20), Options{}, ErrOutsideRAM},
		{"segment crosses the end of RAM", put64(valid(), phdr(1, phPaddr), testRAM-0x100), Options{}, ErrOutsideRAM},
		{"segment below 1 MiB", put64(put64(valid(), phdr(0, phPaddr), 0x7000), 0x18, 0x7000), Options{}, ErrBelowMinAddr},
		{"segment below MinAddr", valid(), Options{MinAddr: 0x200000}, ErrBelowMinAddr},
		{"overlapping segments", put64(valid(), phdr(1, phPaddr), testText+0x200), Options{}, ErrSegmentOverlap},
		{"identical segments", put64(valid(), phdr(1, phPaddr), testText), Options{}, ErrSegmentOverlap},
		{"entry outside every segment", put64(valid(), 0x18, 0x500000), Options{}, ErrBadEntry},
		{"entry in bss only", put64(valid(), 0x18, testData+uint64(len(testDataBytes))+8), Options{}, ErrBadEntry},
		{"PVH asked, no note", valid(), Options{Protocol: PVH}, ErrNoPVHEntry},
		{"PVH note truncated", func() []byte { b := withPVH(); return put64(b, phdr(2, phFilesz), 20) }(), Options{}, ErrMalformedNote},
		{"PVH note descsz 3", func() []byte {
			b := withPVH()
			// Second note (the Xen one) starts after the 12+8+8-byte Linux note.
			return put32(b, noteOff(b)+28+4, 3)
		}(), Options{}, ErrMalformedNote},
		{"PVH note namesz huge", func() []byte { b := withPVH(); return put32(b, noteOff(b)+28, 0xffffffff) }(), Options{}, ErrMalformedNote},
		{"PVH entry above 4 GiB", func() []byte { b := withPVH(); return put32(b, noteOff(b)+28+16+4, 1) }(), Options{}, ErrMalformedNote},
		{"PVH entry outside segments", func() []byte { b := withPVH(); return put32(b, noteOff(b)+28+16, 0x600000) }(), Options{}, ErrBadEntry},
		{"PT_NOTE past EOF", put64(withPVH(), phdr(2, phOffset), 1<<30), Options{}, ErrSegmentFileRange},
		{"section table past EOF", func() []byte {
			e := testELF(true)
			e.NotesInSection = true
			return put64(e.Bytes(), 0x28, 1<<32)
		}(), Options{}, ErrSectionHeaders},
		{"section entry size too small", func() []byte {
			e := testELF(true)
			e.NotesInSection = true
			return put16(e.Bytes(), 0x3a, 40)
		}(), Options{}, ErrSectionHeaders},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := newMem(t)
			k, err := Load(mem, tt.image, tt.opts)
			if err == nil {
				t.Fatalf("loaded %+v, want error %v", k, tt.want)
			}
			assertErrorIs(t, err, tt.want)
			assertUntouched(t, mem)
			t.Log(err)
		})
	}
}

func le64(b []byte, off int) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[off+i])
	}
	return v
}

func TestLoadELFRegionGap(t *testing.T) {
	t.Parallel()
	// RAM with a hole at [2 MiB, 3 MiB): a segment spanning it must fail,
	// one in the upper region must load.
	mem := newMem(t, guestmem.Span{Base: 0, Size: 2 << 20}, guestmem.Span{Base: 3 << 20, Size: 2 << 20})
	spanning := loadertest.ELF{Entry: 0x1ff000, Segments: []loadertest.Segment{{Paddr: 0x1ff000, Data: make([]byte, 0x2000)}}}
	_, err := Load(mem, spanning.Bytes(), Options{})
	assertErrorIs(t, err, ErrOutsideRAM)
	assertUntouched(t, mem)

	upper := loadertest.ELF{Entry: 3 << 20, Segments: []loadertest.Segment{{Paddr: 3 << 20, Data: []byte{1, 2, 3}}}}
	k, err := Load(mem, upper.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if k.Entry != 3<<20 {
		t.Errorf("entry %#x", k.Entry)
	}
}

func TestLoadOptionsValidated(t *testing.T) {
	t.Parallel()
	mem := newMem(t)
	for _, opts := range []Options{{Protocol: 7}, {BzImageMode: 9}} {
		if _, err := Load(mem, testELF(false).Bytes(), opts); err == nil {
			t.Errorf("Load accepted %+v", opts)
		}
	}
	if _, err := Load(nil, testELF(false).Bytes(), Options{}); err == nil {
		t.Error("Load accepted nil memory")
	}
	assertUntouched(t, mem)
}

func TestParseELFBadMagic(t *testing.T) {
	t.Parallel()
	_, err := parseELF(bytesSource(append([]byte("MZ\x90\x00"), testELF(false).Bytes()[4:]...)))
	assertErrorIs(t, err, ErrELFHeader)
}
