package pci_test

import (
	"testing"

	"github.com/gluevmm/glue/pci"
)

const (
	ctrlEnable = 0x8000
	ctrlMask   = 0x4000
)

// setControl writes MSI-X Message Control as a word, as Linux does.
func (r *rig) setControl(v uint16) {
	r.write(devSlot, r.msixCapOffset(r.t)+2, 2, uint32(v))
}

// program writes vector v's address, data and vector control with dword
// writes.
func (r *rig) program(v int, addr uint64, data uint32, masked bool) {
	e := uint64(msixTableOffset + 16*v)
	r.bar2Write(e, 4, addr&0xffff_ffff)
	r.bar2Write(e+4, 4, addr>>32)
	r.bar2Write(e+8, 4, uint64(data))
	ctl := uint64(0)
	if masked {
		ctl = 1
	}
	r.bar2Write(e+12, 4, ctl)
}

func (r *rig) pba() uint64 { return r.bar2Read(msixPBAOffset, 8) }

func newMSIXRig(t *testing.T) *rig {
	r := newRig(t)
	r.t = t
	r.enable(pci.CommandMemory | pci.CommandBusMaster)
	return r
}

func TestMSIXTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		run  func(r *rig)
		off  uint64 // then read n bytes here
		n    int
		want uint64
	}{
		{"reset: vector control masked", func(*rig) {}, msixTableOffset + 12, 4, 1},
		{"reset: address zero", func(*rig) {}, msixTableOffset, 8, 0},
		{"dword writes, qword read", func(r *rig) {
			r.bar2Write(msixTableOffset+16, 4, 0xfee0_1000)
			r.bar2Write(msixTableOffset+20, 4, 0x1)
		}, msixTableOffset + 16, 8, 0x1_fee0_1000},
		{"qword write, dword reads", func(r *rig) {
			r.bar2Write(msixTableOffset+32, 8, 0x2_fee0_2000)
		}, msixTableOffset + 36, 4, 0x2},
		{"qword write of data and vector control", func(r *rig) {
			r.bar2Write(msixTableOffset+8, 8, 0x0000_0000_0000_0041)
		}, msixTableOffset + 8, 8, 0x41},
		{"address bits 1:0 read zero", func(r *rig) {
			r.bar2Write(msixTableOffset, 4, 0xfee0_0003)
		}, msixTableOffset, 4, 0xfee0_0000},
		{"vector control reserved bits read zero", func(r *rig) {
			r.bar2Write(msixTableOffset+12, 4, 0xffff_fffe)
		}, msixTableOffset + 12, 4, 0},
		{"misaligned dword read", func(*rig) {}, msixTableOffset + 2, 4, 0xffff_ffff},
		{"byte read", func(*rig) {}, msixTableOffset + 12, 1, 0xff},
		{"misaligned qword read", func(*rig) {}, msixTableOffset + 4, 8, 1<<64 - 1},
		{"byte write ignored", func(r *rig) {
			r.fn.BARRegion(2).Write(msixTableOffset+12, []byte{0})
		}, msixTableOffset + 12, 4, 1},
		{"read straddling the table end", func(*rig) {}, msixTableOffset + 16*msixVectors - 4, 8, 1<<64 - 1},
		{"past the table: the rest of the BAR", func(*rig) {}, msixTableOffset + 16*msixVectors, 4, 0xffff_ffff},
		{"PBA reads zero", func(*rig) {}, msixPBAOffset, 8, 0},
		{"PBA is read-only", func(r *rig) { r.bar2Write(msixPBAOffset, 8, 0xff) }, msixPBAOffset, 4, 0},
		{"PBA byte read", func(*rig) {}, msixPBAOffset, 1, 0xff},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newMSIXRig(t)
			tc.run(r)
			if got := r.bar2Read(tc.off, tc.n); got != tc.want {
				t.Fatalf("read %d bytes at %#x: %#x, want %#x", tc.n, tc.off, got, tc.want)
			}
		})
	}
	t.Run("table unreachable with decoding off", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		if got := r.bar2Read(msixTableOffset+12, 4); got != 0xffff_ffff {
			t.Fatalf("read %#x", got)
		}
		r.bar2Write(msixTableOffset+12, 4, 0)
		r.enable(pci.CommandMemory)
		if got := r.bar2Read(msixTableOffset+12, 4); got != 1 {
			t.Fatalf("write with decoding off unmasked the vector: %#x", got)
		}
	})
}

