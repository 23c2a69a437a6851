package pci_test

import (
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/pci"
)

func cf8(bus, dev, fn, reg uint32) uint32 { return 1<<31 | bus<<16 | dev<<11 | fn<<8 | reg&0xfc }

func ecamOffset(bus, dev, fn, reg uint32) uint64 {
	return uint64(bus)<<20 | uint64(dev)<<15 | uint64(fn)<<12 | uint64(reg)
}

func dword(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

func TestConfigAddressRegister(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		off   uint64
		write []byte
		want  uint32 // CONFIG_ADDRESS read back as a dword
	}{
		{"dword write is kept", 0, dword(0x8000_0804), 0x8000_0804},
		{"bits 1:0 and 30:28 read zero", 0, dword(0xffff_ffff), 0x8fff_fffc},
		{"byte write is not CONFIG_ADDRESS", 0, []byte{0x80}, 0},
		{"word write is not CONFIG_ADDRESS", 2, []byte{0, 0x80}, 0},
		{"byte at 0xcfb (Linux's type-1 probe)", 3, []byte{1}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			io := newRig(t).root.ConfigIO()
			io.Write(tc.off, tc.write)
			got := make([]byte, 4)
			io.Read(0, got)
			if v := binary.LittleEndian.Uint32(got); v != tc.want {
				t.Fatalf("CONFIG_ADDRESS %#x, want %#x", v, tc.want)
			}
		})
	}
	t.Run("narrow reads of CONFIG_ADDRESS read all ones", func(t *testing.T) {
		t.Parallel()
		io := newRig(t).root.ConfigIO()
		io.Write(0, dword(0x8000_0000))
		for _, n := range []int{1, 2} {
			d := make([]byte, n)
			io.Read(0, d)
			if le(d) != 1<<(8*n)-1 {
				t.Fatalf("%d-byte read % x", n, d)
			}
		}
	})
}

func TestConfigData(t *testing.T) {
	t.Parallel()
	const id = testDevice<<16 | testVendor
	for _, tc := range []struct {
		name    string
		address uint32
		off     uint64 // into the ConfigIO device: 4 is 0xcfc
		n       int
		want    uint32
	}{
		{"dword", cf8(0, 1, 0, 0), 4, 4, id},
		{"word at 0xcfe", cf8(0, 1, 0, 0), 6, 2, testDevice},
		{"byte at 0xcfd", cf8(0, 1, 0, 0), 5, 1, testVendor >> 8},
		{"word at 0xcfd", cf8(0, 1, 0, 0), 5, 2, id >> 8 & 0xffff},
		{"dword at 0xcfd crosses 0xcff", cf8(0, 1, 0, 0), 5, 4, 0xffff_ffff},
		{"word at 0xcff crosses", cf8(0, 1, 0, 0), 7, 2, 0xffff},
		{"enable bit clear", cf8(0, 1, 0, 0) &^ (1 << 31), 4, 4, 0xffff_ffff},
		{"bus 1", cf8(1, 1, 0, 0), 4, 4, 0xffff_ffff},
		{"absent device", cf8(0, 4, 0, 0), 4, 4, 0xffff_ffff},
		{"absent function of a present device", cf8(0, 1, 1, 0), 4, 4, 0xffff_ffff},
		{"host bridge", cf8(0, 0, 0, 0), 4, 4, pci.HostBridgeDeviceID<<16 | pci.HostBridgeVendorID},
		{"register bits 11:8 in 27:24 reach extended space", cf8(0, 1, 0, 0) | 1<<24, 4, 4, 0},
		{"register bits 1:0 of CONFIG_ADDRESS are ignored", cf8(0, 1, 0, 8) | 3, 4, 1, testRevision},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			io := newRig(t).root.ConfigIO()
			io.Write(0, dword(tc.address))
			d := make([]byte, tc.n)
			io.Read(tc.off, d)
			if got := le(d); got != tc.want {
				t.Fatalf("read %#x", got)
			}
		})
	}
	t.Run("writes go through CONFIG_DATA at their byte offset", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		io := r.root.ConfigIO()
		io.Write(0, dword(cf8(0, 1, 0, 0x3c)))
		io.Write(4, []byte{0x0a}) // interrupt line at 0x3c
		io.Write(5, []byte{0x7})  // interrupt pin at 0x3d: read-only
		io.Write(4, dword(0))     // whole dword
		io.Write(4, []byte{0x0b})
		io.Write(7, []byte{0, 0}) // crosses: dropped
		if got := r.read(devSlot, 0x3c, 2); got != 0x010b {
			t.Fatalf("line/pin %#x, want 0x010b", got)
		}
		io.Write(0, dword(cf8(0, 1, 0, 0x3c)&^(1<<31)))
		io.Write(4, []byte{0x0c})
		if got := r.read(devSlot, 0x3c, 1); got != 0x0b {
			t.Fatalf("write with the enable bit clear landed: %#x", got)
		}
	})
}

