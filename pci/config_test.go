package pci_test

import (
	"errors"
	"testing"

	"github.com/gluevmm/glue/pci"
)

func TestHeaderIdentity(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	hb := pci.Slot{}
	for _, tc := range []struct {
		name   string
		slot   pci.Slot
		off, n int
		want   uint32
	}{
		{"host bridge vendor", hb, 0x00, 2, pci.HostBridgeVendorID},
		{"host bridge device", hb, 0x02, 2, pci.HostBridgeDeviceID},
		{"host bridge class", hb, 0x08, 4, uint32(pci.ClassHostBridge) << 8},
		{"host bridge header type", hb, 0x0e, 1, 0},
		{"host bridge has no capabilities", hb, 0x06, 2, 0},
		{"vendor and device", devSlot, 0x00, 4, testDevice<<16 | testVendor},
		{"revision and class", devSlot, 0x08, 4, testClass<<8 | testRevision},
		{"header type 0", devSlot, 0x0e, 1, 0},
		{"subsystem", devSlot, 0x2c, 4, testSubsys<<16 | testSubVendor},
		{"interrupt pin A", devSlot, 0x3d, 1, 1},
		{"status: capability list", devSlot, 0x06, 2, 1 << 4},
		{"capability pointer", devSlot, 0x34, 1, 0x40},
		{"command starts zero", devSlot, 0x04, 2, 0},
		{"BAR0 initial address", devSlot, 0x10, 4, bar0Addr},
		{"BAR2 low: 64-bit prefetchable", devSlot, 0x18, 4, 0xc},
		{"BAR2 high", devSlot, 0x1c, 4, bar2Addr >> 32},
		{"unused BAR", devSlot, 0x14, 4, 0},
	} {
		if got := r.read(tc.slot, tc.off, tc.n); got != tc.want {
			t.Errorf("%s: read %#x/%d = %#x, want %#x", tc.name, tc.off, tc.n, got, tc.want)
		}
	}
}

// TestReadOnlyFields writes all ones and then zeros over each read-only
// field and checks that it keeps its value.
func TestReadOnlyFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		off, n int
	}{
		{"vendor", 0x00, 2}, {"device", 0x02, 2}, {"revision", 0x08, 1},
		{"class", 0x09, 1}, {"class word", 0x0a, 2}, {"latency timer", 0x0d, 1},
		{"header type", 0x0e, 1}, {"BIST", 0x0f, 1},
		{"status low byte", 0x06, 1},
		{"unused BAR", 0x14, 4}, {"BAR flags", 0x10, 1}, {"64-bit BAR flags", 0x18, 1},
		{"cardbus CIS", 0x28, 4}, {"subsystem", 0x2c, 4}, {"expansion ROM", 0x30, 4},
		{"capability pointer", 0x34, 1}, {"reserved", 0x35, 2}, {"reserved dword", 0x38, 4},
		{"interrupt pin", 0x3d, 1}, {"min_gnt/max_lat", 0x3e, 2},
		{"vendor capability header", 0x40, 2}, {"vendor capability body", 0x42, 4},
		{"MSI-X capability header", 0x48, 2}, {"MSI-X table size", 0x4a, 1},
		{"MSI-X table offset", 0x4c, 4}, {"MSI-X PBA offset", 0x50, 4},
		{"free capability space", 0x80, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			before := r.read(devSlot, tc.off, tc.n)
			for _, v := range []uint32{0xffff_ffff, 0, 0x5a5a_5a5a} {
				r.write(devSlot, tc.off, tc.n, v)
				if got := r.read(devSlot, tc.off, tc.n); got != before {
					t.Fatalf("after writing %#x: %#x, want %#x", v, got, before)
				}
			}
		})
	}
}

func TestWritableFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		off, n int
		write  uint32
		want   uint32
	}{
		{"command: only the implemented bits", 0x04, 2, 0xffff, 0x0546},
		{"command: I/O space is hard-wired off", 0x04, 2, 0x0001, 0},
		{"cache line size", 0x0c, 1, 0x10, 0x10},
		{"interrupt line", 0x3c, 1, 0x0b, 0x0b},
		{"BAR0 address bits above the size", 0x10, 4, 0xd123_4567, 0xd123_4000},
		{"BAR2 high dword", 0x1c, 4, 0xdead_beef, 0xdead_beef},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.write(devSlot, tc.off, tc.n, tc.write)
			if got := r.read(devSlot, tc.off, tc.n); got != tc.want {
				t.Fatalf("wrote %#x, read %#x, want %#x", tc.write, got, tc.want)
			}
		})
	}
}

