package balloon_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/balloon"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// Guest RAM for the tests: low memory with the queues, a gap (the MMIO
// gap of a real VM), and high memory whose pages the tests give up.
const (
	lowEnd   = 4 << 20
	highBase = 8 << 20
	highEnd  = 12 << 20
	highPFN  = highBase / balloon.PageSize
)

type fixture struct {
	mem *guestmem.Memory
	dev *balloon.Device
	drv *virtiotest.MMIODriver
	q   []*virtiotest.Queue // by queue index
}

// newFixture drives a device offering cfg through virtio-mmio, negotiating
// want, with one queue per index the negotiated features give.
func newFixture(t testing.TB, cfg balloon.Config, want uint64) *fixture {
	t.Helper()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: lowEnd}, guestmem.Span{Base: highBase, Size: highEnd - highBase})
	dev := balloon.New(cfg)
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 2
	if cfg.Stats && want&balloon.FeatureStatsVQ != 0 {
		n++
	}
	if cfg.Reporting && want&balloon.FeaturePageReporting != 0 {
		n++
	}
	f := &fixture{mem: mem, dev: dev, drv: &virtiotest.MMIODriver{Regs: tr}}
	for i := range n {
		f.q = append(f.q, virtiotest.NewQueue(mem, guestmem.Addr(0x1000+i*0x40000), balloon.QueueSize))
	}
	if _, err := f.drv.Init(virtio.FeatureVersion1|want, f.q...); err != nil {
		t.Fatal(err)
	}
	return f
}

var allFeatures = balloon.FeatureStatsVQ | balloon.FeatureDeflateOnOOM | balloon.FeaturePageReporting

func fullConfig() balloon.Config {
	return balloon.Config{Stats: true, DeflateOnOOM: true, Reporting: true}
}

func pfnList(pfns ...uint32) []byte {
	b := make([]byte, 4*len(pfns))
	for i, p := range pfns {
		binary.LittleEndian.PutUint32(b[4*i:], p)
	}
	return b
}

// touch fills the pages from pfn on with 0xaa.
func (f *fixture) touch(t testing.TB, pfn, n uint32) {
	t.Helper()
	if err := f.mem.WriteAt(bytes.Repeat([]byte{0xaa}, int(n)*balloon.PageSize), guestmem.Addr(pfn)*balloon.PageSize); err != nil {
		t.Fatal(err)
	}
}

// zeroed reports whether the page reads all zeros, as a discarded page does.
func (f *fixture) zeroed(t *testing.T, pfn uint32) bool {
	t.Helper()
	b, err := f.mem.Slice(guestmem.Addr(pfn)*balloon.PageSize, balloon.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte{0}) == len(b)
}

func TestInflateDiscardsListedPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	f.touch(t, highPFN, 64)
	// A run of four, two single pages out of order, in two chains.
	f.q[0].AddChain(virtiotest.Readable(pfnList(highPFN+10, highPFN+11, highPFN+12, highPFN+13, highPFN+2)))
	f.q[0].AddChain(virtiotest.Readable(pfnList(highPFN + 40)))
	f.drv.Kick(0)
	if u := f.q[0].Used(); len(u) != 2 {
		t.Fatalf("used %+v, want both chains back", u)
	}
	for p := uint32(highPFN); p < highPFN+64; p++ {
		given := (p >= highPFN+10 && p <= highPFN+13) || p == highPFN+2 || p == highPFN+40
		if f.zeroed(t, p) != given {
			t.Errorf("page %#x: zeroed %v, want %v", p, !given, given)
		}
	}
	if s := f.dev.Status(); s.Inflated != 6 || s.BadPages != 0 {
		t.Fatalf("status %+v, want 6 pages inflated", s)
	}
}