func TestECAM(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	e := r.root.ECAM()
	read := func(off uint64, n int) uint64 {
		d := make([]byte, n)
		e.Read(off, d)
		return le64(d)
	}
	for _, tc := range []struct {
		name string
		off  uint64
		n    int
		want uint64
	}{
		{"dword", ecamOffset(0, 1, 0, 0), 4, testDevice<<16 | testVendor},
		{"qword: vendor..status", ecamOffset(0, 1, 0, 0), 8, (1<<4)<<48 | testDevice<<16 | testVendor},
		{"misaligned qword", ecamOffset(0, 1, 0, 4), 8, 1<<64 - 1},
		{"crossing word", ecamOffset(0, 1, 0, 3), 2, 0xffff},
		{"bus 1", ecamOffset(1, 1, 0, 0), 4, 0xffff_ffff},
		{"bus 255", ecamOffset(255, 31, 7, 0xffc), 4, 0xffff_ffff},
		{"past 256 buses", 256 << 20, 4, 0xffff_ffff},
		{"extended register", ecamOffset(0, 1, 0, 0x100), 4, 0},
		{"function 1", ecamOffset(0, 1, 1, 0), 2, 0xffff},
	} {
		if got := read(tc.off, tc.n); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
	e.Write(ecamOffset(0, 1, 0, 0x38), binary.LittleEndian.AppendUint64(nil, 9<<32))
	if got := r.read(devSlot, 0x3c, 1); got != 9 {
		t.Fatalf("qword write: interrupt line %#x, want 9", got)
	}
}

// TestConfigIOAndECAMAgree reads every register of every slot through both
// mechanisms after the same writes through either, and expects the same
// bytes at every width.
func TestConfigIOAndECAMAgree(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	io, e := r.root.ConfigIO(), r.root.ECAM()
	viaIO := func(dev, reg uint32, d []byte, write bool) {
		io.Write(0, dword(cf8(0, dev, 0, reg)))
		if write {
			io.Write(4+uint64(reg&3), d)
		} else {
			io.Read(4+uint64(reg&3), d)
		}
	}
	// Program some state through each mechanism.
	viaIO(1, 0x04, []byte{0x06, 0x04}, true)
	e.Write(ecamOffset(0, 1, 0, 0x3c), []byte{0x0e})
	e.Write(ecamOffset(0, 1, 0, 0x10), dword(0xffff_ffff))
	viaIO(1, 0x4a, []byte{0x00, 0xc0}, true)
	for _, dev := range []uint32{0, 1, 2, 3} {
		for reg := uint32(0); reg < 0x100; reg++ {
			for _, n := range []int{1, 2, 4} {
				a, b := make([]byte, n), make([]byte, n)
				if int(reg&3)+n > 4 {
					continue
				}
				viaIO(dev, reg, a, false)
				e.Read(ecamOffset(0, dev, 0, reg), b)
				if string(a) != string(b) {
					t.Fatalf("00:%02x.0 reg %#x/%d: CF8/CFC % x, ECAM % x", dev, reg, n, a, b)
				}
			}
		}
	}
}
