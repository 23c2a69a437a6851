package vmm

import (
	"encoding/binary"
	"log/slog"
	"sync"
	"testing"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/x86"
)

// fillRegion answers every read with 0xab.
type fillRegion struct{}

func (fillRegion) Read(_ uint64, data []byte) {
	for i := range data {
		data[i] = 0xab
	}
}
func (fillRegion) Write(uint64, []byte) {}

// pciRig is a pciBus on fresh buses over 256 MiB of RAM, with one function
// attached whose 64 KiB BAR 0 (64-bit) answers 0xab.
type pciRig struct {
	p          *pciBus
	pio, mmio  *bus.Bus
	fn         *pci.Function
	slot       pci.Slot
	barAddr    guestmem.Addr
	moves      []pci.BARMove
	lineLevels map[uint32][]bool
	mu         sync.Mutex
}

func newPCIRig(t *testing.T) *pciRig {
	t.Helper()
	r := &pciRig{pio: &bus.Bus{}, mmio: &bus.Bus{}, lineLevels: map[uint32][]bool{}}
	setLine := func(gsi uint32, high bool) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.lineLevels[gsi] = append(r.lineLevels[gsi], high)
		return nil
	}
	p, err := newPCIBus(setLine, r.pio, r.mmio, x86.RAMSpans(256<<20), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	r.fn = pci.NewFunction(pci.Header{VendorID: 0x1af4, DeviceID: 0x1041, InterruptPin: pci.PinA})
	if r.barAddr, err = p.allocBAR(0x10000); err != nil {
		t.Fatal(err)
	}
	if err := r.fn.AddBAR(0, pci.BAR{Size: 0x10000, Is64: true, Addr: uint64(r.barAddr), Region: fillRegion{}}); err != nil {
		t.Fatal(err)
	}
	r.slot, err = p.attach(r.fn, pci.PinA, map[int]uint64{0: 0x10000}, func(mv pci.BARMove) { r.moves = append(r.moves, mv) })
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ecamWrite32 writes a dword of the function's configuration space through
// ECAM on the MMIO bus, as a guest does.
func (r *pciRig) ecamWrite32(t *testing.T, reg uint64, v uint32) {
	t.Helper()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	if !r.mmio.Write(uint64(x86.ECAMBase)+uint64(r.slot.Device)<<15+reg, b[:]) {
		t.Fatal("ECAM is not on the MMIO bus")
	}
}

// answersAt reports whether the BAR's region answers at addr.
func (r *pciRig) answersAt(addr uint64) bool {
	var b [4]byte
	return r.mmio.Read(addr, b[:]) && b[0] == 0xab
}

// The guest finds the function through CF8/CFC too.
func TestPCIBusConfigMechanisms(t *testing.T) {
	t.Parallel()
	r := newPCIRig(t)
	if r.slot != (pci.Slot{Device: x86.PCIFirstDevice}) {
		t.Errorf("first device in slot %v, want 00:%02x.0", r.slot, x86.PCIFirstDevice)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], 1<<31|uint32(r.slot.Device)<<11)
	r.pio.Write(pci.ConfigAddressPort, b[:])
	r.pio.Read(pci.ConfigAddressPort+4, b[:])
	if id := binary.LittleEndian.Uint32(b[:]); id != 0x1041_1af4 {
		t.Errorf("CF8/CFC read of the vendor/device ID: %#x, want 0x10411af4", id)
	}
	var e [4]byte
	r.mmio.Read(uint64(x86.ECAMBase), e[:])
	if id := binary.LittleEndian.Uint32(e[:]); id != pci.HostBridgeDeviceID<<16|pci.HostBridgeVendorID {
		t.Errorf("ECAM read of the host bridge's ID: %#x", id)
	}
}

