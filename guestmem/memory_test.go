package guestmem

import (
	"errors"
	"math"
	"testing"
)

func newTestMemory(t *testing.T, spans ...Span) *Memory {
	t.Helper()
	m, err := New(spans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestNewRejectsBadSpans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spans []Span
	}{
		{"none", nil},
		{"empty span", []Span{{Base: 0, Size: 0}}},
		{"unaligned base", []Span{{Base: 0x10, Size: 0x1000}}},
		{"unaligned size", []Span{{Base: 0, Size: 0x1001}}},
		{"wraps", []Span{{Base: math.MaxUint64 - 0xfff, Size: 0x2000}}},
		{"overlap", []Span{{Base: 0, Size: 0x2000}, {Base: 0x1000, Size: 0x1000}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if m, err := New(tc.spans); err == nil {
				m.Close()
				t.Fatal("New accepted bad spans")
			}
		})
	}
}

func TestAccessBounds(t *testing.T) {
	t.Parallel()
	// Two regions with a hole between them, as around the MMIO gap.
	m := newTestMemory(t, Span{Base: 0x10000, Size: 0x2000}, Span{Base: 0x0, Size: 0x1000})
	tests := []struct {
		name string
		addr Addr
		n    uint64
		ok   bool
	}{
		{"first byte", 0, 1, true},
		{"whole low region", 0, 0x1000, true},
		{"last byte of region", 0x11fff, 1, true},
		{"zero length inside", 0x10000, 0, true},
		{"one past the end", 0x1000, 1, false},
		{"straddles the end", 0xfff, 2, false},
		{"in the hole", 0x8000, 4, false},
		{"spans the hole", 0x0, 0x11000, false},
		{"past all RAM", 0x12000, 1, false},
		{"overflows 64 bits", math.MaxUint64, 2, false},
		{"huge length", 0x10000, math.MaxUint64, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := m.Slice(tc.addr, tc.n)
			if (err == nil) != tc.ok {
				t.Fatalf("Slice(%#x, %#x) err=%v, want ok=%v", tc.addr, tc.n, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrOutOfRange) {
				t.Fatalf("error %v does not wrap ErrOutOfRange", err)
			}
			if m.Contains(tc.addr, tc.n) != tc.ok {
				t.Fatalf("Contains disagrees with Slice")
			}
		})
	}
}

func TestReadWriteRoundTrip(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, Span{Base: 0x100000, Size: 0x1000})
	if err := m.WriteAt([]byte("glue"), 0x100010); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if err := m.ReadAt(got, 0x100010); err != nil || string(got) != "glue" {
		t.Fatalf("ReadAt = %q, %v", got, err)
	}
	if err := m.WriteU64(0x100020, 0x1122334455667788); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.ReadU32(0x100020); v != 0x55667788 {
		t.Fatalf("little-endian low word = %#x", v)
	}
	if v, _ := m.ReadU16(0x100026); v != 0x1122 {
		t.Fatalf("high half-word = %#x", v)
	}
	if err := m.Zero(0x100020, 8); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.ReadU64(0x100020); v != 0 {
		t.Fatalf("Zero left %#x", v)
	}
	if err := m.WriteU32(0x100ffe, 1); err == nil {
		t.Fatal("WriteU32 straddling the end succeeded")
	}
	if m.Size() != 0x1000 {
		t.Fatalf("Size = %#x", m.Size())
	}
}

func TestRingIndexAccessors(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, Span{Base: 0, Size: 0x1000})
	m.WriteU32(0x100, 0xaaaabbbb)
	// Writing the upper half-word must leave the lower one alone.
	if err := m.StoreU16Release(0x102, 0x1234); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.ReadU32(0x100); v != 0x1234bbbb {
		t.Fatalf("word = %#x, want 0x1234bbbb", v)
	}
	if v, err := m.LoadU16Acquire(0x102); err != nil || v != 0x1234 {
		t.Fatalf("LoadU16Acquire = %#x, %v", v, err)
	}
	if v, _ := m.LoadU16Acquire(0x100); v != 0xbbbb {
		t.Fatalf("low half = %#x", v)
	}
	if _, err := m.LoadU16Acquire(0x101); err == nil {
		t.Fatal("unaligned ring index accepted")
	}
	if err := m.StoreU16Release(0x1000, 1); err == nil {
		t.Fatal("ring index outside RAM accepted")
	}
	if err := m.StoreU16Release(0xffe, 7); err != nil {
		t.Fatalf("last half-word of RAM: %v", err)
	}
}
