package acpi

import (
	"encoding/binary"
	"testing"
)

// FuzzPower drives the power device with guest accesses decoded from the
// input: per access a byte of kind (bit 0: write, bit 1: press the button
// first), a byte of offset, a byte of width (0-8), then the data of a
// write. No access may panic; power-off and reset happen only on the
// documented writes, and reads outside the event register are zero.
func FuzzPower(f *testing.F) {
	f.Add([]byte{0x02, RegEvent, 4, 0x00, RegEvent, 4})
	f.Add([]byte{0x01, RegSleepControl, 1, SleepTypeS5<<2 | 1<<5})
	f.Add([]byte{0x01, RegReset, 1, ResetValue, 0x00, RegReset, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		var offs, resets int
		p := NewPower(PowerActions{PowerOff: func() { offs++ }, Reset: func() { resets++ }})
		for len(in) >= 3 {
			kind, offset, width := in[0], uint64(in[1]), int(in[2]%9)
			in = in[3:]
			if kind&2 != 0 {
				p.PressPowerButton()
			}
			data := make([]byte, width)
			if kind&1 == 0 {
				p.Read(offset, data)
				if offset != RegEvent || width > 4 {
					for _, v := range data {
						if v != 0 {
							t.Fatalf("read of %d bytes at %#x returned % x", width, offset, data)
						}
					}
				}
				continue
			}
			n := copy(data, in)
			in = in[n:]
			wantOff, wantReset := offs, resets
			for i, v := range data {
				switch offset + uint64(i) {
				case RegSleepControl:
					if v&0x3c == SleepTypeS5<<2|1<<5 {
						wantOff++
					}
				case RegReset:
					if v == ResetValue {
						wantReset++
					}
				}
			}
			p.Write(offset, data)
			if offs != wantOff || resets != wantReset {
				t.Fatalf("write % x at %#x: %d power-offs, %d resets; want %d, %d", data, offset, offs, resets, wantOff, wantReset)
			}
		}
	})
}

// FuzzFindRSDP scans arbitrary memory: it never panics, and what it finds
// is a valid RSDP.
func FuzzFindRSDP(f *testing.F) {
	tables, err := Build(testMachine(2))
	if err != nil {
		f.Fatal(err)
	}
	img, err := tables.Layout(ScanAreaStart)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(img.Blob[:RSDPSize])
	f.Add(append(make([]byte, 16), img.Blob[:RSDPSize-1]...))
	f.Fuzz(func(t *testing.T, area []byte) {
		off, ok := FindRSDP(area)
		if !ok {
			return
		}
		r := area[off:]
		if off%RSDPAlign != 0 || string(r[:8]) != rsdpSignature || sum(r[:rsdpV1Size]) != 0 {
			t.Fatalf("found an invalid RSDP at %d: % x", off, r)
		}
		if r[offRSDPRevision] >= rsdpRevision && sum(r[:binary.LittleEndian.Uint32(r[offRSDPLength:])]) != 0 {
			t.Fatalf("found an RSDP at %d with a bad extended checksum", off)
		}
	})
}