// A BAR the guest moves inside a window takes its region on the MMIO bus
// (and the transport's hook) along; one it moves onto RAM, onto ECAM or
// outside the windows stays where it was, its region still there.
func TestPCIBusBARMoves(t *testing.T) {
	t.Parallel()
	mem64 := uint64(x86.PCIMem64Base(256 << 20))
	tests := []struct {
		name   string
		lo, hi uint32 // the BAR registers the guest writes
		moved  bool
	}{
		{"inside the 32-bit window", uint32(x86.PCIMem32Base) + 0x10_0000, 0, true},
		{"into the 64-bit window", 0, uint32(mem64 >> 32), true},
		{"onto RAM", 0x10_0000, 0, false},
		{"onto ECAM", uint32(x86.ECAMBase), 0, false},
		{"onto the IOAPIC", uint32(x86.IOAPICAddr), 0, false},
		{"past the 64-bit window", 0, uint32((mem64 + x86.PCIMem64Size) >> 32), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newPCIRig(t)
			r.ecamWrite32(t, 0x04, uint32(pci.CommandMemory)) // decoding on
			if !r.answersAt(uint64(r.barAddr)) {
				t.Fatal("the BAR does not answer at its initial address")
			}
			r.ecamWrite32(t, 0x14, tc.hi)
			r.ecamWrite32(t, 0x10, tc.lo|0x4) // 64-bit memory BAR
			want := uint64(tc.hi)<<32 | uint64(tc.lo)
			if got := r.answersAt(want); got != tc.moved {
				t.Errorf("region answers at %#x: %v, want %v", want, got, tc.moved)
			}
			if got := r.answersAt(uint64(r.barAddr)); got == tc.moved {
				t.Errorf("region answers at its old address %#x: %v, want %v", r.barAddr, got, !tc.moved)
			}
			if got := len(r.moves) > 0 && r.moves[len(r.moves)-1].New == want; got != tc.moved {
				t.Errorf("move hook saw the move to %#x: %v, want %v (%+v)", want, got, tc.moved, r.moves)
			}
		})
	}
}

// Two functions on one INTx line: the line is their wired OR.
func TestSharedLineIsWiredOR(t *testing.T) {
	t.Parallel()
	var levels []bool
	line := &sharedLine{set: func(high bool) { levels = append(levels, high) }}
	a, b := &lineInput{shared: line}, &lineInput{shared: line}
	for _, step := range []struct {
		in   *lineInput
		high bool
	}{{a, true}, {a, true}, {b, true}, {a, false}, {b, false}, {b, false}} {
		step.in.SetLevel(step.high)
	}
	want := []bool{true, false} // up with a, down only when b drops too
	if len(levels) != len(want) || levels[0] != want[0] || levels[1] != want[1] {
		t.Errorf("line levels %v, want %v", levels, want)
	}
}

// Every device slot has a _PRT entry per pin, on the line Swizzle gives.
func TestPCIBusDescribesRoutes(t *testing.T) {
	t.Parallel()
	r := newPCIRig(t)
	hb := r.p.describe()
	if len(hb.Routes) != x86.MaxPCIDevices*4 {
		t.Fatalf("%d _PRT routes, want %d", len(hb.Routes), x86.MaxPCIDevices*4)
	}
	for _, rt := range hb.Routes {
		want := x86.PCIINTxGSI(pci.Swizzle(rt.Device, pci.PinA+pci.Pin(rt.Pin)))
		if rt.GSI != want || rt.GSI < x86.PCIINTxGSIBase || rt.GSI >= x86.PCIINTxGSIBase+x86.PCIINTxLines {
			t.Errorf("device %d pin %d on GSI %d, want %d", rt.Device, rt.Pin, rt.GSI, want)
		}
	}
	if hb.ECAMBase != uint64(x86.ECAMBase) || hb.Mem32.Base != uint64(x86.PCIMem32Base) || hb.Mem64.Base != uint64(x86.PCIMem64Base(256<<20)) {
		t.Errorf("host bridge %+v does not match the layout", hb)
	}
}

// A function's INTx request drives the GSI its slot and pin swizzle to.
func TestPCIBusINTxLine(t *testing.T) {
	t.Parallel()
	r := newPCIRig(t)
	r.fn.SetINTx(true)
	r.fn.SetINTx(false)
	gsi := x86.PCIINTxGSI(pci.Swizzle(r.slot.Device, pci.PinA))
	r.mu.Lock()
	defer r.mu.Unlock()
	if got := r.lineLevels[gsi]; len(got) != 2 || !got[0] || got[1] {
		t.Errorf("GSI %d levels %v, want [true false] (all lines: %v)", gsi, got, r.lineLevels)
	}
}
