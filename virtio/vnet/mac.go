package vnet

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gluevmm/glue/internal/sha256"
)

// MAC is an EUI-48 address. It is this package's own type, not
// net.HardwareAddr: package net would link cgo into glue.
type MAC [6]byte

// String formats m as six colon-separated lower-case hex bytes, as
// net.HardwareAddr does.
func (m MAC) String() string {
	var b strings.Builder
	for i, x := range m {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x", x)
	}
	return b.String()
}

// MACFromName returns a stable MAC address for name (for example a VM's
// name and the device's index, "web/0"): locally administered, unicast,
// with the other 46 bits from a SHA-256 of name, so it never collides with
// a vendor's address and the same VM gets the same address every run.
func MACFromName(name string) MAC {
	sum := sha256.Sum256([]byte("glue virtio-net MAC\x00" + name))
	mac := MAC(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast (I/G = 0), locally administered (U/L = 1)
	return mac
}

// ParseMAC parses an address written as hex bytes separated by colons or
// hyphens (52:54:00:12:34:56, 52-54-00-12-34-56) or as dot-separated
// groups of four hex digits (5254.0012.3456), the forms net.ParseMAC
// accepts, and checks that a NIC may use it: EUI-48, unicast and not all
// zeros.
func ParseMAC(s string) (MAC, error) {
	b, ok := parseHexGroups(s)
	if !ok {
		return MAC{}, fmt.Errorf("virtio-net: address %s: invalid MAC address", s)
	}
	if len(b) != len(MAC{}) {
		return MAC{}, fmt.Errorf("virtio-net: MAC %s: %w", s, ErrMACLength)
	}
	mac := MAC(b)
	if err := validMAC(mac); err != nil {
		return MAC{}, fmt.Errorf("virtio-net: MAC %s: %w", s, err)
	}
	return mac, nil
}

// parseHexGroups decodes s, groups of hex digits (two per group with ':'
// or '-' between them, four with '.') all separated by the same character.
func parseHexGroups(s string) ([]byte, bool) {
	var sep byte
	var width int
	switch {
	case len(s) > 2 && (s[2] == ':' || s[2] == '-'):
		sep, width = s[2], 2
	case len(s) > 4 && s[4] == '.':
		sep, width = '.', 4
	default:
		return nil, false
	}
	var out []byte
	for group := range strings.SplitSeq(s, string(sep)) {
		if len(group) != width {
			return nil, false
		}
		b, err := hex.DecodeString(group)
		if err != nil {
			return nil, false
		}
		out = append(out, b...)
	}
	return out, true
}

// Errors of MAC validation.
var (
	ErrMACLength    = errors.New("not a 6-byte (EUI-48) address")
	ErrMACMulticast = errors.New("multicast address")
	ErrMACZero      = errors.New("all-zero address")
)

func validMAC(mac MAC) error {
	switch {
	case mac[0]&0x01 != 0:
		return ErrMACMulticast
	case mac == MAC{}:
		return ErrMACZero
	}
	return nil
}
