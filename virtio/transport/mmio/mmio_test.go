package mmio_test

import (
	"encoding/binary"
	"sync"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// line records the interrupt line's level changes.
type line struct {
	mu     sync.Mutex
	high   bool
	raised int
	bad    bool // a repeated level: SetLevel must be called on changes only
}

func (l *line) SetLevel(high bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if high == l.high {
		l.bad = true
	}
	l.high = high
	if high {
		l.raised++
	}
}

func (l *line) state() (high bool, raised int, bad bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.high, l.raised, l.bad
}

type fixture struct {
	mem *guestmem.Memory
	dev *virtiotest.EchoDevice
	t   *mmio.Transport
	irq *line
	drv *virtiotest.MMIODriver
	q   *virtiotest.Queue
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 1 << 20})
	dev := &virtiotest.EchoDevice{Feat: 1 << 3, MaxSizes: []uint16{64, 32}}
	dev.SetConfig([]byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa})
	irq := &line{}
	tr, err := mmio.New(dev, mem, irq, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{mem, dev, tr, irq, &virtiotest.MMIODriver{Regs: tr}, virtiotest.NewQueue(mem, 0x1000, 64)}
}

func (f *fixture) init(t *testing.T) {
	t.Helper()
	if _, err := f.drv.Init(^uint64(0), f.q); err != nil {
		t.Fatal(err)
	}
}

func TestIdentification(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, r := range []struct {
		off  uint64
		want uint32
	}{
		{virtiotest.MMIOMagic, 0x74726976},
		{virtiotest.MMIOVersion, 2},
		{virtiotest.MMIODeviceID, uint32(virtio.TypeConsole)},
		{virtiotest.MMIOVendorID, mmio.VendorID},
		{virtiotest.MMIOStatus, 0},
		{virtiotest.MMIOInterruptStatus, 0},
		{0x0b0, 0xffffffff}, // SHMLenLow: no region
		{0x0f8, 0},          // reserved
		{virtiotest.MMIOQueueNum, 0},
	} {
		if got := f.drv.Read32(r.off); got != r.want {
			t.Errorf("register %#x = %#x, want %#x", r.off, got, r.want)
		}
	}
}

func TestFeatureSelectors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	want := virtio.CoreFeatures | 1<<3
	for sel, w := range map[uint32]uint32{0: uint32(want), 1: uint32(want >> 32), 2: 0, 0xffffffff: 0} {
		f.drv.Write32(virtiotest.MMIODeviceFeaturesSel, sel)
		if got := f.drv.Read32(virtiotest.MMIODeviceFeatures); got != w {
			t.Errorf("DeviceFeatures page %d = %#x, want %#x", sel, got, w)
		}
	}
	got, err := f.drv.Init(virtio.FeatureVersion1|1<<3|1<<4, f.q)
	if err != nil || got != virtio.FeatureVersion1|1<<3 || f.dev.Negotiated() != got {
		t.Fatalf("negotiated %#x (device %#x), %v", got, f.dev.Negotiated(), err)
	}
}

// The handshake as Linux's virtio_mmio performs it, then a request.
func TestLinuxHandshakeAndRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init(t)
	if s := f.drv.Status(); s != virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK|virtio.StatusDriverOK {
		t.Fatalf("status %#x", s)
	}
	// Queue 1 exists but was not set up; queue 2 does not exist.
	f.drv.Write32(virtiotest.MMIOQueueSel, 1)
	if f.drv.Read32(virtiotest.MMIOQueueNumMax) != 32 || f.drv.Read32(virtiotest.MMIOQueueReady) != 0 {
		t.Fatal("queue 1")
	}
	f.drv.Write32(virtiotest.MMIOQueueSel, 2)
	if f.drv.Read32(virtiotest.MMIOQueueNumMax) != 0 {
		t.Fatal("queue 2 exists")
	}
	f.drv.Write32(virtiotest.MMIOQueueSel, 0)
	if f.drv.Read32(virtiotest.MMIOQueueReady) != 1 {
		t.Fatal("queue 0 not ready")
	}

	f.q.AddChain(virtiotest.Readable([]byte("hello")), virtiotest.Writable(16))
	f.drv.Kick(0)
	if high, raised, _ := f.irq.state(); !high || raised != 1 {
		t.Fatal("interrupt line not raised")
	}
	if s := f.drv.Ack(); s != 1 {
		t.Fatalf("InterruptStatus %#x, want used-buffer", s)
	}
	if high, _, bad := f.irq.state(); high || bad {
		t.Fatal("line still high after ACK")
	}
	u := f.q.Used()
	if len(u) != 1 || string(f.q.Written(u[0])) != "hello" {
		t.Fatalf("used %+v", u)
	}
	// Kicks for queues that do not exist or are not active are dropped.
	f.drv.Kick(1)
	f.drv.Kick(7)
	f.drv.Kick(0xffffffff)
}