// A hostile page list: pages in the gap, past the end of RAM, near 2^32,
// repeated, and a trailing half number. The pages inside RAM are given
// up, the others counted and never touched.
func TestInflateHostilePageList(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	f.touch(t, 0x100, 16)
	f.touch(t, highPFN, 16)
	gap := uint32(lowEnd / balloon.PageSize)
	list := pfnList(
		gap-1, gap, gap+1, // the last low page, then the gap
		highPFN-1, highPFN, // the gap, then the first high page
		highEnd/balloon.PageSize, 0xffffffff, // past the end
		highPFN+3, highPFN+3, highPFN+3, // repeated
	)
	f.touch(t, gap-1, 1)
	f.q[0].AddChain(virtiotest.Readable(append(list, 0xee, 0xee)))
	f.drv.Kick(0)
	if u := f.q[0].Used(); len(u) != 1 {
		t.Fatalf("used %+v", u)
	}
	for _, p := range []uint32{gap - 1, highPFN, highPFN + 3} {
		if !f.zeroed(t, p) {
			t.Errorf("page %#x inside RAM was not given up", p)
		}
	}
	for _, p := range []uint32{0x100, highPFN + 1, highPFN + 2, highPFN + 4} {
		if f.zeroed(t, p) {
			t.Errorf("page %#x, not listed, lost its contents", p)
		}
	}
	s := f.dev.Status()
	if s.Inflated != 5 || s.BadPages != 5 || s.Malformed != 1 {
		t.Fatalf("status %+v: want 5 pages inflated (one three times), 5 bad, 1 malformed", s)
	}
}

func TestDeflateCountsPagesInRAM(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	f.touch(t, highPFN, 4)
	f.q[1].AddChain(virtiotest.Readable(pfnList(highPFN, highPFN+1, lowEnd/balloon.PageSize)))
	f.drv.Kick(1)
	if u := f.q[1].Used(); len(u) != 1 {
		t.Fatalf("used %+v", u)
	}
	if s := f.dev.Status(); s.Deflated != 2 || s.BadPages != 1 || s.Inflated != 0 {
		t.Fatalf("status %+v: want 2 deflated, 1 bad", s)
	}
	if f.zeroed(t, highPFN) {
		t.Fatal("deflate discarded a page")
	}
}

func TestTargetAndActual(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	f.drv.Ack()
	f.dev.SetTarget(1234)
	if got := f.drv.Read32(virtiotest.MMIOConfig); got != 1234 {
		t.Fatalf("num_pages %d, want 1234", got)
	}
	if f.drv.Ack()&2 == 0 {
		t.Fatal("no configuration-change interrupt after SetTarget")
	}
	f.drv.Write32(virtiotest.MMIOConfig+4, 1000)
	f.drv.Write32(virtiotest.MMIOConfig, 7) // num_pages is the host's
	s := f.dev.Status()
	if s.TargetPages != 1234 || s.ActualPages != 1000 {
		t.Fatalf("target %d actual %d, want 1234 and 1000", s.TargetPages, s.ActualPages)
	}
	if got := f.drv.Read32(virtiotest.MMIOConfig + 4); got != 1000 {
		t.Fatalf("actual reads %d, want 1000", got)
	}
	f.drv.Reset()
	if s := f.dev.Status(); s.TargetPages != 1234 || s.ActualPages != 0 {
		t.Fatalf("after reset: target %d actual %d, want 1234 and 0", s.TargetPages, s.ActualPages)
	}
}

func stat(tag uint16, v uint64) []byte {
	b := make([]byte, 10)
	binary.LittleEndian.PutUint16(b, tag)
	binary.LittleEndian.PutUint64(b[2:], v)
	return b
}

func TestStatsHeldAndReturnedOnRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	if f.dev.RequestStats() {
		t.Fatal("RequestStats returned a buffer before the driver sent one")
	}
	buf := append(stat(balloon.StatFreeMemory, 5<<20), stat(balloon.StatTotalMemory, 64<<20)...)
	f.q[2].AddChain(virtiotest.Readable(buf))
	f.drv.Kick(2)
	if u := f.q[2].Used(); len(u) != 0 {
		t.Fatalf("the device returned the statistics buffer at once: %+v", u)
	}
	s := f.dev.Status()
	if s.StatsUpdates != 1 || s.Stats == nil || s.Stats.Values[balloon.StatFreeMemory] != 5<<20 ||
		!s.Stats.Known[balloon.StatTotalMemory] || s.Stats.Known[balloon.StatSwapIn] {
		t.Fatalf("status %+v", s)
	}
	if !f.dev.RequestStats() {
		t.Fatal("RequestStats had no buffer to return")
	}
	if u := f.q[2].Used(); len(u) != 1 {
		t.Fatalf("used %+v after RequestStats, want the buffer back", u)
	}
	if f.dev.RequestStats() {
		t.Fatal("RequestStats returned the same buffer twice")
	}
}

