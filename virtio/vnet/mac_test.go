package vnet_test

import (
	"errors"
	"testing"

	"github.com/gluevmm/glue/virtio/vnet"
)

// Golden values, computed once outside Go (printf 'glue virtio-net
// MAC\0NAME' | sha256sum, first 6 bytes, then byte 0 &^ 1 | 2): a change
// of the hash input or of the bit fix-up changes every VM's address, which
// users see as a new NIC. The raw first byte is in each comment; between
// them they take every path of the fix-up (I/G cleared, U/L set, both,
// neither).
func TestMACFromName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, want string
	}{
		{"", "0e:c7:eb:78:b1:90"},                    // raw 0x0e: already unicast, local
		{"vm", "1a:18:dd:9c:9e:a5"},                  // raw 0x19: both bits fixed
		{"vm/0", "26:f6:91:70:37:38"},                // raw 0x26
		{"vm/1", "b2:81:1a:4c:f2:ea"},                // raw 0xb1: I/G cleared, U/L set
		{"web/0", "fa:2e:1a:74:01:b6"},               // raw 0xf9: I/G cleared
		{"a-very-long-name/12", "16:a7:f1:f8:4b:89"}, // raw 0x17: I/G cleared
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mac := vnet.MACFromName(tc.name)
			if mac.String() != tc.want {
				t.Errorf("MACFromName(%q) = %v, want %s", tc.name, mac, tc.want)
			}
			if len(mac) != 6 || mac[0]&1 != 0 || mac[0]&2 == 0 {
				t.Errorf("%v is not a locally administered unicast EUI-48", mac)
			}
			if _, err := vnet.ParseMAC(mac.String()); err != nil {
				t.Errorf("%v does not parse back: %v", mac, err)
			}
		})
	}
}

func TestParseMAC(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string // canonical form, or "" for an error
		err  error
	}{
		{in: "52:54:00:12:34:56", want: "52:54:00:12:34:56"},
		{in: "02-67-6C-75-65-00", want: "02:67:6c:75:65:00"},
		{in: "0267.6c75.6500", want: "02:67:6c:75:65:00"},
		{in: "00:00:00:00:00:00", err: vnet.ErrMACZero},
		{in: "01:00:5e:00:00:01", err: vnet.ErrMACMulticast},
		{in: "ff:ff:ff:ff:ff:ff", err: vnet.ErrMACMulticast},
		{in: "02:00:00:00:00:00:00:01", err: vnet.ErrMACLength},
		{in: "52:54:00:12:34"},
		{in: "02:67-6c:75:65:00"},
		{in: "02:676c:75:65:00"},
		{in: "0267.6c75.650"},
		{in: "02:67:6c:75:65:0g"},
		{in: "not a mac"},
		{in: ""},
	} {
		mac, err := vnet.ParseMAC(tc.in)
		switch {
		case tc.want != "" && (err != nil || mac.String() != tc.want):
			t.Errorf("ParseMAC(%q) = %v, %v; want %s", tc.in, mac, err, tc.want)
		case tc.want == "" && err == nil:
			t.Errorf("ParseMAC(%q) = %v, want an error", tc.in, mac)
		case tc.err != nil && !errors.Is(err, tc.err):
			t.Errorf("ParseMAC(%q): %v, want %v", tc.in, err, tc.err)
		}
	}
}
