package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/loader/loadertest"
)

// memPattern fills guest RAM before a test, so that any write, even of
// zeros, shows.
const memPattern = 0xA5

const testRAM = 8 << 20

func newMem(tb testing.TB, spans ...guestmem.Span) *guestmem.Memory {
	tb.Helper()
	if len(spans) == 0 {
		spans = []guestmem.Span{{Base: 0, Size: testRAM}}
	}
	mem, err := guestmem.New(spans)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mem.Close() })
	fillPattern(mem)
	return mem
}

func fillPattern(mem *guestmem.Memory) {
	for _, r := range mem.Regions() {
		b := r.Host()
		for i := range b {
			b[i] = memPattern
		}
	}
}

var patternChunk = bytes.Repeat([]byte{memPattern}, 64<<10)

// untouched reports whether guest RAM still holds only the fill pattern,
// and the first address that does not.
func untouched(mem *guestmem.Memory) (guestmem.Addr, bool) {
	for _, r := range mem.Regions() {
		b := r.Host()
		for off := 0; off < len(b); off += len(patternChunk) {
			chunk := b[off:min(len(b), off+len(patternChunk))]
			if bytes.Equal(chunk, patternChunk[:len(chunk)]) {
				continue
			}
			for i, c := range chunk {
				if c != memPattern {
					return r.Base + guestmem.Addr(off+i), false
				}
			}
		}
	}
	return 0, true
}

func assertUntouched(tb testing.TB, mem *guestmem.Memory) {
	tb.Helper()
	if addr, ok := untouched(mem); !ok {
		tb.Fatalf("guest memory was written at %#x although loading failed", addr)
	}
}

func assertErrorIs(tb testing.TB, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("error = %v, want errors.Is %v", err, want)
	}
}

func readMem(tb testing.TB, mem *guestmem.Memory, addr guestmem.Addr, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if err := mem.ReadAt(b, addr); err != nil {
		tb.Fatal(err)
	}
	return b
}

// Addresses of the synthetic kernel: text at 1 MiB, data+bss 64 KiB above.
const (
	testText     = 0x100000
	testData     = 0x110000
	testBSS      = 0x2000
	testPVHEntry = testText + 0x40
)

var (
	testTextBytes = bytes.Repeat([]byte{0x90, 0x0f, 0x0b, 0xe8}, 256)
	testDataBytes = bytes.Repeat([]byte("glue data "), 50)
)

// testELF returns the builder for a small two-segment vmlinux with a bss;
// pvh adds a Xen PHYS32_ENTRY note.
func testELF(pvh bool) loadertest.ELF {
	e := loadertest.ELF{
		Entry: testText,
		Segments: []loadertest.Segment{
			{Paddr: testText, Vaddr: 0xffffffff81000000, Data: testTextBytes},
			{Paddr: testData, Vaddr: 0xffffffff81010000, Data: testDataBytes, MemSize: uint64(len(testDataBytes)) + testBSS},
		},
	}
	if pvh {
		e.Notes = []loadertest.Note{{Name: "Linux", Type: 6, Desc: []byte("6.1.0\x00\x00\x00")}, loadertest.PVHNote(testPVHEntry)}
	}
	return e
}

func put16(b []byte, off int, v uint16) []byte { binary.LittleEndian.PutUint16(b[off:], v); return b }
func put32(b []byte, off int, v uint32) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
func put64(b []byte, off int, v uint64) []byte { binary.LittleEndian.PutUint64(b[off:], v); return b }