// TestMasterAbortStatus: a configuration access that no function claims
// sets the host bridge's Received Master Abort bit, which is write-1-to-clear.
func TestMasterAbortStatus(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const mabort = 1 << 13
	hb := pci.Slot{}
	if got := r.read(hb, 0x06, 2); got&mabort != 0 {
		t.Fatalf("status %#x before any miss", got)
	}
	if got := r.read(pci.Slot{Device: 9}, 0, 4); got != 0xffff_ffff {
		t.Fatalf("absent function read %#x", got)
	}
	if got := r.read(hb, 0x06, 2); got&mabort == 0 {
		t.Fatalf("status %#x after a miss, want bit 13", got)
	}
	r.write(hb, 0x06, 2, 0)
	if got := r.read(hb, 0x06, 2); got&mabort == 0 {
		t.Fatalf("writing 0 cleared the bit: %#x", got)
	}
	r.write(hb, 0x06, 2, mabort)
	if got := r.read(hb, 0x06, 2); got&mabort != 0 {
		t.Fatalf("writing 1 did not clear the bit: %#x", got)
	}
}

func TestBARSizing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		reg  int
		want uint32 // read back after writing all ones
	}{
		{"32-bit 4 KiB", 0x10, 0xffff_f000},
		{"64-bit 16 KiB prefetchable, low", 0x18, 0xffff_c00c},
		{"64-bit 16 KiB, high", 0x1c, 0xffff_ffff},
		{"unused", 0x14, 0},
		{"expansion ROM absent", 0x30, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			orig := r.read(devSlot, tc.reg, 4)
			r.write(devSlot, tc.reg, 4, 0xffff_ffff)
			if got := r.read(devSlot, tc.reg, 4); got != tc.want {
				t.Fatalf("size mask %#x, want %#x", got, tc.want)
			}
			r.write(devSlot, tc.reg, 4, orig)
			if got := r.read(devSlot, tc.reg, 4); got != orig {
				t.Fatalf("restored %#x, read %#x", orig, got)
			}
			if ev := r.ev.take(); len(ev) != 0 {
				t.Fatalf("sizing with decoding off caused %q", ev)
			}
		})
	}
	t.Run("64-bit BAR larger than 4 GiB", func(t *testing.T) {
		t.Parallel()
		f := pci.NewFunction(pci.Header{VendorID: 1})
		must(t, f.AddBAR(0, pci.BAR{Size: 1 << 33, Is64: true, Addr: 1 << 40}))
		root, _ := pci.NewRoot(pci.RootConfig{Windows: []pci.Range{win64}})
		must(t, root.Attach(devSlot, f, nil))
		r := &rig{root: root}
		r.write(devSlot, 0x10, 4, 0xffff_ffff)
		r.write(devSlot, 0x14, 4, 0xffff_ffff)
		if lo, hi := r.read(devSlot, 0x10, 4), r.read(devSlot, 0x14, 4); lo != 0x4 || hi != 0xffff_fffe {
			t.Fatalf("size mask %#x:%#x, want 0xfffffffe:0x4", hi, lo)
		}
	})
}