func TestNotifyBeforeDriverOK(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.q.AddChain(virtiotest.Writable(4))
	f.drv.Kick(0)
	if f.t.NotifyQueue(0) || f.t.NotifyQueue(-1) || len(f.q.Used()) != 0 {
		t.Fatal("device worked before DRIVER_OK")
	}
}

func TestAccessWidths(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Narrow, wide and unaligned register accesses read zero and do nothing.
	for _, a := range []struct {
		off uint64
		n   int
	}{{0, 1}, {0, 2}, {0, 8}, {1, 4}, {2, 4}, {virtiotest.MMIOStatus, 2}} {
		b := make([]byte, a.n)
		f.t.Read(a.off, b)
		for _, x := range b {
			if x != 0 {
				t.Errorf("read %d bytes at %#x = %x", a.n, a.off, b)
			}
		}
	}
	f.t.Write(virtiotest.MMIOStatus, []byte{1})
	f.t.Write(virtiotest.MMIOStatus, []byte{1, 0})
	f.t.Write(virtiotest.MMIOStatus+1, []byte{1, 0, 0, 0})
	f.t.Write(virtiotest.MMIOStatus, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	if s := f.drv.Status(); s != 0 {
		t.Fatalf("a bad write changed status to %#x", s)
	}

	// Configuration space: 8/16/32-bit reads inside its 10 bytes.
	cfg := func(off uint64, n int) []byte {
		b := make([]byte, n)
		f.t.Read(virtiotest.MMIOConfig+off, b)
		return b
	}
	if b := cfg(0, 4); binary.LittleEndian.Uint32(b) != 0x44332211 {
		t.Fatalf("config dword %x", b)
	}
	if b := cfg(8, 2); b[0] != 0x99 || b[1] != 0xaa {
		t.Fatalf("config word %x", b)
	}
	if b := cfg(9, 1); b[0] != 0xaa {
		t.Fatalf("config byte %x", b)
	}
	for _, a := range []struct {
		off uint64
		n   int
	}{{8, 4}, {10, 1}, {0, 8}, {0xeff, 1}, {0xfff, 4}, {1 << 62, 4}, {^uint64(0) - 0x100, 2}} {
		if b := cfg(a.off, a.n); binary.LittleEndian.Uint64(append(b, make([]byte, 8)...)) != 0 {
			t.Errorf("config read %d at %#x past the end = %x", a.n, a.off, b)
		}
	}
	f.t.Write(virtiotest.MMIOConfig+1, []byte{0xee})
	f.t.Write(virtiotest.MMIOConfig+9, []byte{0xee, 0xee}) // straddles the end: ignored
	if b := cfg(0, 2); b[1] != 0xee {
		t.Fatal("config write lost")
	}
	if b := cfg(8, 2); b[1] != 0xaa {
		t.Fatal("write past the end of config reached the device")
	}
}

func TestConfigGeneration(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init(t)
	gen := f.drv.Read32(virtiotest.MMIOConfigGeneration)
	f.dev.ChangeConfig(0, []byte{0xab})
	if f.drv.Read32(virtiotest.MMIOConfigGeneration) == gen {
		t.Fatal("generation unchanged after a config change")
	}
	if s := f.drv.Ack(); s != 2 {
		t.Fatalf("InterruptStatus %#x, want config change", s)
	}
}

func TestInterruptStatusAndAck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init(t)
	f.q.AddChain(virtiotest.Writable(1))
	f.drv.Kick(0)
	f.dev.ChangeConfig(0, []byte{1})
	if s := f.drv.Read32(virtiotest.MMIOInterruptStatus); s != 3 {
		t.Fatalf("InterruptStatus %#x, want 3", s)
	}
	f.drv.Write32(virtiotest.MMIOInterruptACK, 1)
	if high, raised, _ := f.irq.state(); !high || raised != 1 {
		t.Fatal("line must stay high while a bit is pending")
	}
	f.drv.Write32(virtiotest.MMIOInterruptACK, 0xfffffffc) // no pending bits
	if high, _, _ := f.irq.state(); !high {
		t.Fatal("ACK of unset bits lowered the line")
	}
	f.drv.Write32(virtiotest.MMIOInterruptACK, 2)
	if high, _, bad := f.irq.state(); high || bad {
		t.Fatal("line high after everything was acknowledged")
	}
	f.drv.Write32(virtiotest.MMIOInterruptACK, 3) // nothing pending: no level change
	if _, _, bad := f.irq.state(); bad {
		t.Fatal("SetLevel repeated a level")
	}
	f.drv.Write32(virtiotest.MMIOInterruptStatus, 0) // read-only
}

func TestResetThroughStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init(t)
	f.q.AddChain(virtiotest.Writable(1))
	f.drv.Kick(0) // leaves the line high
	f.drv.Reset()
	if high, _, _ := f.irq.state(); high {
		t.Fatal("line high after reset")
	}
	if f.drv.Read32(virtiotest.MMIOInterruptStatus) != 0 || f.drv.Status() != 0 {
		t.Fatal("state after reset")
	}
	f.drv.Write32(virtiotest.MMIOQueueSel, 0)
	if f.drv.Read32(virtiotest.MMIOQueueReady) != 0 {
		t.Fatal("queue still ready after reset")
	}
	if _, resets := f.dev.Counts(); resets != 2 { // Init resets first, as Linux does
		t.Fatalf("device reset %d times", resets)
	}
	// And it comes back.
	f.q = virtiotest.NewQueue(f.mem, 0x1000, 64)
	f.init(t)
	f.q.AddChain(virtiotest.Readable([]byte("again")), virtiotest.Writable(5))
	f.drv.Kick(0)
	if u := f.q.Used(); len(u) != 1 || string(f.q.Written(u[0])) != "again" {
		t.Fatalf("used %+v", u)
	}
}

// Writing the queue registers after DRIVER_OK changes nothing: the device
// keeps using the rings it validated (the CVE-2026-5747 class).
func TestQueueRegistersFrozenAfterDriverOK(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init(t)
	f.drv.Write32(virtiotest.MMIOQueueSel, 0)
	for _, r := range []uint64{virtiotest.MMIOQueueDescLow, virtiotest.MMIOQueueDriverLow, virtiotest.MMIOQueueDeviceLow} {
		f.drv.Write32(r, 0x80000)
		f.drv.Write32(r+4, 0xffffffff)
	}
	f.drv.Write32(virtiotest.MMIOQueueNum, 2)
	f.drv.Write32(virtiotest.MMIOQueueReady, 0)
	if f.drv.Read32(virtiotest.MMIOQueueReady) != 1 {
		t.Fatal("queue disabled after DRIVER_OK")
	}
	f.q.AddChain(virtiotest.Readable([]byte("same")), virtiotest.Writable(4))
	f.drv.Kick(0)
	if u := f.q.Used(); len(u) != 1 || string(f.q.Written(u[0])) != "same" {
		t.Fatalf("used %+v", u)
	}
}

