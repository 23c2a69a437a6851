package aml

import (
	"fmt"
	"strings"
)

// Name string prefixes (ACPI 6.5 §20.2.2).
const (
	rootChar         = '\\'
	parentPrefixChar = '^'
	dualNamePrefix   = 0x2e
	multiNamePrefix  = 0x2f
	nullName         = 0x00
	nameSegLen       = 4
	maxMultiSegments = 255
)

// appendNameString encodes path: an optional root prefix `\` or any number
// of parent prefixes `^`, then dot-separated segments of one to four
// characters from [A-Z0-9_] (not starting with a digit), each padded with
// `_` to four. "\" alone is the root itself.
func appendNameString(b []byte, path string) ([]byte, error) {
	rest := path
	switch {
	case strings.HasPrefix(rest, `\`):
		b = append(b, rootChar)
		rest = rest[1:]
	default:
		for strings.HasPrefix(rest, "^") {
			b = append(b, parentPrefixChar)
			rest = rest[1:]
		}
	}
	if rest == "" {
		if len(rest) == len(path) {
			return nil, fmt.Errorf("aml: empty name")
		}
		return append(b, nullName), nil
	}
	segs := strings.Split(rest, ".")
	switch n := len(segs); {
	case n == 2:
		b = append(b, dualNamePrefix)
	case n > maxMultiSegments:
		return nil, fmt.Errorf("aml: name %q has %d segments, at most %d", path, n, maxMultiSegments)
	case n > 2:
		b = append(b, multiNamePrefix, byte(n))
	}
	for _, s := range segs {
		var err error
		if b, err = appendNameSeg(b, s); err != nil {
			return nil, fmt.Errorf("aml: name %q: %w", path, err)
		}
	}
	return b, nil
}

// appendNameSeg encodes one four-character name segment.
func appendNameSeg(b []byte, seg string) ([]byte, error) {
	if len(seg) == 0 || len(seg) > nameSegLen {
		return nil, fmt.Errorf("segment %q: want 1 to %d characters", seg, nameSegLen)
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		lead := c == '_' || (c >= 'A' && c <= 'Z')
		if !lead && !(i > 0 && c >= '0' && c <= '9') {
			return nil, fmt.Errorf("segment %q: invalid character %q at %d", seg, c, i)
		}
	}
	b = append(b, seg...)
	for i := len(seg); i < nameSegLen; i++ {
		b = append(b, '_')
	}
	return b, nil
}
