package guestmem

import (
	"errors"
	"math"
	"testing"
)

func TestDiscardReleasesPages(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, Span{Base: 0, Size: 1 << 20}, Span{Base: 4 << 20, Size: 1 << 20})
	r := m.Regions()[1]
	for off := 0; off < len(r.Host()); off += pageSize {
		r.Host()[off] = 0xaa
	}
	if got := resident(t, r.Host()); got != 256 {
		t.Fatalf("%d pages resident after touching all 256", got)
	}
	if err := m.Discard(4<<20+64<<10, 128<<10); err != nil {
		t.Fatal(err)
	}
	if got := resident(t, r.Host()); got != 256-32 {
		t.Fatalf("%d pages resident after discarding 32 of 256", got)
	}
	b, _ := m.Slice(4<<20+64<<10, 128<<10)
	for i, v := range b {
		if v != 0 {
			t.Fatalf("byte %#x of the discarded range is %#x, want 0", i, v)
		}
	}
	// The pages around it are untouched, and the range is usable again.
	if v, _ := m.Slice(4<<20+64<<10-pageSize, 1); v[0] != 0xaa {
		t.Fatal("the page before the range lost its contents")
	}
	if v, _ := m.Slice(4<<20+192<<10, 1); v[0] != 0xaa {
		t.Fatal("the page after the range lost its contents")
	}
	if err := m.WriteU32(4<<20+64<<10, 7); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.ReadU32(4<<20 + 64<<10); v != 7 {
		t.Fatalf("read %d after writing 7 to a discarded page", v)
	}
}

func TestDiscardRefusesRangesOutsideRAM(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, Span{Base: 0, Size: 1 << 20}, Span{Base: 4 << 20, Size: 1 << 20})
	for _, r := range m.Regions() {
		for off := 0; off < len(r.Host()); off += pageSize {
			r.Host()[off] = 0xaa
		}
	}
	tests := []struct {
		name    string
		addr    Addr
		n       uint64
		outside bool // ErrOutOfRange, rather than misalignment
	}{
		{"in the hole", 2 << 20, pageSize, true},
		{"across the hole", 1<<20 - pageSize, 2 * pageSize, true},
		{"across two regions", 0, 5 << 20, true},
		{"past the end", 5 << 20, pageSize, true},
		{"wraps", math.MaxUint64 - pageSize + 1, 2 * pageSize, true},
		{"unaligned address", 0x10, pageSize, false},
		{"unaligned length", 0, 100, false},
	}
	for _, tc := range tests {
		err := m.Discard(tc.addr, tc.n)
		if err == nil {
			t.Errorf("%s: Discard(%#x, %#x) succeeded", tc.name, tc.addr, tc.n)
			continue
		}
		if errors.Is(err, ErrOutOfRange) != tc.outside {
			t.Errorf("%s: %v: ErrOutOfRange %v, want %v", tc.name, err, !tc.outside, tc.outside)
		}
	}
	for _, r := range m.Regions() {
		if got := resident(t, r.Host()); got != int(r.Size/pageSize) {
			t.Errorf("region %#x: %d pages resident of %d: a refused discard released memory", r.Base, got, r.Size/pageSize)
		}
	}
}

// Zero clears every byte of its range, on partial pages at either end as
// on the whole pages between, and leaves those whole pages unallocated
// rather than writing them: a kernel's bss costs no host memory until the
// guest touches it.
func TestZeroClearsWithoutAllocating(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, Span{Base: 0, Size: 64 * pageSize})
	host := m.Regions()[0].Host()
	for i := range host[:32*pageSize] {
		host[i] = 0xa5
	}
	// From the middle of page 1 to the middle of page 30: pages 2-29 whole.
	start, end := uint64(pageSize+100), uint64(30*pageSize+200)
	if err := m.Zero(Addr(start), end-start); err != nil {
		t.Fatal(err)
	}
	// Before reading them: a read maps the host's zero page, which counts.
	if got := resident(t, host[2*pageSize:30*pageSize]); got != 0 {
		t.Errorf("%d of the 28 whole pages Zero cleared are still resident", got)
	}
	for i, v := range host[:32*pageSize] {
		if want := byte(0xa5); uint64(i) >= start && uint64(i) < end {
			want = 0
			if v != want {
				t.Fatalf("byte %#x is %#x after Zero, want 0", i, v)
			}
		} else if v != want {
			t.Fatalf("byte %#x outside the range is %#x after Zero, want %#x", i, v, want)
		}
	}

	// A never-touched range stays unallocated; a short one inside one page
	// is cleared in place.
	if err := m.Zero(Addr(32*pageSize), 32*pageSize); err != nil {
		t.Fatal(err)
	}
	if got := resident(t, host[32*pageSize:]); got != 0 {
		t.Errorf("Zero of 32 untouched pages made %d resident", got)
	}
	host[5*pageSize+10] = 1
	if err := m.Zero(Addr(5*pageSize+10), 1); err != nil || host[5*pageSize+10] != 0 {
		t.Errorf("Zero of one byte: %v, byte %#x", err, host[5*pageSize+10])
	}
	if err := m.Zero(Addr(63*pageSize), 2*pageSize); err == nil {
		t.Error("Zero past the end of RAM succeeded")
	}
}