func TestMSIXMessageControl(t *testing.T) {
	t.Parallel()
	r := newMSIXRig(t)
	capOff := r.msixCapOffset(t)
	r.write(devSlot, capOff+2, 2, 0xffff)
	if got := r.read(devSlot, capOff+2, 2); got != ctrlEnable|ctrlMask|(msixVectors-1) {
		t.Fatalf("control %#x: only enable and mask are writable", got)
	}
	if !r.fn.MSIXEnabled() {
		t.Fatal("MSIXEnabled false")
	}
	r.write(devSlot, capOff+3, 1, 0)
	if got := r.read(devSlot, capOff+2, 2); got != msixVectors-1 || r.fn.MSIXEnabled() {
		t.Fatalf("control %#x after a byte write of 0 to bits 15:8", got)
	}
}

func TestMSIXDelivery(t *testing.T) {
	t.Parallel()
	const route0 = "route 0 0xfee00000 0x41"
	for _, tc := range []struct {
		name    string
		run     func(r *rig)
		want    []string
		pending uint64
	}{
		{
			name: "enabled and unmasked: route then signal, route once",
			run: func(r *rig) {
				r.program(0, 0xfee0_0000, 0x41, false)
				r.setControl(ctrlEnable)
				r.fn.Notify(0)
				r.fn.Notify(0)
			},
			want: []string{route0, "signal 0", "signal 0"},
		},
		{
			name: "changed message is routed again",
			run: func(r *rig) {
				r.program(0, 0xfee0_0000, 0x41, false)
				r.setControl(ctrlEnable)
				r.fn.Notify(0)
				r.program(0, 0xfee0_0000, 0x42, true)
				r.program(0, 0xfee0_0000, 0x42, false)
				r.fn.Notify(0)
			},
			want: []string{route0, "signal 0", "route 0 0xfee00000 0x42", "signal 0"},
		},
		{
			name: "masked vector: pending, delivered on unmask",
			run: func(r *rig) {
				r.program(1, 0xfee0_0000, 0x51, true)
				r.setControl(ctrlEnable)
				r.fn.Notify(1)
				r.fn.Notify(1)
				if r.pba() != 1<<1 {
					r.t.Fatalf("PBA %#x while masked, want bit 1", r.pba())
				}
				r.bar2Write(msixTableOffset+16+12, 4, 0)
			},
			want: []string{"route 1 0xfee00000 0x51", "signal 1"},
		},
		{
			name: "function mask: pending, delivered on unmask",
			run: func(r *rig) {
				r.program(0, 0xfee0_0000, 0x41, false)
				r.program(2, 0xfee0_0000, 0x61, false)
				r.setControl(ctrlEnable | ctrlMask)
				r.fn.Notify(2)
				r.fn.Notify(0)
				if r.pba() != 0b101 {
					r.t.Fatalf("PBA %#b while function masked", r.pba())
				}
				r.setControl(ctrlEnable)
			},
			want: []string{route0, "signal 0", "route 2 0xfee00000 0x61", "signal 2"},
		},
		{
			name: "unmasking the function leaves masked vectors pending",
			run: func(r *rig) {
				r.program(1, 0xfee0_0000, 0x51, true)
				r.setControl(ctrlEnable | ctrlMask)
				r.fn.Notify(1)
				r.setControl(ctrlEnable)
			},
			pending: 1 << 1,
		},
		{
			name: "bus mastering off: pending until it is on",
			run: func(r *rig) {
				r.program(0, 0xfee0_0000, 0x41, false)
				r.setControl(ctrlEnable)
				r.enable(pci.CommandMemory)
				r.fn.Notify(0)
				if r.pba() != 1 {
					r.t.Fatalf("PBA %#x with bus mastering off", r.pba())
				}
				r.enable(pci.CommandMemory | pci.CommandBusMaster)
			},
			want: []string{route0, "signal 0"},
		},
		{
			name: "pending survives disable and is sent on re-enable",
			run: func(r *rig) {
				r.program(0, 0xfee0_0000, 0x41, true)
				r.setControl(ctrlEnable)
				r.fn.Notify(0)
				r.setControl(0)
				r.bar2Write(msixTableOffset+12, 4, 0)
				r.setControl(ctrlEnable)
			},
			want: []string{route0, "signal 0"},
		},
		{
			name: "vector out of range is ignored",
			run: func(r *rig) {
				r.setControl(ctrlEnable)
				for _, v := range []int{msixVectors, -1, 1 << 30, 0xffff} {
					r.fn.Notify(v)
				}
			},
		},
		{
			name: "disabled: INTx instead",
			run: func(r *rig) {
				r.program(0, 0xfee0_0000, 0x41, false)
				r.fn.Notify(0)
			},
			want: []string{"intx true"},
		},
		{
			name: "unmask without pending sends nothing",
			run: func(r *rig) {
				r.program(0, 0xfee0_0000, 0x41, true)
				r.setControl(ctrlEnable)
				r.bar2Write(msixTableOffset+12, 4, 0)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newMSIXRig(t)
			tc.run(r)
			if got := r.ev.take(); !equal(got, tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			if got := r.pba(); got != tc.pending {
				t.Fatalf("PBA %#x, want %#x", got, tc.pending)
			}
		})
	}
}

// TestMSIXManyVectors: pending bits beyond the first PBA qword.
func TestMSIXManyVectors(t *testing.T) {
	t.Parallel()
	ev := &events{}
	f := pci.NewFunction(pci.Header{VendorID: 1})
	must(t, f.AddBAR(0, pci.BAR{Size: 0x10000, Addr: 0xc000_0000}))
	must(t, f.AddMSIX(pci.MSIXConfig{Vectors: pci.MaxMSIXVectors, TableBAR: 0, PBABAR: 0, PBAOffset: 0x8000}, ev))
	root, _ := pci.NewRoot(pci.RootConfig{Windows: []pci.Range{win32}})
	must(t, root.Attach(devSlot, f, nil))
	r := &rig{root: root, fn: f, ev: ev, t: t}
	r.enable(pci.CommandMemory | pci.CommandBusMaster)
	r.write(devSlot, 0x42, 2, ctrlEnable)
	f.Notify(pci.MaxMSIXVectors - 1)
	f.Notify(100)
	bar := f.BARRegion(0)
	read := func(off uint64) uint64 {
		d := make([]byte, 8)
		bar.Read(off, d)
		return le64(d)
	}
	if got := read(0x8000 + 8*31); got != 1<<63 {
		t.Fatalf("last PBA qword %#x", got)
	}
	if got := read(0x8000 + 8); got != 1<<36 {
		t.Fatalf("second PBA qword %#x", got)
	}
	bar.Write(16*100+12, []byte{0, 0, 0, 0})
	if got := read(0x8000 + 8); got != 0 {
		t.Fatalf("second PBA qword %#x after unmask", got)
	}
	if got := ev.take(); !equal(got, []string{"route 100 0x0 0x0", "signal 100"}) {
		t.Fatalf("events %q", got)
	}
}

func le64(d []byte) uint64 {
	var v uint64
	for i := len(d) - 1; i >= 0; i-- {
		v = v<<8 | uint64(d[i])
	}
	return v
}