func TestOversizedQueueNum(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// 0x10040 would truncate to 64, a valid size: it must be refused.
	f.q.Size = 64
	f.drv.Write32(virtiotest.MMIOStatus, 0)
	f.drv.Write32(virtiotest.MMIOStatus, 1)
	f.drv.Write32(virtiotest.MMIOStatus, 3)
	f.drv.Write32(virtiotest.MMIODriverFeaturesSel, 1)
	f.drv.Write32(virtiotest.MMIODriverFeatures, 1)
	f.drv.Write32(virtiotest.MMIOStatus, 11)
	if err := f.drv.SetupQueue(0, f.q); err != nil {
		t.Fatal(err)
	}
	f.drv.Write32(virtiotest.MMIOQueueReady, 0)
	f.drv.Write32(virtiotest.MMIOQueueNum, 0x10040)
	f.drv.Write32(virtiotest.MMIOQueueReady, 1)
	f.drv.Write32(virtiotest.MMIOStatus, 15)
	if s := f.drv.Status(); s&virtio.StatusDeviceNeedsReset == 0 {
		t.Fatalf("status %#x: oversized QueueNum accepted", s)
	}
	if f.drv.Ack()&2 == 0 {
		t.Fatal("no configuration-change interrupt for NEEDS_RESET")
	}
}

func TestNewRejectsHugeConfig(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 1 << 16})
	dev := &virtiotest.EchoDevice{}
	dev.SetConfig(make([]byte, mmio.MaxConfigSize+1))
	if _, err := mmio.New(dev, mem, nil, nil); err == nil {
		t.Fatal("configuration space larger than the window accepted")
	}
	if _, err := mmio.New(&virtiotest.EchoDevice{MaxSizes: []uint16{3 << 14}}, mem, nil, nil); err == nil {
		t.Fatal("queue maximum above 32768 accepted")
	}
}

func TestKernelParam(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base guestmem.Addr
		size uint64
		irq  uint32
		want string
	}{
		{0xd0000000, 0x1000, 5, "virtio_mmio.device=4K@0xd0000000:5"},
		{0xd0001000, 0x200, 23, "virtio_mmio.device=512@0xd0001000:23"},
		{0x100000000, 2 << 20, 9, "virtio_mmio.device=2M@0x100000000:9"},
		{0, 1 << 30, 1, "virtio_mmio.device=1G@0x0:1"},
	} {
		if got := mmio.KernelParam(tc.base, tc.size, tc.irq); got != tc.want {
			t.Errorf("KernelParam = %q, want %q", got, tc.want)
		}
	}
}

// A kick does bounded work on the vCPU and leaves the rest to the guest's
// interrupt handler: an interrupt is forced, and the InterruptACK write
// that follows runs the next bounded share.
func TestKickIsBounded(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 1 << 20})
	dev := &virtiotest.BusyDevice{}
	irq := &line{}
	tr, err := mmio.New(dev, mem, irq, nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &virtiotest.MMIODriver{Regs: tr}
	if _, err := drv.Init(virtio.FeatureVersion1, virtiotest.NewQueue(mem, 0x1000, 64)); err != nil {
		t.Fatal(err)
	}
	drv.Kick(0) // returns: that is the point
	first := dev.Count()
	if first == 0 || first > 64 {
		t.Fatalf("one kick made %d calls", first)
	}
	if high, _, _ := irq.state(); !high || drv.Read32(virtiotest.MMIOInterruptStatus) != 1 {
		t.Fatal("unfinished work did not interrupt the driver")
	}
	drv.Ack()
	if n := dev.Count(); n != 2*first {
		t.Fatalf("after ACK %d calls, want %d", n, 2*first)
	}
	if high, _, _ := irq.state(); !high {
		t.Fatal("still unfinished, but no interrupt")
	}
	drv.Reset() // a reset ends it
	drv.Ack()
	if n := dev.Count(); n != 2*first {
		t.Fatalf("work continued after reset: %d calls", n)
	}
}
