package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/vmm"
)

func TestParseDisk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want vmm.Disk
		ok   bool
	}{
		{"disk.img", vmm.Disk{Path: "disk.img"}, true},
		{"path=disk.img", vmm.Disk{Path: "disk.img"}, true},
		{"path=disk.img,ro=on", vmm.Disk{Path: "disk.img", ReadOnly: true}, true},
		{"disk.img,ro=off", vmm.Disk{Path: "disk.img"}, true},
		{"", vmm.Disk{}, false},
		{"ro=on", vmm.Disk{}, false},
		{"disk.img,ro=maybe", vmm.Disk{}, false},
		{"disk.img,cache=none", vmm.Disk{}, false},
		{"path=a,path=b", vmm.Disk{}, false},
		{"disk.img,transport=mmio", vmm.Disk{Path: "disk.img", Transport: vmm.TransportMMIO}, true},
		{"path=disk.img,transport=pci", vmm.Disk{Path: "disk.img", Transport: vmm.TransportPCI}, true},
		{"disk.img,transport=isa", vmm.Disk{}, false},
		{"disk.img,bps=10M,iops=500", vmm.Disk{Path: "disk.img", Limit: vmm.RateLimit{
			Bytes: ratelimit.Bucket{Rate: 10e6}, Ops: ratelimit.Bucket{Rate: 500}}}, true},
		{"disk.img,bps=1Mi,bps-burst=64Mi,iops=1k,iops-burst=10K", vmm.Disk{Path: "disk.img", Limit: vmm.RateLimit{
			Bytes: ratelimit.Bucket{Rate: 1 << 20, OneTimeBurst: 64 << 20}, Ops: ratelimit.Bucket{Rate: 1000, OneTimeBurst: 10000}}}, true},
		{"disk.img,bps=0", vmm.Disk{}, false},
		{"disk.img,bps=fast", vmm.Disk{}, false},
		{"disk.img,iops=-1", vmm.Disk{}, false},
		{"disk.img,bps-burst=1M", vmm.Disk{}, false}, // a burst without a rate
		{"disk.img,bps=1M,bps=2M", vmm.Disk{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseDisk(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseDisk(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseNet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want vmm.Net
		ok   bool
	}{
		{"tap=tap0", vmm.Net{Tap: "tap0"}, true},
		{"tap=tap0,mac=02:00:00:00:00:01", vmm.Net{Tap: "tap0", MAC: "02:00:00:00:00:01"}, true},
		{"tap0", vmm.Net{}, false},
		{"mac=02:00:00:00:00:01", vmm.Net{}, false},
		{"tap=tap0,vhost=on", vmm.Net{}, false},
		{"tap=tap0,transport=mmio", vmm.Net{Tap: "tap0", Transport: vmm.TransportMMIO}, true},
		{"tap=tap0,transport=", vmm.Net{Tap: "tap0"}, true},
		{"tap=tap0,transport=usb", vmm.Net{}, false},
		{"tap=tap0,rx-bps=1M,tx-bps=2Mi,tx-bps-burst=10M", vmm.Net{Tap: "tap0",
			RxLimit: vmm.RateLimit{Bytes: ratelimit.Bucket{Rate: 1e6}},
			TxLimit: vmm.RateLimit{Bytes: ratelimit.Bucket{Rate: 2 << 20, OneTimeBurst: 10e6}}}, true},
		{"tap=tap0,rx-bps=1Q", vmm.Net{}, false},
		{"tap=tap0,rx-bps-burst=1M", vmm.Net{}, false},
		{"tap=tap0,bps=1M", vmm.Net{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseNet(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("parseNet(%q) = %+v, %v; want %+v ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestParseConsole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		dev       vmm.ConsoleDevice
		transport vmm.Transport
		file      string
		limit     ratelimit.Bucket
		ok        bool
	}{
		{"", vmm.ConsoleSerial, "", "", ratelimit.Bucket{}, true},
		{"serial", vmm.ConsoleSerial, "", "", ratelimit.Bucket{}, true},
		{"virtio", vmm.ConsoleVirtio, "", "", ratelimit.Bucket{}, true},
		{"out.log", "", "", "", ratelimit.Bucket{}, false}, // a bare word is no file: a typo must not become one
		{"bogus", "", "", "", ratelimit.Bucket{}, false},
		{"file=", "", "", "", ratelimit.Bucket{}, false},
		{"virtio,file=", "", "", "", ratelimit.Bucket{}, false},
		{"file=a.log,file=b.log", "", "", "", ratelimit.Bucket{}, false},
		{"file=out.log", vmm.ConsoleSerial, "", "out.log", ratelimit.Bucket{}, true},
		{"virtio,file=out.log", vmm.ConsoleVirtio, "", "out.log", ratelimit.Bucket{}, true},
		{"virtio,transport=mmio", vmm.ConsoleVirtio, vmm.TransportMMIO, "", ratelimit.Bucket{}, true},
		{"virtio,transport=pci,file=out.log", vmm.ConsoleVirtio, vmm.TransportPCI, "out.log", ratelimit.Bucket{}, true},
		{"serial,transport=pci", "", "", "", ratelimit.Bucket{}, false},
		{"virtio,transport=isa", "", "", "", ratelimit.Bucket{}, false},
		{"speed=9600", "", "", "", ratelimit.Bucket{}, false},
		{"a.log,b.log", "", "", "", ratelimit.Bucket{}, false},
		{"serial,virtio,file=out.log", vmm.ConsoleVirtio, "", "out.log", ratelimit.Bucket{}, true},
		{"serial,bps=64K", vmm.ConsoleSerial, "", "", ratelimit.Bucket{Rate: 64000}, true},
		{"virtio,bps=1Mi,bps-burst=4Mi,file=out.log", vmm.ConsoleVirtio, "", "out.log", ratelimit.Bucket{Rate: 1 << 20, OneTimeBurst: 4 << 20}, true},
		{"bps=64K,bps=1M", "", "", "", ratelimit.Bucket{}, false},
		{"bps=", "", "", "", ratelimit.Bucket{}, false},
		{"serial,bps-burst=1M", "", "", "", ratelimit.Bucket{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseConsole(tc.in)
			want := consoleOptions{dev: tc.dev, transport: tc.transport, file: tc.file, limit: tc.limit}
			if (err == nil) != tc.ok || (tc.ok && got != want) {
				t.Fatalf("parseConsole(%q) = %+v, %v; want %+v", tc.in, got, err, want)
			}
		})
	}
}

func TestParseRNG(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		on        bool
		transport vmm.Transport
		ok        bool
	}{
		{"on", true, "", true},
		{"off", false, "", true},
		{"transport=mmio", true, vmm.TransportMMIO, true},
		{"transport=pci", true, vmm.TransportPCI, true},
		{"transport=isa", false, "", false},
		{"speed=fast", false, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			on, transport, err := parseRNG(tc.in)
			if (err == nil) != tc.ok || (tc.ok && (on != tc.on || transport != tc.transport)) {
				t.Fatalf("parseRNG(%q) = %v, %q, %v; want %v, %q ok=%v", tc.in, on, transport, err, tc.on, tc.transport, tc.ok)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want uint64 // 0: refused
	}{
		{"1", 1},
		{"1500", 1500},
		{"10K", 10e3},
		{"10k", 10e3},
		{"10Ki", 10 << 10},
		{"3M", 3e6},
		{"3Mi", 3 << 20},
		{"2G", 2e9},
		{"2Gi", 2 << 30},
		{"1T", 1e12},
		{"1Ti", 1 << 40},
		{"8192Ti", ratelimit.MaxTokens},
		{"8193Ti", 0}, // over MaxTokens
		{"0", 0},
		{"0M", 0},
		{"", 0},
		{"M", 0},
		{"1.5M", 0},
		{"-1", 0},
		{"1m", 0}, // milli is no size
		{"1KiB", 0},
		{"18446744073709551616", 0},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseAmount(tc.in)
			if got != tc.want || (err == nil) != (tc.want != 0) {
				t.Fatalf("parseAmount(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// A bad value's message names the option.
func TestParseBucketNamesOption(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"disk.img,iops=lots", "disk.img,bps-burst=0,bps=1"} {
		_, err := parseDisk(in)
		key, _, _ := strings.Cut(strings.Split(in, ",")[1], "=")
		if err == nil || !strings.HasPrefix(err.Error(), key+"=") {
			t.Errorf("parseDisk(%q) = %v; want an error starting %q", in, err, key+"=")
		}
	}
}

func TestParseBalloon(t *testing.T) {
	t.Parallel()
	all := &vmm.Balloon{Stats: true, DeflateOnOOM: true, Reporting: true}
	tests := []struct {
		in   string
		want *vmm.Balloon
		bad  bool
	}{
		{"off", nil, false},
		{"on", all, false},
		{"stats=off", &vmm.Balloon{DeflateOnOOM: true, Reporting: true}, false},
		{"reporting=off,deflate-on-oom=off,transport=mmio", &vmm.Balloon{Stats: true, Transport: vmm.TransportMMIO}, false},
		{"stats=maybe", nil, true},
		{"stats=", nil, true},
		{"size=1G", nil, true},
		{"transport=isa", nil, true},
		{"stats=on,stats=off", nil, true},
	}
	for _, tc := range tests {
		got, err := parseBalloon(tc.in)
		if (err != nil) != tc.bad || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseBalloon(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
