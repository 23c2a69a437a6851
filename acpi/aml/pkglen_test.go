package aml

import (
	"bytes"
	"testing"
)

func TestPackageLengthBoundaries(t *testing.T) {
	t.Parallel()
	// The PkgLength of a package counts itself: a body of 62 bytes fits one
	// byte (63 in all), 63 needs two (65 in all), and so on at 4095 and
	// 1048575, the largest values of two and three bytes.
	tests := []struct {
		name    string
		bodyLen int
		want    []byte
	}{
		{"empty", 0, []byte{0x01}},
		{"largest 1-byte", 62, []byte{0x3f}},
		{"smallest 2-byte", 63, []byte{0x41, 0x04}},                    // 65
		{"largest 2-byte", 4093, []byte{0x4f, 0xff}},                   // 4095
		{"smallest 3-byte", 4094, []byte{0x81, 0x00, 0x01}},            // 4097
		{"largest 3-byte", 1<<20 - 4, []byte{0x8f, 0xff, 0xff}},        // 1048575
		{"smallest 4-byte", 1<<20 - 3, []byte{0xc1, 0x00, 0x00, 0x01}}, // 1048577
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := make([]byte, tc.bodyLen)
			got, err := appendPackage(nil, body)
			if err != nil {
				t.Fatal(err)
			}
			if head := got[:len(got)-tc.bodyLen]; !bytes.Equal(head, tc.want) {
				t.Errorf("PkgLength of a %d-byte body = % x, want % x", tc.bodyLen, head, tc.want)
			}
			if n := decodePkgLength(t, got); n != len(got) {
				t.Errorf("PkgLength decodes to %d, package is %d bytes", n, len(got))
			}
		})
	}
}

// decodePkgLength decodes a PkgLength as an AML parser does.
func decodePkgLength(t *testing.T, b []byte) int {
	t.Helper()
	n := int(b[0] >> 6)
	if n == 0 {
		return int(b[0] & 0x3f)
	}
	v := int(b[0] & 0x0f)
	for i := 1; i <= n; i++ {
		v |= int(b[i]) << (4 + 8*(i-1))
	}
	return v
}

func TestPkgLengthValue(t *testing.T) {
	t.Parallel()
	// Field elements encode their bit count as a PkgLength that does not
	// count itself.
	tests := []struct {
		name string
		v    int
		want []byte
	}{
		{"zero", 0, []byte{0x00}},
		{"32 bits", 32, []byte{0x20}},
		{"63", 63, []byte{0x3f}},
		{"64", 64, []byte{0x40, 0x04}},
		{"4095", 4095, []byte{0x4f, 0xff}},
		{"4096", 4096, []byte{0x80, 0x00, 0x01}},
		{"largest", 1<<28 - 1, []byte{0xcf, 0xff, 0xff, 0xff}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := appendPkgLenValue(nil, tc.v)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("appendPkgLenValue(%d) = % x, %v; want % x", tc.v, got, err, tc.want)
			}
		})
	}
	if _, err := appendPkgLenValue(nil, 1<<28); err == nil {
		t.Error("a length of 2^28 was accepted")
	}
}
