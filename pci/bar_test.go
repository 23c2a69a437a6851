package pci_test

import (
	"errors"
	"testing"

	"github.com/gluevmm/glue/pci"
)

func TestBARRelocation(t *testing.T) {
	t.Parallel()
	const mem = pci.CommandMemory
	for _, tc := range []struct {
		name string
		run  func(r *rig)
		want []string
		err  error  // the reason of the (only) rejection
		bar0 uint64 // BAR0's mapping afterwards
		bar2 uint64
	}{
		{
			name: "move with decoding off takes effect on enable",
			run: func(r *rig) {
				r.write(devSlot, 0x10, 4, 0xc020_0000)
				if len(r.ev.log) != 0 {
					r.t.Fatalf("moved while decoding was off: %q", r.ev.log)
				}
				r.enable(mem)
			},
			want: []string{"moved 00:01.0 bar 0 0xc0000000->0xc0200000 size 0x1000"},
			bar0: 0xc020_0000, bar2: bar2Addr,
		},
		{
			name: "move while decoding is on",
			run:  func(r *rig) { r.enable(mem); r.write(devSlot, 0x10, 4, 0xc020_0000) },
			want: []string{"moved 00:01.0 bar 0 0xc0000000->0xc0200000 size 0x1000"},
			bar0: 0xc020_0000, bar2: bar2Addr,
		},
		{
			name: "64-bit move with decoding off: one move",
			run: func(r *rig) {
				r.write(devSlot, 0x18, 4, 0x0001_0000)
				r.write(devSlot, 0x1c, 4, 0x101)
				r.enable(mem)
			},
			want: []string{"moved 00:01.0 bar 2 0x10000000000->0x10100010000 size 0x4000"},
			bar0: bar0Addr, bar2: 0x101_0001_0000,
		},
		{
			name: "64-bit move into the 32-bit window",
			run: func(r *rig) {
				r.write(devSlot, 0x18, 4, 0xc040_0000)
				r.write(devSlot, 0x1c, 4, 0)
				r.enable(mem)
			},
			want: []string{"moved 00:01.0 bar 2 0x10000000000->0xc0400000 size 0x4000"},
			bar0: bar0Addr, bar2: 0xc040_0000,
		},
		{
			name: "64-bit halves written with decoding on: transient rejected, then moved",
			run: func(r *rig) {
				r.enable(mem)
				r.write(devSlot, 0x1c, 4, 0x101) // 0x101_0000_0000: inside the window, valid
				r.write(devSlot, 0x1c, 4, 0x1)   // 0x1_0000_0000: RAM, rejected
				r.write(devSlot, 0x1c, 4, 0x100) // back home: nothing to do
			},
			want: []string{
				"moved 00:01.0 bar 2 0x10000000000->0x10100000000 size 0x4000",
				"rejected 00:01.0 bar 2 0x10100000000->0x100000000",
				"moved 00:01.0 bar 2 0x10100000000->0x10000000000 size 0x4000",
			},
			err:  pci.ErrOutsideWindows,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "onto RAM",
			run:  func(r *rig) { r.write(devSlot, 0x10, 4, 0x1000_0000); r.enable(mem) },
			want: []string{"rejected 00:01.0 bar 0 0xc0000000->0x10000000"},
			err:  pci.ErrOutsideWindows,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "onto a reserved range inside a window",
			run:  func(r *rig) { r.write(devSlot, 0x10, 4, uint32(reserved.Base)+0x1000); r.enable(mem) },
			want: []string{"rejected 00:01.0 bar 0 0xc0000000->0xc8001000"},
			err:  pci.ErrOverlapsReserved,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "onto another function's BAR",
			run:  func(r *rig) { r.write(devSlot, 0x10, 4, otherBARAddr); r.enable(mem) },
			want: []string{"rejected 00:01.0 bar 0 0xc0000000->0xc0100000"},
			err:  pci.ErrOverlapsBAR,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "onto its own other BAR",
			run: func(r *rig) {
				r.write(devSlot, 0x18, 4, bar0Addr)
				r.write(devSlot, 0x1c, 4, 0)
				r.enable(mem)
			},
			want: []string{"rejected 00:01.0 bar 2 0x10000000000->0xc0000000"},
			err:  pci.ErrOverlapsBAR,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "the last place in the 64-bit window",
			run: func(r *rig) {
				r.write(devSlot, 0x18, 4, 0xffff_c000)
				r.write(devSlot, 0x1c, 4, uint32((win64.Base+win64.Size)>>32)-1)
				r.enable(mem)
			},
			want: []string{"moved 00:01.0 bar 2 0x10000000000->0x10fffffc000 size 0x4000"},
			bar0: bar0Addr, bar2: win64.Base + win64.Size - bar2Size,
		},
		{
			name: "just past the 64-bit window",
			run: func(r *rig) {
				r.write(devSlot, 0x18, 4, 0)
				r.write(devSlot, 0x1c, 4, uint32((win64.Base+win64.Size)>>32))
				r.enable(mem)
			},
			want: []string{"rejected 00:01.0 bar 2 0x10000000000->0x11000000000"},
			err:  pci.ErrOutsideWindows,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "address that wraps past 2^64",
			run: func(r *rig) {
				r.write(devSlot, 0x18, 4, 0xffff_ffff)
				r.write(devSlot, 0x1c, 4, 0xffff_ffff)
				r.enable(mem)
			},
			want: []string{"rejected 00:01.0 bar 2 0x10000000000->0xffffffffffffc000"},
			err:  pci.ErrOutsideWindows,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "Linux sizing with decoding on (mmio_always_on): nothing moves",
			run: func(r *rig) {
				r.enable(mem)
				r.write(devSlot, 0x10, 4, 0xffff_ffff)
				r.write(devSlot, 0x10, 4, bar0Addr)
			},
			want: []string{"rejected 00:01.0 bar 0 0xc0000000->0xfffff000"},
			err:  pci.ErrOutsideWindows,
			bar0: bar0Addr, bar2: bar2Addr,
		},
		{
			name: "Linux sizing with decoding off, then enable",
			run: func(r *rig) {
				for _, reg := range []int{0x10, 0x18, 0x1c} {
					orig := r.read(devSlot, reg, 4)
					r.write(devSlot, reg, 4, 0xffff_ffff)
					r.write(devSlot, reg, 4, orig)
				}
				r.enable(mem)
			},
			want: nil,
			bar0: bar0Addr, bar2: bar2Addr,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t)
			r.t = t
			tc.run(r)
			if got := r.ev.take(); !equal(got, tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			if tc.err != nil && (len(r.errs) != 1 || !errors.Is(r.errs[0], tc.err)) {
				t.Fatalf("rejections %v, want one %v", r.errs, tc.err)
			}
			if tc.bar0 == 0 {
				return
			}
			if got, _ := r.fn.BARAddress(0); got != tc.bar0 {
				t.Errorf("BAR0 mapped at %#x, want %#x", got, tc.bar0)
			}
			if got, _ := r.fn.BARAddress(2); got != tc.bar2 {
				t.Errorf("BAR2 mapped at %#x, want %#x", got, tc.bar2)
			}
		})
	}
}

// TestBARRelocationFreesOldPlace: after a BAR moved away, another BAR may
// take its old place; the overlap check uses mappings, not initial addresses.
func TestBARRelocationFreesOldPlace(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.enable(pci.CommandMemory)
	r.write(devSlot, 0x10, 4, 0xc020_0000)
	r.write(otherSlot, 0x10, 4, bar0Addr)
	r.write(otherSlot, 0x04, 2, pci.CommandMemory)
	want := []string{
		"moved 00:01.0 bar 0 0xc0000000->0xc0200000 size 0x1000",
		"moved 00:02.0 bar 0 0xc0100000->0xc0000000 size 0x1000",
	}
	if got := r.ev.take(); !equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if _, ok := r.fn.BARAddress(1); ok {
		t.Fatal("BARAddress of the upper half of nothing reported ok")
	}
}
