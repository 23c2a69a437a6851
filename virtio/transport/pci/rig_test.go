package virtiopci_test

import (
	"sync"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/virtio"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

const (
	ramSize = 1 << 20
	barAddr = 1 << 40 // inside the rig's 64-bit window
)

var rigSlot = pci.Slot{Device: 1}

// rig is a root complex with one virtio-pci function at 00:01.0, INTx and
// MSI-X recorded, and a driver that reaches it through ECAM and a memory
// view that follows the BAR wherever it is mapped.
type rig struct {
	tr    *virtiopci.Transport
	root  *pci.Root
	mem   *guestmem.Memory
	sink  *sink
	line  *line
	drv   *virtiotest.PCIDriver
	moves []pci.BARMove
}

func newRig(tb testing.TB, dev virtio.Device) *rig {
	tb.Helper()
	r := &rig{mem: virtiotest.NewMemory(tb, guestmem.Span{Base: 0, Size: ramSize}), sink: &sink{}, line: &line{}}
	r.build(tb, dev)
	return r
}

func (r *rig) build(tb testing.TB, dev virtio.Device) {
	tb.Helper()
	tr, err := virtiopci.New(dev, r.mem, virtiopci.Config{BARAddr: barAddr, MSIX: r.sink}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	r.attach(tb, tr)
}

// attach puts tr on a fresh root at rigSlot with the rig's INTx line.
func (r *rig) attach(tb testing.TB, tr *virtiopci.Transport) {
	tb.Helper()
	root, err := pci.NewRoot(pci.RootConfig{
		Windows:  []pci.Range{{Base: 0xc000_0000, Size: 0x1000_0000}, {Base: 1 << 40, Size: 1 << 36}},
		Reserved: []pci.Range{{Base: 0, Size: ramSize}},
		BARMoved: func(m pci.BARMove) { r.moves = append(r.moves, m) },
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := root.Attach(rigSlot, tr.Function(), r.line); err != nil {
		tb.Fatal(err)
	}
	r.tr, r.root = tr, root
	r.drv = &virtiotest.PCIDriver{Config: configWindow{root.ECAM(), rigSlot}, Mem: memView{tr.Function()}}
}

// configWindow is one function's 4 KiB of ECAM.
type configWindow struct {
	ecam *pci.ECAM
	slot pci.Slot
}

func (w configWindow) base() uint64                  { return uint64(w.slot.Device)<<15 | uint64(w.slot.Function)<<12 }
func (w configWindow) Read(off uint64, data []byte)  { w.ecam.Read(w.base()+off, data) }
func (w configWindow) Write(off uint64, data []byte) { w.ecam.Write(w.base()+off, data) }

// memView is the guest-physical address space as far as the function's
// BAR goes: the BAR region where the BAR is mapped now, nothing elsewhere.
type memView struct{ fn *pci.Function }

func (m memView) region(addr uint64, n int) (*pci.BARRegion, uint64, bool) {
	base, _ := m.fn.BARAddress(virtiopci.BAR)
	if addr < base || addr+uint64(n) > base+virtiopci.BARSize {
		return nil, 0, false
	}
	return m.fn.BARRegion(virtiopci.BAR), addr - base, true
}

func (m memView) Read(addr uint64, data []byte) {
	if r, off, ok := m.region(addr, len(data)); ok {
		r.Read(off, data)
		return
	}
	for i := range data {
		data[i] = 0xff
	}
}

func (m memView) Write(addr uint64, data []byte) {
	if r, off, ok := m.region(addr, len(data)); ok {
		r.Write(off, data)
	}
}

// sink records MSI-X routes and signals.
type sink struct {
	mu      sync.Mutex
	routes  map[int]pci.Message
	signals []int
}

func (s *sink) Route(v int, m pci.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.routes == nil {
		s.routes = map[int]pci.Message{}
	}
	s.routes[v] = m
}

func (s *sink) Signal(v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signals = append(s.signals, v)
}

// take returns the vectors signalled since the last call.
func (s *sink) take() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.signals
	s.signals = nil
	return out
}

func (s *sink) route(v int) (pci.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.routes[v]
	return m, ok
}

// line records the INTx level.
type line struct {
	mu     sync.Mutex
	high   bool
	raises int
}

func (l *line) SetLevel(high bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if high && !l.high {
		l.raises++
	}
	l.high = high
}

func (l *line) state() (high bool, raises int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.high, l.raises
}
