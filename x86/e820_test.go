package x86

import (
	"slices"
	"testing"

	"github.com/gluevmm/glue/guestmem"
)

func TestE820MapFromRAMSpans(t *testing.T) {
	t.Parallel()
	const (
		mib  = 1 << 20
		gib  = 1 << 30
		page = 4096
	)
	legacy := []E820Entry{
		{Addr: 0, Size: 0x9fc00, Type: E820RAM},
		{Addr: 0x9fc00, Size: 0x100000 - 0x9fc00, Type: E820Reserved},
	}
	tests := []struct {
		name  string
		mem   uint64
		above []E820Entry // entries from HighMemStart on
	}{
		{"300MiB", 300 * mib, []E820Entry{{Addr: 0x100000, Size: 300*mib - 0x100000, Type: E820RAM}}},
		{"512MiB", 512 * mib, []E820Entry{{Addr: 0x100000, Size: 512*mib - 0x100000, Type: E820RAM}}},
		{"exactly 3GiB", 3 * gib, []E820Entry{{Addr: 0x100000, Size: 3*gib - 0x100000, Type: E820RAM}}},
		{"3GiB plus a page", 3*gib + page, []E820Entry{
			{Addr: 0x100000, Size: 3*gib - 0x100000, Type: E820RAM},
			{Addr: 4 * gib, Size: page, Type: E820RAM},
		}},
		{"6GiB", 6 * gib, []E820Entry{
			{Addr: 0x100000, Size: 3*gib - 0x100000, Type: E820RAM},
			{Addr: 4 * gib, Size: 3 * gib, Type: E820RAM},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := E820Map(RAMSpans(tt.mem))
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(legacy), tt.above...)
			if !slices.Equal(got, want) {
				t.Fatalf("E820Map(%#x) =\n%v\nwant\n%v", tt.mem, got, want)
			}
			var usable uint64
			for i, e := range got {
				if e.Type == E820RAM {
					usable += e.Size
				}
				if i > 0 && got[i-1].Addr+guestmem.Addr(got[i-1].Size) > e.Addr {
					t.Errorf("entry %d (%#x) overlaps the one before", i, e.Addr)
				}
				if e.Addr < MMIOGapEnd && e.Addr+guestmem.Addr(e.Size) > MMIOGapStart {
					t.Errorf("entry %d [%#x, +%#x) reaches into the MMIO gap", i, e.Addr, e.Size)
				}
			}
			if wantUsable := tt.mem - (0x100000 - 0x9fc00); usable != wantUsable {
				t.Errorf("usable RAM %#x, want %#x", usable, wantUsable)
			}
		})
	}
}

func TestE820MapRejectsBadSpans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ram  []guestmem.Span
	}{
		{"none", nil},
		{"first span not at 0", []guestmem.Span{{Base: 0x1000, Size: 64 << 20}}},
		{"no RAM above 1MiB", []guestmem.Span{{Base: 0, Size: 0x100000}}},
		{"overlapping", []guestmem.Span{{Base: 0, Size: 64 << 20}, {Base: 32 << 20, Size: 64 << 20}}},
		{"out of order", []guestmem.Span{{Base: 0, Size: 64 << 20}, {Base: 1 << 32, Size: 1 << 20}, {Base: 2 << 30, Size: 1 << 20}}},
		{"empty second span", []guestmem.Span{{Base: 0, Size: 64 << 20}, {Base: 1 << 32, Size: 0}}},
		{"wrapping", []guestmem.Span{{Base: 0, Size: 64 << 20}, {Base: 1 << 63, Size: 1 << 63}}},
		{"too many", manySpans(MaxE820Entries)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := E820Map(tt.ram); err == nil {
				t.Fatalf("E820Map accepted %v: %v", tt.ram, got)
			}
		})
	}
}

// manySpans returns a low span and n-1 page-sized spans above 4 GiB, which
// make n+2 e820 entries.
func manySpans(n int) []guestmem.Span {
	spans := []guestmem.Span{{Base: 0, Size: 64 << 20}}
	for i := range n - 1 {
		spans = append(spans, guestmem.Span{Base: MMIOGapEnd + guestmem.Addr(2*i*4096), Size: 4096})
	}
	return spans
}

func TestE820MapFillsTheTable(t *testing.T) {
	t.Parallel()
	got, err := E820Map(manySpans(MaxE820Entries - 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != MaxE820Entries {
		t.Fatalf("%d entries, want %d", len(got), MaxE820Entries)
	}
}

func TestE820TypeString(t *testing.T) {
	t.Parallel()
	for typ, want := range map[E820Type]string{E820RAM: "usable", E820Reserved: "reserved", 7: "type 7"} {
		if got := typ.String(); got != want {
			t.Errorf("E820Type(%d).String() = %q, want %q", uint32(typ), got, want)
		}
	}
}

// Reserved ranges outside RAM join the map in address order; one that
// overlaps RAM, is empty or wraps is refused.
func TestE820MapReservedSpans(t *testing.T) {
	t.Parallel()
	ram := RAMSpans(6 << 30)
	ecam := guestmem.Span{Base: ECAMBase, Size: ECAMSize}
	got, err := E820Map(ram, ecam)
	if err != nil {
		t.Fatal(err)
	}
	want := []E820Entry{
		{Addr: 0, Size: 0x9fc00, Type: E820RAM},
		{Addr: 0x9fc00, Size: 0x100000 - 0x9fc00, Type: E820Reserved},
		{Addr: 0x100000, Size: 3<<30 - 0x100000, Type: E820RAM},
		{Addr: ECAMBase, Size: ECAMSize, Type: E820Reserved},
		{Addr: 4 << 30, Size: 3 << 30, Type: E820RAM},
	}
	if !slices.Equal(got, want) {
		t.Errorf("E820Map with ECAM reserved\n%v\nwant\n%v", got, want)
	}
	for _, tc := range []struct {
		name string
		span guestmem.Span
	}{
		{"overlaps low RAM", guestmem.Span{Base: 0x100000, Size: 4096}},
		{"overlaps high RAM", guestmem.Span{Base: 5 << 30, Size: 4096}},
		{"empty", guestmem.Span{Base: ECAMBase}},
		{"wraps", guestmem.Span{Base: 1<<64 - 4096, Size: 8192}},
	} {
		if _, err := E820Map(ram, tc.span); err == nil {
			t.Errorf("%s: reserved span %v accepted", tc.name, tc.span)
		}
	}
}
