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
