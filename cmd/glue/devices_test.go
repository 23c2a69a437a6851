package main

import (
	"testing"

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
		ok        bool
	}{
		{"", vmm.ConsoleSerial, "", "", true},
		{"serial", vmm.ConsoleSerial, "", "", true},
		{"virtio", vmm.ConsoleVirtio, "", "", true},
		{"out.log", "", "", "", false}, // a bare word is no file: a typo must not become one
		{"bogus", "", "", "", false},
		{"file=", "", "", "", false},
		{"virtio,file=", "", "", "", false},
		{"file=a.log,file=b.log", "", "", "", false},
		{"file=out.log", vmm.ConsoleSerial, "", "out.log", true},
		{"virtio,file=out.log", vmm.ConsoleVirtio, "", "out.log", true},
		{"virtio,transport=mmio", vmm.ConsoleVirtio, vmm.TransportMMIO, "", true},
		{"virtio,transport=pci,file=out.log", vmm.ConsoleVirtio, vmm.TransportPCI, "out.log", true},
		{"serial,transport=pci", "", "", "", false},
		{"virtio,transport=isa", "", "", "", false},
		{"speed=9600", "", "", "", false},
		{"a.log,b.log", "", "", "", false},
		{"serial,virtio,file=out.log", vmm.ConsoleVirtio, "", "out.log", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			dev, transport, file, err := parseConsole(tc.in)
			if (err == nil) != tc.ok || (tc.ok && (dev != tc.dev || transport != tc.transport || file != tc.file)) {
				t.Fatalf("parseConsole(%q) = %q, %q, %q, %v", tc.in, dev, transport, file, err)
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