// Linux's driver makes its first statistics buffer available before it
// sets DRIVER_OK; the device must take it at activation, as no
// notification counts before then.
func TestStatsBufferPrimedBeforeDriverOK(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: lowEnd})
	dev := balloon.New(fullConfig())
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &virtiotest.MMIODriver{Regs: tr}
	var q []*virtiotest.Queue
	for i := range 3 {
		q = append(q, virtiotest.NewQueue(mem, guestmem.Addr(0x1000+i*0x40000), balloon.QueueSize))
	}
	q[2].AddChain(virtiotest.Readable(stat(balloon.StatTotalMemory, 64<<20)))
	if _, err := drv.Init(virtio.FeatureVersion1|balloon.FeatureStatsVQ, q...); err != nil {
		t.Fatal(err)
	}
	if s := dev.Status(); s.StatsUpdates != 1 || s.Stats == nil || s.Stats.Values[balloon.StatTotalMemory] != 64<<20 {
		t.Fatalf("status after DRIVER_OK %+v, want the primed report", s)
	}
	if !dev.RequestStats() {
		t.Fatal("RequestStats had no buffer to return: the primed one was not held")
	}
}

func TestStatsBuffersOfOddSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		buf       []byte
		free      uint64 // StatFreeMemory afterwards
		known     bool
		malformed uint64
	}{
		{"empty", nil, 0, false, 0},
		{"shorter than an entry", stat(balloon.StatFreeMemory, 1)[:9], 0, false, 1},
		{"one and a half entries", append(stat(balloon.StatFreeMemory, 2), 1, 2, 3, 4, 5), 2, true, 1},
		{"unknown tag", append(stat(99, 1), stat(balloon.StatFreeMemory, 3)...), 3, true, 1},
		{"repeated tag: the last wins", append(stat(balloon.StatFreeMemory, 1), stat(balloon.StatFreeMemory, 4)...), 4, true, 0},
		{"longer than the cap", bytes.Repeat(stat(balloon.StatFreeMemory, 5), 100), 5, true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fullConfig(), allFeatures)
			f.q[2].AddChain(virtiotest.Readable(tc.buf))
			f.drv.Kick(2)
			s := f.dev.Status()
			if s.StatsUpdates != 1 || s.Stats.Values[balloon.StatFreeMemory] != tc.free ||
				s.Stats.Known[balloon.StatFreeMemory] != tc.known || s.Malformed != tc.malformed {
				t.Fatalf("status %+v, stats %+v: want free %d (known %v), %d malformed", s, s.Stats, tc.free, tc.known, tc.malformed)
			}
		})
	}
}

// A driver that sends a second statistics buffer while one is held gets
// the first back: the device holds one at most.
func TestStatsHoldsOneBuffer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	first := f.q[2].AddChain(virtiotest.Readable(stat(balloon.StatFreeMemory, 1)))
	f.q[2].AddChain(virtiotest.Readable(stat(balloon.StatFreeMemory, 2)))
	f.drv.Kick(2)
	u := f.q[2].Used()
	if len(u) != 1 || u[0].ID != uint32(first) {
		t.Fatalf("used %+v, want the first buffer back", u)
	}
	if s := f.dev.Status(); s.StatsUpdates != 2 || s.Stats.Values[balloon.StatFreeMemory] != 2 {
		t.Fatalf("status %+v", s)
	}
}

