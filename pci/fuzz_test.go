package pci_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/gluevmm/glue/pci"
)

// configOpSize is the length of one FuzzConfigSpace operation:
//
//	op[0] bit 0: write; bit 1: through ECAM (else CF8/CFC); bits 3:2: width
//	      1, 2, 4 or 8 bytes; bit 4: a raw CONFIG_ADDRESS write of value;
//	      bits 7:5: register bits 10:8
//	op[1] bits 4:0: device; bits 7:5: function
//	op[2] register bits 7:0
//	op[3:7] value, little-endian (the high dword of an 8-byte write repeats it)
const configOpSize = 7

// FuzzConfigSpace drives the root complex with configuration accesses of
// any width and offset through both mechanisms and checks after every one:
// read-only fields keep their values, every BAR is decoded inside a window,
// clear of reserved ranges and of the other BARs, and the mappings match
// what BARMoved reported. The seed corpus in testdata/fuzz/FuzzConfigSpace
// follows Linux's bus scan and BAR sizing, a driver's enable, valid and
// invalid BAR moves, and MSI-X enable through configuration space.
func FuzzConfigSpace(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 256*configOpSize {
			ops = ops[:256*configOpSize] // long inputs add run time, not coverage
		}
		r := newRig(t)
		io, ecam := r.root.ConfigIO(), r.root.ECAM()
		fns := []*pci.Function{r.fn, r.other}
		want := snapshotReadOnly(r)
		mapped := map[string]uint64{}
		for _, f := range fns {
			for i := range pci.NumBARs {
				if a, ok := f.BARAddress(i); ok {
					mapped[fmt.Sprintf("%v bar %d", f.Slot(), i)] = a
				}
			}
		}
		for ; len(ops) >= configOpSize; ops = ops[configOpSize:] {
			op := ops[:configOpSize]
			write := op[0]&1 != 0
			n := 1 << (op[0] >> 2 & 3)
			reg := uint32(op[0]>>5)<<8 | uint32(op[2])
			dev, fn := uint32(op[1]&0x1f), uint32(op[1]>>5)
			data := make([]byte, n)
			for i := range data {
				data[i] = op[3+i%4]
			}
			switch {
			case op[0]&0x10 != 0:
				io.Write(0, op[3:7])
			case op[0]&2 != 0:
				off := uint64(dev)<<15 | uint64(fn)<<12 | uint64(reg)
				if write {
					ecam.Write(off, data)
				} else {
					ecam.Read(off, data)
				}
			default:
				io.Write(0, dword(1<<31|(reg>>8)<<24|dev<<11|fn<<8|reg&0xfc))
				if write {
					io.Write(4+uint64(reg&3), data)
				} else {
					io.Read(4+uint64(reg&3), data)
				}
			}
			if !write && op[0]&0x10 == 0 {
				continue // a read changes nothing the checks below look at
			}
			if got := snapshotReadOnly(r); got != want {
				t.Fatalf("read-only fields changed:\n got %s\nwant %s", got, want)
			}
			for _, e := range r.ev.take() {
				var slot, rest string
				var bar int
				var from, to uint64
				if k, _ := fmt.Sscanf(e, "moved %s bar %d %v->%v size%s", &slot, &bar, &from, &to, &rest); k >= 4 {
					key := fmt.Sprintf("%s bar %d", slot, bar)
					if mapped[key] != from {
						t.Fatalf("%s: moved from %#x, but it was at %#x", key, from, mapped[key])
					}
					mapped[key] = to
				} else if !strings.HasPrefix(e, "rejected") && !strings.HasPrefix(e, "intx") {
					t.Fatalf("unexpected event %q", e)
				}
			}
			checkBARs(t, fns, mapped)
		}
	})
}

// snapshotReadOnly formats every read-only field of the attached functions.
func snapshotReadOnly(r *rig) string {
	var b strings.Builder
	for _, s := range []pci.Slot{{}, devSlot, otherSlot} {
		for _, f := range []struct{ off, n int }{
			{0x00, 4}, {0x08, 4}, {0x0e, 1}, {0x2c, 4}, {0x30, 4}, {0x34, 1}, {0x3d, 1},
			{0x40, 4}, {0x44, 2}, {0x48, 2}, {0x4a, 1}, {0x4c, 4}, {0x50, 4},
		} {
			fmt.Fprintf(&b, "%x ", r.read(s, f.off, f.n))
		}
		for i := range pci.NumBARs {
			if s == devSlot && i == 3 {
				continue // the high dword of BAR2: all address bits
			}
			fmt.Fprintf(&b, "%x ", r.read(s, 0x10+4*i, 1)&0xf)
		}
	}
	return b.String()
}

func checkBARs(t *testing.T, fns []*pci.Function, mapped map[string]uint64) {
	t.Helper()
	var all []pci.Range
	for _, f := range fns {
		for i := range pci.NumBARs {
			a, ok := f.BARAddress(i)
			if !ok {
				continue
			}
			key := fmt.Sprintf("%v bar %d", f.Slot(), i)
			if a != mapped[key] {
				t.Fatalf("%s decoded at %#x, events say %#x", key, a, mapped[key])
			}
			size := uint64(bar0Size)
			if f == fns[0] && i == 2 {
				size = bar2Size
			}
			b := pci.Range{Base: a, Size: size}
			if !inside(b, win32) && !inside(b, win64) {
				t.Fatalf("%s at %v outside the windows", key, b)
			}
			for _, res := range []pci.Range{ramLow, ramHigh, reserved} {
				if overlap(b, res) {
					t.Fatalf("%s at %v overlaps reserved %v", key, b, res)
				}
			}
			for _, o := range all {
				if overlap(b, o) {
					t.Fatalf("%s at %v overlaps %v", key, b, o)
				}
			}
			all = append(all, b)
		}
	}
}

