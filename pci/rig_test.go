package pci_test

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/gluevmm/glue/pci"
)

// The test layout: RAM below 3 GiB and from 4 GiB, a 32-bit BAR window in the
// gap, a 64-bit window above RAM, and one reserved range inside the 32-bit
// window (what a VMM reserves when something else shares the window).
var (
	win32     = pci.Range{Base: 0xc000_0000, Size: 0x1000_0000}
	win64     = pci.Range{Base: 1 << 40, Size: 1 << 36}
	ramLow    = pci.Range{Base: 0, Size: 0xc000_0000}
	ramHigh   = pci.Range{Base: 1 << 32, Size: 4 << 30}
	reserved  = pci.Range{Base: 0xc800_0000, Size: 1 << 20}
	devSlot   = pci.Slot{Device: 1}
	otherSlot = pci.Slot{Device: 2}
)

// The test function's identity and BARs.
const (
	testVendor    = 0x1af4
	testDevice    = 0x1042
	testRevision  = 0x01
	testClass     = 0x010000
	testSubVendor = 0x1af4
	testSubsys    = 0x0002

	bar0Addr = 0xc000_0000 // 32-bit, 4 KiB
	bar0Size = 0x1000
	bar2Addr = 1 << 40 // 64-bit prefetchable, 16 KiB, holds MSI-X
	bar2Size = 0x4000

	msixVectors     = 3
	msixTableOffset = 0x2000
	msixPBAOffset   = 0x3000

	otherBARAddr = 0xc010_0000 // BAR0 of the function in otherSlot
)

// events records every callback of the package, in order.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
}

// take returns the events since the last take.
func (e *events) take() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.log
	e.log = nil
	return out
}

func (e *events) Route(v int, m pci.Message) { e.add("route %d %#x %#x", v, m.Address, m.Data) }
func (e *events) Signal(v int)               { e.add("signal %d", v) }

// memRegion is a device model's BAR region backed by plain memory.
type memRegion struct {
	mu  sync.Mutex
	mem []byte
}

func (m *memRegion) Read(off uint64, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(data, m.mem[off:])
}

func (m *memRegion) Write(off uint64, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(m.mem[off:], data)
}

type rig struct {
	root   *pci.Root
	fn     *pci.Function
	other  *pci.Function
	region *memRegion
	ev     *events
	errs   []error
	t      testing.TB
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{ev: &events{}, region: &memRegion{mem: make([]byte, bar0Size)}}
	root, err := pci.NewRoot(pci.RootConfig{
		Windows:  []pci.Range{win32, win64},
		Reserved: []pci.Range{ramLow, ramHigh, reserved},
		BARMoved: func(m pci.BARMove) {
			r.ev.add("moved %v bar %d %#x->%#x size %#x", m.Slot, m.BAR, m.Old, m.New, m.Size)
		},
		BARRejected: func(m pci.BARMove, err error) {
			r.ev.add("rejected %v bar %d %#x->%#x", m.Slot, m.BAR, m.Old, m.New)
			r.errs = append(r.errs, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.root = root
	r.fn = newTestFunction(t, r.region, r.ev)
	if err := root.Attach(devSlot, r.fn, pci.LineFunc(func(high bool) { r.ev.add("intx %v", high) })); err != nil {
		t.Fatal(err)
	}
	r.other = pci.NewFunction(pci.Header{VendorID: 0x1234, DeviceID: 0x5678, Class: 0xff0000})
	if err := r.other.AddBAR(0, pci.BAR{Size: 0x1000, Addr: otherBARAddr}); err != nil {
		t.Fatal(err)
	}
	if err := root.Attach(otherSlot, r.other, nil); err != nil {
		t.Fatal(err)
	}
	return r
}

// newTestFunction builds the function every test uses: BAR0 32-bit with a
// plain region, BAR2 64-bit prefetchable with the MSI-X table and PBA, a
// vendor capability before the MSI-X capability.
func newTestFunction(t testing.TB, region pci.Region, sink pci.MSIXSink) *pci.Function {
	t.Helper()
	f := pci.NewFunction(pci.Header{
		VendorID: testVendor, DeviceID: testDevice, Revision: testRevision, Class: testClass,
		SubsystemVendorID: testSubVendor, SubsystemID: testSubsys, InterruptPin: pci.PinA,
	})
	must(t, f.AddBAR(0, pci.BAR{Size: bar0Size, Addr: bar0Addr, Region: region}))
	must(t, f.AddBAR(2, pci.BAR{Size: bar2Size, Is64: true, Prefetchable: true, Addr: bar2Addr}))
	if _, err := f.AddCapability(pci.NewVendorCapability([]byte{0xaa, 0xbb, 0xcc})); err != nil {
		t.Fatal(err)
	}
	must(t, f.AddMSIX(pci.MSIXConfig{Vectors: msixVectors, TableBAR: 2, TableOffset: msixTableOffset, PBABAR: 2, PBAOffset: msixPBAOffset}, sink))
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// read and write are configuration accesses of n bytes through the Root.
func (r *rig) read(s pci.Slot, off, n int) uint32 {
	data := make([]byte, n)
	r.root.ReadConfig(s, off, data)
	return le(data)
}

func (r *rig) write(s pci.Slot, off, n int, v uint32) {
	data := make([]byte, n)
	putLE(data, uint64(v))
	r.root.WriteConfig(s, off, data)
}

func le(data []byte) uint32 {
	var v uint32
	for i := len(data) - 1; i >= 0; i-- {
		v = v<<8 | uint32(data[i])
	}
	return v
}

func putLE(data []byte, v uint64) {
	for i := range data {
		data[i] = byte(v >> (8 * i))
	}
}

// mmio reads or writes BAR2 through its region, as a vCPU would.
func (r *rig) bar2Read(off uint64, n int) uint64 {
	data := make([]byte, n)
	r.fn.BARRegion(2).Read(off, data)
	var buf [8]byte
	copy(buf[:], data)
	return binary.LittleEndian.Uint64(buf[:])
}

func (r *rig) bar2Write(off uint64, n int, v uint64) {
	data := make([]byte, n)
	putLE(data, v)
	r.fn.BARRegion(2).Write(off, data)
}

// enable sets the command bits the way a driver's probe does.
func (r *rig) enable(bits uint16) {
	r.write(devSlot, 0x04, 2, uint32(bits))
}

// msixCapOffset walks the capability list for the MSI-X capability.
func (r *rig) msixCapOffset(t testing.TB) int {
	t.Helper()
	for off := int(r.read(devSlot, 0x34, 1)); off != 0; off = int(r.read(devSlot, off+1, 1)) {
		if r.read(devSlot, off, 1) == pci.CapabilityMSIX {
			return off
		}
	}
	t.Fatal("no MSI-X capability")
	return 0
}
