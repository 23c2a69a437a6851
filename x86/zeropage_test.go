package x86

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/gluevmm/glue/guestmem"
)

// zeroPage reads the zero page back from guest memory.
func zeroPage(t *testing.T, mem *guestmem.Memory) []byte {
	t.Helper()
	page := make([]byte, ZeroPageSize)
	if err := mem.ReadAt(page, ZeroPageAddr); err != nil {
		t.Fatal(err)
	}
	return page
}

func u16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func u64(b []byte, off int) uint64 { return binary.LittleEndian.Uint64(b[off:]) }

// decodeE820 reads the e820 table of a zero page the way the kernel does.
func decodeE820(page []byte) []E820Entry {
	var entries []E820Entry
	for i := range int(page[zpE820Entries]) {
		e := page[zpE820Table+i*e820EntrySize:]
		entries = append(entries, E820Entry{Addr: guestmem.Addr(u64(e, 0)), Size: u64(e, 8), Type: E820Type(u32(e, 16))})
	}
	return entries
}

// bzImageHeader returns a setup header as a loader takes it from a bzImage
// of boot protocol version: up to 0x202 plus the jump offset at 0x201.
func bzImageHeader(version uint16, cmdlineSize uint32) []byte {
	const end = 0x26c // end of struct setup_header in protocol 2.15
	hdr := make([]byte, end-zpSetupHeader)
	at := func(off int) []byte { return hdr[off-zpSetupHeader:] }
	le := binary.LittleEndian
	at(0x1f1)[0] = 0x1b // setup_sects
	le.PutUint16(at(hdrVidMode), 0xffff)
	le.PutUint16(at(hdrBootFlag), bootFlagMagic)
	at(hdrBootFlag + 2)[0] = 0xeb // jmp short
	at(hdrBootFlag + 3)[0] = end - 0x202
	le.PutUint32(at(hdrMagic), setupHdrMagic)
	le.PutUint16(at(hdrVersion), version)
	at(hdrLoadFlags)[0] = 1 | loadQuiet | loadCanUseHeap // LOADED_HIGH plus bits a loader owns
	le.PutUint16(at(hdrHeapEndPtr), 0xde00)
	le.PutUint32(at(hdrKernelAlignment), 0x20_0000)
	le.PutUint32(at(hdrCmdlineSize), cmdlineSize)
	return hdr
}

func TestWriteZeroPageForELF(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 6<<30)
	e820, err := E820Map(RAMSpans(6 << 30))
	if err != nil {
		t.Fatal(err)
	}
	info := BootInfo{
		CmdlineAddr: CmdlineAddr,
		CmdlineLen:  40,
		Initrd:      guestmem.Span{Base: 0x1_2345_6000, Size: 0x1_0000_2000},
		E820:        e820,
	}
	if err := WriteZeroPage(mem, info, nil); err != nil {
		t.Fatal(err)
	}
	page := zeroPage(t, mem)
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"boot_flag", uint64(u16(page, hdrBootFlag)), 0xaa55},
		{"header", uint64(u32(page, hdrMagic)), 0x53726448},
		{"type_of_loader", uint64(page[0x210]), 0xff},
		{"loadflags", uint64(page[0x211]), 0},
		{"kernel_alignment", uint64(u32(page, 0x230)), 0x0100_0000},
		{"cmd_line_ptr", uint64(u32(page, 0x228)), uint64(CmdlineAddr)},
		{"ext_cmd_line_ptr", uint64(u32(page, 0x0c8)), 0},
		{"cmdline_size", uint64(u32(page, 0x238)), 0},
		{"ramdisk_image", uint64(u32(page, 0x218)), 0x2345_6000},
		{"ext_ramdisk_image", uint64(u32(page, 0x0c0)), 1},
		{"ramdisk_size", uint64(u32(page, 0x21c)), 0x2000},
		{"ext_ramdisk_size", uint64(u32(page, 0x0c4)), 1},
		{"sentinel", uint64(page[zpSentinel]), 0},
		{"version", uint64(u16(page, hdrVersion)), 0},
		{"vid_mode", uint64(u16(page, hdrVidMode)), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
	got := decodeE820(page)
	if len(got) != len(e820) {
		t.Fatalf("e820_entries = %d, want %d", len(got), len(e820))
	}
	for i := range got {
		if got[i] != e820[i] {
			t.Errorf("e820[%d] = %+v, want %+v", i, got[i], e820[i])
		}
	}
}