func TestCapabilityWalk(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	type capability struct{ id, off int }
	var got []capability
	for off := int(r.read(devSlot, 0x34, 1)); off != 0 && len(got) < 48; off = int(r.read(devSlot, off+1, 1)) {
		got = append(got, capability{int(r.read(devSlot, off, 1)), off})
	}
	want := []capability{{pci.CapabilityVendor, 0x40}, {pci.CapabilityMSIX, 0x48}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("capabilities %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name   string
		off, n int
		want   uint32
	}{
		{"vendor: ID, next, cap_len, first byte", 0x40, 4, 0xaa_06_48_09},
		{"vendor: last bytes", 0x44, 2, 0xccbb},
		{"MSI-X: ID, next, control", 0x48, 4, (msixVectors-1)<<16 | 0x0011},
		{"MSI-X: table BIR and offset", 0x4c, 4, msixTableOffset | 2},
		{"MSI-X: PBA BIR and offset", 0x50, 4, msixPBAOffset | 2},
		{"MSI-X: control as a word", 0x4a, 2, msixVectors - 1},
		{"past the list", 0x54, 4, 0},
	} {
		if got := r.read(devSlot, tc.off, tc.n); got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// TestAccessWidths reads the first dword at every width and offset; the
// accesses inside the dword see its bytes, those that cross it read all ones.
func TestAccessWidths(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const dword = testDevice<<16 | testVendor
	for _, n := range []int{1, 2, 4} {
		for off := range 4 {
			want := uint32(dword>>(8*off)) & (1<<(8*n) - 1)
			if off+n > 4 {
				want = 1<<(8*n) - 1
			}
			if n == 4 {
				want = uint32(uint64(1)<<32 - 1)
				if off == 0 {
					want = dword
				}
			}
			if got := r.read(devSlot, off, n); got != want {
				t.Errorf("read %d bytes at %d: %#x, want %#x", n, off, got, want)
			}
		}
	}
	for _, tc := range []struct {
		name string
		n    int
	}{{"odd widths", 3}, {"8 bytes", 8}, {"empty", 0}} {
		data := make([]byte, tc.n)
		r.root.ReadConfig(devSlot, 0, data)
		for _, b := range data {
			if b != 0xff {
				t.Errorf("%s: read % x, want all ones", tc.name, data)
			}
		}
		r.root.WriteConfig(devSlot, 0x3c, data)
	}
	t.Run("writes that cross a dword are dropped", func(t *testing.T) {
		r.write(devSlot, 0x3b, 2, 0x1111)
		r.write(devSlot, 0x3a, 4, 0x2222_2222)
		if got := r.read(devSlot, 0x3c, 1); got != 0 {
			t.Fatalf("interrupt line %#x after crossing writes", got)
		}
	})
	t.Run("word inside a dword at offset 1", func(t *testing.T) {
		r.write(devSlot, 0x05, 2, 0x0004) // command high byte (INTx disable), status low byte
		if got := r.read(devSlot, 0x04, 2); got != 0x0400 {
			t.Fatalf("command %#x, want INTx disable", got)
		}
	})
}

func TestAbsentFunctions(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, tc := range []struct {
		name string
		slot pci.Slot
	}{
		{"empty device", pci.Slot{Device: 5}},
		{"function 1 of a single-function device", pci.Slot{Device: 1, Function: 1}},
		{"device 31", pci.Slot{Device: 31, Function: 7}},
		{"beyond device 31", pci.Slot{Device: 32}},
		{"beyond function 7", pci.Slot{Device: 1, Function: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.write(tc.slot, 0x3c, 1, 0x12) // must not land anywhere
			for _, n := range []int{1, 2, 4} {
				if got := r.read(tc.slot, 0, n); got != 1<<(8*n)-1 {
					t.Fatalf("read %d bytes: %#x", n, got)
				}
			}
		})
	}
	if got := r.read(devSlot, 0x3c, 1); got != 0 {
		t.Fatalf("write to an absent function reached 00:01.0: line %#x", got)
	}
	t.Run("extended registers of a present function read zero", func(t *testing.T) {
		r.write(devSlot, 0x100, 4, 0xffff_ffff)
		for _, off := range []int{0x100, 0x800, 0xffc} {
			if got := r.read(devSlot, off, 4); got != 0 {
				t.Fatalf("register %#x = %#x", off, got)
			}
		}
		if got := r.read(devSlot, 0x1000, 4); got != 0xffff_ffff {
			t.Fatalf("register 0x1000 = %#x, want all ones", got)
		}
	})
}

func TestCommandGatesBARRegion(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	copy(r.region.mem, []byte{1, 2, 3, 4})
	bar0 := r.fn.BARRegion(0)
	read := func() []byte { d := make([]byte, 4); bar0.Read(0, d); return d }
	if got := read(); string(got) != "\xff\xff\xff\xff" {
		t.Fatalf("decoding off: read % x, want all ones", got)
	}
	bar0.Write(0, []byte{9, 9, 9, 9})
	if r.region.mem[0] != 1 {
		t.Fatal("decoding off: write reached the region")
	}
	if r.fn.MemoryEnabled() || r.fn.BusMaster() {
		t.Fatal("memory or bus master enabled at reset")
	}
	r.enable(pci.CommandMemory)
	if !r.fn.MemoryEnabled() || r.fn.BusMaster() {
		t.Fatal("MemoryEnabled/BusMaster do not follow the command register")
	}
	if got := read(); string(got) != "\x01\x02\x03\x04" {
		t.Fatalf("decoding on: read % x", got)
	}
	bar0.Write(2, []byte{7, 7})
	if got := read(); string(got) != "\x01\x02\x07\x07" {
		t.Fatalf("decoding on: after write % x", got)
	}
	if got := make([]byte, 4); true {
		bar0.Read(bar0Size-2, got)
		if string(got) != "\xff\xff\xff\xff" {
			t.Fatalf("access past the BAR: % x", got)
		}
	}
	r.enable(pci.CommandMemory | pci.CommandBusMaster)
	if !r.fn.BusMaster() {
		t.Fatal("BusMaster false after setting bit 2")
	}
	if r.fn.BARRegion(1) != nil || r.fn.BARRegion(3) != nil || r.fn.BARRegion(-1) != nil || r.fn.BARRegion(6) != nil {
		t.Fatal("BARRegion of an unused index is not nil")
	}
}

func TestINTx(t *testing.T) {
	t.Parallel()
	const status = 0x06
	for _, tc := range []struct {
		name string
		run  func(r *rig)
		want []string
	}{
		{"request drives the line", func(r *rig) { r.fn.SetINTx(true); r.fn.SetINTx(true); r.fn.SetINTx(false) },
			[]string{"intx true", "intx false"}},
		{"Notify without MSI-X raises INTx", func(r *rig) { r.fn.Notify(0) }, []string{"intx true"}},
		{"Notify ignores the vector without MSI-X", func(r *rig) { r.fn.Notify(1 << 20) }, []string{"intx true"}},
		{"Interrupt Disable gates the line", func(r *rig) {
			r.enable(pci.CommandINTxDisable)
			r.fn.SetINTx(true)
			r.enable(0)
			r.enable(pci.CommandINTxDisable)
		}, []string{"intx true", "intx false"}},
		{"MSI-X enable gates the line", func(r *rig) {
			r.fn.SetINTx(true)
			r.write(devSlot, r.msixCapOffset(r.t)+3, 1, 0x80)
			r.fn.Notify(0) // masked vector: pending, no INTx
		}, []string{"intx true", "intx false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.t = t
			tc.run(r)
			if got := r.ev.take(); !equal(got, tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("status bit 3 shows the request even when disabled", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		r.enable(pci.CommandINTxDisable)
		r.fn.SetINTx(true)
		if got := r.read(devSlot, status, 2); got&(1<<3) == 0 {
			t.Fatalf("status %#x", got)
		}
		r.fn.SetINTx(false)
		if got := r.read(devSlot, status, 2); got&(1<<3) != 0 {
			t.Fatalf("status %#x", got)
		}
	})
	t.Run("a function without a pin never drives a line", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		calls := 0
		f := pci.NewFunction(pci.Header{VendorID: 1})
		must(t, r.root.Attach(pci.Slot{Device: 7}, f, pci.LineFunc(func(bool) { calls++ })))
		f.SetINTx(true)
		if calls != 0 {
			t.Fatal("pinless function drove its line")
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSwizzle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dev  uint8
		pin  pci.Pin
		want int
	}{
		{0, pci.PinA, 0}, {1, pci.PinA, 1}, {3, pci.PinA, 3}, {4, pci.PinA, 0},
		{1, pci.PinB, 2}, {2, pci.PinD, 1}, {31, pci.PinA, 3}, {31, pci.PinD, 2},
		{1, pci.PinNone, -1}, {1, 5, -1},
	} {
		if got := pci.Swizzle(tc.dev, tc.pin); got != tc.want {
			t.Errorf("Swizzle(%d, %d) = %d, want %d", tc.dev, tc.pin, got, tc.want)
		}
	}
}

func TestAttach(t *testing.T) {
	t.Parallel()
	bar := func(addr uint64) *pci.Function {
		f := pci.NewFunction(pci.Header{VendorID: 1})
		must(t, f.AddBAR(0, pci.BAR{Size: 0x1000, Addr: addr}))
		return f
	}
	for _, tc := range []struct {
		name string
		slot pci.Slot
		fn   *pci.Function
		want error
	}{
		{"device 0 is the host bridge", pci.Slot{}, bar(0xc020_0000), nil},
		{"slot in use", devSlot, bar(0xc020_0000), nil},
		{"function 1 without function 0", pci.Slot{Device: 9, Function: 1}, bar(0xc020_0000), nil},
		{"device 32", pci.Slot{Device: 32}, bar(0xc020_0000), nil},
		{"BAR on another BAR", pci.Slot{Device: 9}, bar(bar0Addr), pci.ErrOverlapsBAR},
		{"BAR outside the windows", pci.Slot{Device: 9}, bar(0xf000_0000), pci.ErrOutsideWindows},
		{"BAR on a reserved range", pci.Slot{Device: 9}, bar(reserved.Base), pci.ErrOverlapsReserved},
		{"attached twice", pci.Slot{Device: 9}, nil, pci.ErrAttached},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			fn := tc.fn
			if fn == nil {
				fn = r.other
			}
			err := r.root.Attach(tc.slot, fn, nil)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Attach = %v, want an error (%v)", err, tc.want)
			}
		})
	}
	t.Run("own BARs must not overlap", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		f := bar(0xc020_0000)
		must(t, f.AddBAR(1, pci.BAR{Size: 0x2000, Addr: 0xc020_0000}))
		if err := r.root.Attach(pci.Slot{Device: 9}, f, nil); !errors.Is(err, pci.ErrOverlapsBAR) {
			t.Fatalf("Attach = %v, want ErrOverlapsBAR", err)
		}
	})
	t.Run("multi-function device", func(t *testing.T) {
		t.Parallel()
		r := newRig(t)
		f := bar(0xc020_0000)
		must(t, r.root.Attach(pci.Slot{Device: 1, Function: 3}, f, nil))
		if got := r.read(devSlot, 0x0e, 1); got != 0x80 {
			t.Fatalf("function 0 header type %#x, want multi-function", got)
		}
		if got := r.read(pci.Slot{Device: 1, Function: 3}, 0, 2); got != 1 {
			t.Fatalf("function 3 vendor %#x", got)
		}
		if err := f.AddBAR(2, pci.BAR{Size: 0x1000, Addr: 0xc030_0000}); !errors.Is(err, pci.ErrAttached) {
			t.Fatalf("AddBAR after Attach = %v", err)
		}
	})
}

func TestAddErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		add  func(f *pci.Function) error
	}{
		{"index 6", func(f *pci.Function) error { return f.AddBAR(6, pci.BAR{Size: 0x1000}) }},
		{"negative index", func(f *pci.Function) error { return f.AddBAR(-1, pci.BAR{Size: 0x1000}) }},
		{"64-bit at index 5", func(f *pci.Function) error { return f.AddBAR(5, pci.BAR{Size: 0x1000, Is64: true}) }},
		{"size not a power of two", func(f *pci.Function) error { return f.AddBAR(0, pci.BAR{Size: 0x1800}) }},
		{"size below 16", func(f *pci.Function) error { return f.AddBAR(0, pci.BAR{Size: 8}) }},
		{"32-bit above 2 GiB", func(f *pci.Function) error { return f.AddBAR(0, pci.BAR{Size: 1 << 32}) }},
		{"misaligned address", func(f *pci.Function) error { return f.AddBAR(0, pci.BAR{Size: 0x1000, Addr: 0x800}) }},
		{"32-bit above 4 GiB", func(f *pci.Function) error { return f.AddBAR(0, pci.BAR{Size: 0x1000, Addr: 1 << 32}) }},
		{"register taken by a 64-bit BAR", func(f *pci.Function) error {
			must(t, f.AddBAR(0, pci.BAR{Size: 0x1000, Is64: true}))
			return f.AddBAR(1, pci.BAR{Size: 0x1000})
		}},
		{"MSI-X without its BAR", func(f *pci.Function) error {
			return f.AddMSIX(pci.MSIXConfig{Vectors: 1, TableBAR: 0, PBABAR: 0, PBAOffset: 0x100}, &events{})
		}},
		{"MSI-X with 0 vectors", func(f *pci.Function) error {
			must(t, f.AddBAR(0, pci.BAR{Size: 0x1000}))
			return f.AddMSIX(pci.MSIXConfig{Vectors: 0, PBAOffset: 0x100}, &events{})
		}},
		{"MSI-X table past the BAR", func(f *pci.Function) error {
			must(t, f.AddBAR(0, pci.BAR{Size: 0x1000}))
			return f.AddMSIX(pci.MSIXConfig{Vectors: 257, PBAOffset: 0x800}, &events{})
		}},
		{"MSI-X table and PBA overlap", func(f *pci.Function) error {
			must(t, f.AddBAR(0, pci.BAR{Size: 0x1000}))
			return f.AddMSIX(pci.MSIXConfig{Vectors: 4, PBAOffset: 0x30}, &events{})
		}},
		{"MSI-X misaligned table", func(f *pci.Function) error {
			must(t, f.AddBAR(0, pci.BAR{Size: 0x1000}))
			return f.AddMSIX(pci.MSIXConfig{Vectors: 1, TableOffset: 4, PBAOffset: 0x800}, &events{})
		}},
		{"MSI-X without a sink", func(f *pci.Function) error {
			must(t, f.AddBAR(0, pci.BAR{Size: 0x1000}))
			return f.AddMSIX(pci.MSIXConfig{Vectors: 1, PBAOffset: 0x800}, nil)
		}},
		{"capability list full", func(f *pci.Function) error {
			_, err := f.AddCapability(pci.NewVendorCapability(make([]byte, 200)))
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.add(pci.NewFunction(pci.Header{VendorID: 1})); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
