package vnet_test

import (
	"errors"
	"testing"

	"github.com/gluevmm/glue/virtio/vnet"
)

func TestMACFromName(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, name := range []string{"", "vm", "vm/0", "vm/1", "web/0", "a-very-long-name/12"} {
		mac := vnet.MACFromName(name)
		if len(mac) != 6 || mac[0]&1 != 0 || mac[0]&2 == 0 {
			t.Errorf("%q: %v is not a locally administered unicast EUI-48", name, mac)
		}
		if mac.String() != vnet.MACFromName(name).String() {
			t.Errorf("%q: not stable", name)
		}
		if other, ok := seen[mac.String()]; ok {
			t.Errorf("%q and %q both get %v", name, other, mac)
		}
		seen[mac.String()] = name
		if _, err := vnet.ParseMAC(mac.String()); err != nil {
			t.Errorf("%q: %v does not parse back: %v", name, mac, err)
		}
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