func TestReportedFreePagesDiscarded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	f.touch(t, highPFN, 1024)
	// Linux reports free blocks as device-writable buffers; an unaligned
	// one gives up only the whole pages inside it.
	f.q[3].AddChain(virtiotest.Buf{Len: 2 << 20, Write: true})
	f.drv.Kick(3)
	if u := f.q[3].Used(); len(u) != 1 || u[0].Len != 0 {
		t.Fatalf("used %+v", u)
	}
	s := f.dev.Status()
	if s.Reported != 512 {
		t.Fatalf("status %+v: want 512 pages reported", s)
	}
}

// Without STATS_VQ the reporting queue is queue 2, as Linux numbers it.
func TestQueueNumbersFollowFeatures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), balloon.FeaturePageReporting)
	if len(f.q) != 3 {
		t.Fatalf("%d queues", len(f.q))
	}
	f.q[2].AddChain(virtiotest.Buf{Len: 8192, Write: true})
	f.drv.Kick(2)
	if s := f.dev.Status(); s.Reported != 2 || s.StatsUpdates != 0 {
		t.Fatalf("status %+v: queue 2 should be the reporting queue", s)
	}
}

func TestFeaturesOffered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg    balloon.Config
		want   uint64
		queues int
	}{
		{balloon.Config{}, 0, 2},
		{balloon.Config{Stats: true}, balloon.FeatureStatsVQ, 3},
		{balloon.Config{DeflateOnOOM: true}, balloon.FeatureDeflateOnOOM, 2},
		{fullConfig(), allFeatures, 4},
	}
	for _, tc := range tests {
		d := balloon.New(tc.cfg)
		if d.Features() != tc.want || len(d.QueueMaxSizes()) != tc.queues {
			t.Errorf("%+v: features %#x with %d queues, want %#x with %d", tc.cfg, d.Features(), len(d.QueueMaxSizes()), tc.want, tc.queues)
		}
	}
}

// Reported buffers need not be page-aligned: only the whole pages inside
// one are discarded, and a buffer outside RAM is refused by the queue.
func TestReportedUnalignedAndOutsideRAM(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fullConfig(), allFeatures)
	f.touch(t, highPFN, 8)
	f.q[3].SetDesc(0, virtio.Descriptor{Addr: highBase + 100, Len: 3 * balloon.PageSize, Flags: virtio.DescFlagWrite})
	f.q[3].SetDesc(1, virtio.Descriptor{Addr: lowEnd, Len: balloon.PageSize, Flags: virtio.DescFlagWrite})
	f.q[3].SetDesc(2, virtio.Descriptor{Addr: highBase + 5*balloon.PageSize, Len: 100, Flags: virtio.DescFlagWrite})
	f.q[3].Publish(0, 1, 2)
	f.drv.Kick(3)
	if u := f.q[3].Used(); len(u) != 3 {
		t.Fatalf("used %+v, want all three back", u)
	}
	for p := uint32(highPFN); p < highPFN+8; p++ {
		if want := p == highPFN+1 || p == highPFN+2; f.zeroed(t, p) != want {
			t.Errorf("page %#x: zeroed %v, want %v", p, !want, want)
		}
	}
	if s := f.dev.Status(); s.Reported != 2 {
		t.Fatalf("status %+v: want 2 pages reported", s)
	}
}

// Notifications for queues that do not exist, before activation and after
// a reset do nothing.
func TestNotifyOutOfRangeAndInactive(t *testing.T) {
	t.Parallel()
	dev := balloon.New(fullConfig())
	for _, q := range []int{-1, 0, 3, 4, 1 << 20} {
		if dev.Notify(q) {
			t.Errorf("inactive device: Notify(%d) reported more work", q)
		}
	}
	f := newFixture(t, fullConfig(), balloon.FeatureStatsVQ)
	f.q[0].AddChain(virtiotest.Readable(pfnList(highPFN)))
	for _, q := range []int{-1, 3, 4, 1 << 20} {
		if f.dev.Notify(q) {
			t.Errorf("Notify(%d) reported more work", q)
		}
	}
	f.drv.Reset()
	if f.dev.Notify(0) || f.dev.RequestStats() || f.dev.Status().Inflated != 0 {
		t.Fatal("a reset device processed a queue")
	}
}