func inside(a, w pci.Range) bool  { return a.Base >= w.Base && a.Base+a.Size <= w.Base+w.Size }
func overlap(a, b pci.Range) bool { return a.Base < b.Base+b.Size && b.Base < a.Base+a.Size }

// msixOpSize is the length of one FuzzMSIXTable operation:
//
//	op[0] bits 2:0: kind: 0-2 BAR2 access, 3 Message Control write,
//	      4 command write, 5 Notify, 6 SetINTx;
//	      bit 3: write; bits 5:4: width 1, 2, 4 or 8
//	op[1:3] BAR2 offset from the table (bit 15 set: from the PBA), little-endian;
//	      for Notify, the vector (as int16)
//	op[3:11] value
const msixOpSize = 11

// FuzzMSIXTable drives the MSI-X table, PBA, Message Control, the command
// register and Notify in any order and checks after every operation: every
// Route and Signal names a vector in the table, a routed message equals the
// vector's table entry, a signalled vector is deliverable, no pending bit is
// left on a deliverable vector, and INTx is never asserted while MSI-X is
// enabled. The seed corpus in testdata/fuzz/FuzzMSIXTable follows Linux's
// MSI-X setup, masking and unmasking with pending vectors, and misaligned
// and out-of-range accesses.
func FuzzMSIXTable(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 256*msixOpSize {
			ops = ops[:256*msixOpSize] // long inputs add run time, not coverage
		}
		r := newRig(t)
		r.t = t
		capOff := r.msixCapOffset(t)
		intx := false
		for ; len(ops) >= msixOpSize; ops = ops[msixOpSize:] {
			op := ops[:msixOpSize]
			n := 1 << (op[0] >> 4 & 3)
			off := uint64(binary.LittleEndian.Uint16(op[1:3]))
			val := binary.LittleEndian.Uint64(op[3:11])
			switch op[0] & 7 {
			case 0, 1, 2:
				base := uint64(msixTableOffset)
				if off&0x8000 != 0 {
					base = msixPBAOffset
				}
				off = base + off&0x7fff%0x1000
				if op[0]&8 != 0 {
					r.bar2Write(off, n, val)
				} else {
					r.bar2Read(off, n)
				}
			case 3:
				r.write(devSlot, capOff+2, 2, uint32(val))
			case 4:
				r.write(devSlot, 0x04, 2, uint32(val))
			case 5:
				r.fn.Notify(int(int16(off)))
			case 6:
				r.fn.SetINTx(val&1 != 0)
			}
			for _, e := range r.ev.take() {
				var v int
				var addr uint64
				var data uint32
				switch {
				case strings.HasPrefix(e, "intx"):
					intx = e == "intx true"
				case strings.HasPrefix(e, "route"):
					fmt.Sscanf(e, "route %d %v %v", &v, &addr, &data)
					checkVector(t, r, v, e)
					if got := entry(r, v); got.Address != addr || got.Data != data {
						t.Fatalf("%q but the table holds %#x %#x", e, got.Address, got.Data)
					}
				case strings.HasPrefix(e, "signal"):
					fmt.Sscanf(e, "signal %d", &v)
					checkVector(t, r, v, e)
					if !deliverable(r, v) {
						t.Fatalf("%q for a vector that is not deliverable", e)
					}
				default:
					t.Fatalf("unexpected event %q", e)
				}
			}
			if intx && r.fn.MSIXEnabled() {
				t.Fatal("INTx asserted while MSI-X is enabled")
			}
			if r.fn.MemoryEnabled() {
				pba := r.pba()
				for v := range msixVectors {
					if pba&(1<<v) != 0 && deliverable(r, v) {
						t.Fatalf("vector %d pending while deliverable", v)
					}
				}
			}
		}
	})
}

func checkVector(t *testing.T, r *rig, v int, e string) {
	t.Helper()
	if v < 0 || v >= msixVectors {
		t.Fatalf("%q: vector out of range", e)
	}
}

// entry reads vector v's table entry; decoding must be on to see it, so it
// is switched on for the read and the command register restored.
func entry(r *rig, v int) pci.Message {
	cmd := r.read(devSlot, 0x04, 2)
	r.write(devSlot, 0x04, 2, cmd|pci.CommandMemory)
	e := uint64(msixTableOffset + 16*v)
	m := pci.Message{Address: r.bar2Read(e, 8), Data: uint32(r.bar2Read(e+8, 4))}
	r.write(devSlot, 0x04, 2, cmd)
	return m
}

func deliverable(r *rig, v int) bool {
	cmd := r.read(devSlot, 0x04, 2)
	if cmd&pci.CommandBusMaster == 0 {
		return false
	}
	ctl := r.read(devSlot, r.msixCapOffset(r.t)+2, 2)
	if ctl&ctrlEnable == 0 || ctl&ctrlMask != 0 {
		return false
	}
	r.write(devSlot, 0x04, 2, cmd|pci.CommandMemory)
	masked := r.bar2Read(uint64(msixTableOffset+16*v+12), 4)&1 != 0
	r.write(devSlot, 0x04, 2, cmd)
	return !masked
}
