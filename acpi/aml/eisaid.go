package aml

import "fmt"

// EISAID compresses a seven-character PnP id such as "PNP0A08" (three
// letters, four hex digits) into the 32-bit value ASL's EISAID() produces:
// each letter in five bits (A=1), then the hex digits, stored big-endian in
// a little-endian DWord.
func EISAID(id string) (uint32, error) {
	if len(id) != 7 {
		return 0, fmt.Errorf("aml: EISAID %q: want 3 letters and 4 hex digits", id)
	}
	var v uint32
	for i := 0; i < 3; i++ {
		c := id[i]
		if c < 'A' || c > 'Z' {
			return 0, fmt.Errorf("aml: EISAID %q: %q is not an upper-case letter", id, c)
		}
		v = v<<5 | uint32(c-'@')
	}
	for i := 3; i < 7; i++ {
		d, ok := hexDigit(id[i])
		if !ok {
			return 0, fmt.Errorf("aml: EISAID %q: %q is not a hex digit", id, id[i])
		}
		v = v<<4 | uint32(d)
	}
	// v holds the id big-endian in its low 31 bits; the DWord's bytes are in
	// that order.
	return v>>24 | (v>>8)&0xff00 | (v<<8)&0xff0000 | v<<24, nil
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// EISAIDTerm is the integer constant EISAID(id).
func EISAIDTerm(id string) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		v, err := EISAID(id)
		if err != nil {
			return nil, err
		}
		return appendLE(append(b, dwordPrefix), uint64(v), 4), nil
	})
}
