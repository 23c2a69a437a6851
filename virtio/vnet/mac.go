package vnet

import (
	"crypto/sha256"
	"errors"
	"fmt"
	stdnet "net"
)

// MACFromName returns a stable MAC address for name (for example a VM's
// name and the device's index, "web/0"): locally administered, unicast,
// with the other 46 bits from a SHA-256 of name, so it never collides with
// a vendor's address and the same VM gets the same address every run.
func MACFromName(name string) stdnet.HardwareAddr {
	sum := sha256.Sum256([]byte("glue virtio-net MAC\x00" + name))
	mac := stdnet.HardwareAddr(sum[:6:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast (I/G = 0), locally administered (U/L = 1)
	return mac
}

// ParseMAC parses an EUI-48 address in any form net.ParseMAC accepts and
// checks that a NIC may use it: unicast and not all zeros.
func ParseMAC(s string) (stdnet.HardwareAddr, error) {
	mac, err := stdnet.ParseMAC(s)
	if err != nil {
		return nil, fmt.Errorf("virtio-net: %w", err)
	}
	if err := validMAC(mac); err != nil {
		return nil, fmt.Errorf("virtio-net: MAC %s: %w", s, err)
	}
	return mac, nil
}

// Errors of MAC validation.
var (
	ErrMACLength    = errors.New("not a 6-byte (EUI-48) address")
	ErrMACMulticast = errors.New("multicast address")
	ErrMACZero      = errors.New("all-zero address")
)

func validMAC(mac stdnet.HardwareAddr) error {
	switch {
	case len(mac) != 6:
		return ErrMACLength
	case mac[0]&0x01 != 0:
		return ErrMACMulticast
	case [6]byte(mac) == [6]byte{}:
		return ErrMACZero
	}
	return nil
}