func TestWriteZeroPageForBzImage(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 64<<20)
	hdr := bzImageHeader(0x020f, 2047)
	info := BootInfo{CmdlineAddr: CmdlineAddr, CmdlineLen: 2047}
	if err := WriteZeroPage(mem, info, hdr); err != nil {
		t.Fatal(err)
	}
	page := zeroPage(t, mem)

	// Fields the loader writes.
	if got := page[hdrTypeOfLoader]; got != 0xff {
		t.Errorf("type_of_loader = %#x, want 0xff", got)
	}
	if got := page[hdrLoadFlags]; got != 1 {
		t.Errorf("loadflags = %#x, want LOADED_HIGH only", got)
	}
	if got := u16(page, hdrHeapEndPtr); got != 0 {
		t.Errorf("heap_end_ptr = %#x, want 0 with CAN_USE_HEAP clear", got)
	}
	if got := u32(page, hdrCmdLinePtr); got != uint32(CmdlineAddr) {
		t.Errorf("cmd_line_ptr = %#x, want %#x", got, CmdlineAddr)
	}
	if got := u32(page, hdrRamdiskImage) | u32(page, hdrRamdiskSize); got != 0 {
		t.Errorf("ramdisk fields set without an initrd")
	}

	// Everything else comes from the image unchanged.
	written := map[int]bool{}
	for _, f := range []struct{ off, size int }{
		{hdrTypeOfLoader, 1}, {hdrLoadFlags, 1}, {hdrHeapEndPtr, 2},
		{hdrCmdLinePtr, 4}, {hdrRamdiskImage, 4}, {hdrRamdiskSize, 4},
	} {
		for i := range f.size {
			written[f.off+i] = true
		}
	}
	for i, want := range hdr {
		if off := zpSetupHeader + i; !written[off] && page[off] != want {
			t.Errorf("byte %#x = %#x, want the image's %#x", off, page[off], want)
		}
	}
	for off := zpSetupHeader + len(hdr); off < zpE820Table; off++ {
		if page[off] != 0 {
			t.Fatalf("byte %#x past the header = %#x, want 0", off, page[off])
		}
	}
}

func TestWriteZeroPageRejects(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 64<<20)
	badFlag := bzImageHeader(0x020f, 2047)
	badFlag[hdrBootFlag-zpSetupHeader] = 0
	badMagic := bzImageHeader(0x020f, 2047)
	copy(badMagic[hdrMagic-zpSetupHeader:], "HdrT")
	tests := []struct {
		name string
		info BootInfo
		hdr  []byte
		want string
	}{
		{"too many e820 entries", BootInfo{E820: make([]E820Entry, MaxE820Entries+1)}, nil, "e820 entries"},
		{"negative command line length", BootInfo{CmdlineLen: -1}, nil, "negative"},
		{"header too short", BootInfo{}, bzImageHeader(0x020f, 2047)[:0x22c-zpSetupHeader-1], "setup header is"},
		{"header too long", BootInfo{}, make([]byte, zpSetupHeaderEnd-zpSetupHeader+1), "setup header is"},
		{"no boot flag", BootInfo{}, badFlag, "boot flag"},
		{"no HdrS magic", BootInfo{}, badMagic, "HdrS"},
		{"protocol older than 2.02", BootInfo{}, bzImageHeader(0x0201, 0), "older"},
		{"command line past cmdline_size", BootInfo{CmdlineLen: 2048}, bzImageHeader(0x020f, 2047), "at most 2047"},
		{"command line past 255 before 2.06", BootInfo{CmdlineLen: 256}, bzImageHeader(0x0205, 4096), "at most 255"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := WriteZeroPage(mem, tt.info, tt.hdr)
			if err == nil || !strings.HasPrefix(err.Error(), "x86: zero page: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("WriteZeroPage: %v, want an x86: zero page error about %q", err, tt.want)
			}
		})
	}
	if page := zeroPage(t, mem); u32(page, hdrMagic) != 0 {
		t.Error("a rejected zero page was written")
	}
}

func TestWriteZeroPageOutsideRAM(t *testing.T) {
	t.Parallel()
	mem, err := guestmem.New([]guestmem.Span{{Base: MMIOGapEnd, Size: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	err = WriteZeroPage(mem, BootInfo{}, nil)
	if !errors.Is(err, guestmem.ErrOutOfRange) || !strings.HasPrefix(err.Error(), "x86: write zero page: ") {
		t.Fatalf("WriteZeroPage without low RAM: %v", err)
	}
}
