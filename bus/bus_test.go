package bus

import (
	"bytes"
	"math"
	"testing"
)

// recorder remembers the last access it saw.
type recorder struct {
	lastOffset uint64
	lastWrite  []byte
	fill       byte
}

func (r *recorder) Read(offset uint64, data []byte) {
	r.lastOffset = offset
	for i := range data {
		data[i] = r.fill
	}
}

func (r *recorder) Write(offset uint64, data []byte) {
	r.lastOffset = offset
	r.lastWrite = append([]byte(nil), data...)
}

func TestInsertRejectsOverlaps(t *testing.T) {
	t.Parallel()
	var b Bus
	if err := b.Insert(0x100, 0x10, &recorder{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		base, size uint64
		ok         bool
	}{
		{"overlaps start", 0xf8, 0x10, false},
		{"overlaps end", 0x10f, 1, false},
		{"inside", 0x104, 2, false},
		{"covers", 0x0, 0x1000, false},
		{"adjacent below", 0xf0, 0x10, true},
		{"adjacent above", 0x110, 0x10, true},
		{"empty", 0x200, 0, false},
		{"wraps", math.MaxUint64, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := b.Insert(tc.base, tc.size, &recorder{})
			if (err == nil) != tc.ok {
				t.Fatalf("Insert(%#x, %#x) err=%v, want ok=%v", tc.base, tc.size, err, tc.ok)
			}
		})
	}
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	var b Bus
	low, high := &recorder{fill: 0x11}, &recorder{fill: 0x22}
	b.Insert(0x3f8, 8, low)
	b.Insert(0x60, 1, high)

	if !b.Write(0x3fb, []byte{0x80}) || low.lastOffset != 3 || !bytes.Equal(low.lastWrite, []byte{0x80}) {
		t.Fatalf("write to 0x3fb: offset %d data %x", low.lastOffset, low.lastWrite)
	}
	data := make([]byte, 1)
	if !b.Read(0x60, data) || data[0] != 0x22 {
		t.Fatalf("read 0x60 = %x", data)
	}
	// An access running past the device's range is not the device's.
	data = make([]byte, 2)
	if b.Read(0x3ff, data) || !bytes.Equal(data, []byte{0xff, 0xff}) {
		t.Fatalf("straddling read claimed or not all-ones: %x", data)
	}
	if b.Write(0x1234, []byte{1}) {
		t.Fatal("write to nothing claimed")
	}
	if b.Read(math.MaxUint64, make([]byte, 4)) {
		t.Fatal("read at the top of the space claimed")
	}
}

func TestMove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		from, to     uint64
		ok           bool
		atOld, atNew bool // who answers afterwards
	}{
		{"to free space", 0x100, 0x400, true, false, true},
		{"onto itself shifted", 0x100, 0x108, true, false, true},
		{"onto the other device", 0x100, 0x1f8, false, true, false},
		{"nothing there", 0x104, 0x400, false, true, false},
		{"wraps", 0x100, math.MaxUint64 - 4, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b Bus
			dev, other := &recorder{fill: 0xaa}, &recorder{fill: 0xbb}
			if err := b.Insert(0x100, 0x10, dev); err != nil {
				t.Fatal(err)
			}
			if err := b.Insert(0x200, 0x10, other); err != nil {
				t.Fatal(err)
			}
			if err := b.Move(tc.from, tc.to); (err == nil) != tc.ok {
				t.Fatalf("Move(%#x, %#x) = %v, want ok %v", tc.from, tc.to, err, tc.ok)
			}
			answers := func(addr uint64) bool {
				var d [1]byte
				return b.Read(addr, d[:]) && d[0] == 0xaa
			}
			if got := answers(0x100); got != tc.atOld {
				t.Errorf("device answers at its old base: %v, want %v", got, tc.atOld)
			}
			if got := answers(tc.to); got != tc.atNew {
				t.Errorf("device answers at %#x: %v, want %v", tc.to, got, tc.atNew)
			}
			if d := [1]byte{}; !b.Read(0x200, d[:]) || d[0] != 0xbb {
				t.Error("the other device no longer answers")
			}
		})
	}
}
