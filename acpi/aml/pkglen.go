package aml

import "fmt"

// A PkgLength (ACPI 6.5 §20.2.4) is one to four bytes. With one byte, bits
// 0-5 hold the value (< 64). Otherwise bits 6-7 of the lead byte count the
// bytes that follow (1-3), bits 0-3 hold the low nibble of the value, and
// each following byte the next eight bits: 12, 20 or 28 bits in all.
const (
	pkgLenOneByteMax = 1<<6 - 1
	pkgLenMax        = 1<<28 - 1
)

// pkgLenSize returns how many bytes encode the raw value v.
func pkgLenSize(v int) int {
	switch {
	case v <= pkgLenOneByteMax:
		return 1
	case v < 1<<12:
		return 2
	case v < 1<<20:
		return 3
	default:
		return 4
	}
}

// appendPkgLenValue encodes v itself: used by field elements, whose
// PkgLength is a bit count.
func appendPkgLenValue(b []byte, v int) ([]byte, error) {
	if v < 0 || v > pkgLenMax {
		return nil, fmt.Errorf("aml: package length %d out of range [0, %d]", v, pkgLenMax)
	}
	n := pkgLenSize(v)
	if n == 1 {
		return append(b, byte(v)), nil
	}
	b = append(b, byte(n-1)<<6|byte(v&0x0f))
	for i := 1; i < n; i++ {
		b = append(b, byte(v>>(4+8*(i-1))))
	}
	return b, nil
}

// appendPackage appends a PkgLength for a body of bodyLen bytes and then
// the body: the length of a package counts its own PkgLength bytes.
func appendPackage(b, body []byte) ([]byte, error) {
	total := len(body) + 1
	for pkgLenSize(total) != total-len(body) {
		total++
	}
	b, err := appendPkgLenValue(b, total)
	if err != nil {
		return nil, err
	}
	return append(b, body...), nil
}
