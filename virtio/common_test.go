package virtio_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

const (
	ack      = virtio.StatusAcknowledge
	driver   = virtio.StatusDriver
	featOK   = virtio.StatusFeaturesOK
	driverOK = virtio.StatusDriverOK
	failed   = virtio.StatusFailed
	needsRst = virtio.StatusDeviceNeedsReset
	devFeat  = uint64(1) << 5 // a device-specific feature of the echo device
)

// signals records what Common asks the transport to deliver.
type signals struct {
	mu    sync.Mutex
	kinds []virtio.InterruptKind
}

func (s *signals) signal(k virtio.InterruptKind, _ int) {
	s.mu.Lock()
	s.kinds = append(s.kinds, k)
	s.mu.Unlock()
}

func (s *signals) count(k virtio.InterruptKind) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, x := range s.kinds {
		if x == k {
			n++
		}
	}
	return n
}

type commonFixture struct {
	mem *guestmem.Memory
	dev *virtiotest.EchoDevice
	c   *virtio.Common
	sig *signals
	drv *virtiotest.Queue
}

func newCommon(t *testing.T) *commonFixture {
	t.Helper()
	mem := testMemory(t)
	dev := &virtiotest.EchoDevice{Feat: devFeat, MaxSizes: []uint16{16, 16}}
	sig := &signals{}
	c, err := virtio.NewCommon(dev, mem, sig.signal, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &commonFixture{mem, dev, c, sig, virtiotest.NewQueue(mem, 0x1000, 16)}
}

// negotiate takes the device to FEATURES_OK with features.
func (f *commonFixture) negotiate(features uint64) {
	f.c.SetStatus(ack)
	f.c.SetStatus(ack | driver)
	f.c.SetDriverFeatures(0, uint32(features))
	f.c.SetDriverFeatures(1, uint32(features>>32))
	f.c.SetStatus(ack | driver | featOK)
}

// setupQueue configures queue i from the driver-side queue and enables it.
func (f *commonFixture) setupQueue(i uint32, q *virtiotest.Queue) {
	f.c.SetQueueSize(i, q.Size)
	f.c.SetQueueAddr(i, virtio.RingDesc, q.DescTable)
	f.c.SetQueueAddr(i, virtio.RingDriver, q.AvailRing)
	f.c.SetQueueAddr(i, virtio.RingDevice, q.UsedRing)
	f.c.SetQueueReady(i, true)
}

func (f *commonFixture) start(t *testing.T) {
	t.Helper()
	f.negotiate(virtio.FeatureVersion1 | virtio.FeatureRingEventIdx | devFeat)
	f.setupQueue(0, f.drv)
	f.c.SetStatus(ack | driver | featOK | driverOK)
	if !f.c.Active() || f.c.Status() != ack|driver|featOK|driverOK {
		t.Fatalf("not active: status %#x", f.c.Status())
	}
}

func TestNewCommonRejectsBadDevices(t *testing.T) {
	t.Parallel()
	mem := testMemory(t)
	sig := func(virtio.InterruptKind, int) {}
	for _, sizes := range [][]uint16{{0}, {16, 0}, make([]uint16, virtio.MaxQueues+1)} {
		if _, err := virtio.NewCommon(&virtiotest.EchoDevice{MaxSizes: sizes}, mem, sig, nil); err == nil {
			t.Errorf("queue sizes %v accepted", sizes[:min(len(sizes), 3)])
		}
	}
	if _, err := virtio.NewCommon(&virtiotest.EchoDevice{MaxSizes: []uint16{32768}}, mem, sig, nil); err != nil {
		t.Errorf("maximum queue size refused: %v", err)
	}
	if _, err := virtio.NewCommon(nil, mem, sig, nil); err == nil {
		t.Error("nil device accepted")
	}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	f := newCommon(t)
	if got := f.c.DeviceFeatures(); got != devFeat|virtio.CoreFeatures {
		t.Fatalf("offered %#x", got)
	}
	f.start(t)
	if got := f.dev.Negotiated(); got != virtio.FeatureVersion1|virtio.FeatureRingEventIdx|devFeat {
		t.Fatalf("device activated with %#x", got)
	}
	if f.dev.Queue(0) == nil || f.dev.Queue(1) != nil {
		t.Fatal("queue 0 should be active and the disabled queue 1 nil")
	}
	f.drv.AddChain(virtiotest.Readable([]byte("hi")), virtiotest.Writable(2))
	f.dev.Notify(0)
	if u := f.drv.Used(); len(u) != 1 || string(f.drv.Written(u[0])) != "hi" {
		t.Fatalf("echo: %+v", u)
	}
	if f.sig.count(virtio.InterruptUsedBuffer) != 1 {
		t.Fatal("no used-buffer interrupt")
	}
}

func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	const v1 = virtio.FeatureVersion1
	tests := []struct {
		name     string
		features uint64 // written as soon as DRIVER is set
		writes   []uint8
		want     uint8
	}{
		{"in order", v1, []uint8{ack, ack | driver, ack | driver | featOK, ack | driver | featOK | driverOK}, ack | driver | featOK | driverOK},
		{"the rest at once", v1, []uint8{ack | driver, ack | driver | featOK | driverOK}, ack | driver | featOK | driverOK},
		{"all at once: no chance to write features", v1, []uint8{ack | driver | featOK | driverOK}, ack | driver},
		{"DRIVER before ACKNOWLEDGE", v1, []uint8{driver}, 0},
		{"FEATURES_OK before DRIVER", v1, []uint8{ack, ack | featOK}, ack},
		{"DRIVER_OK before FEATURES_OK", v1, []uint8{ack, ack | driver, ack | driver | driverOK}, ack | driver},
		{"FEATURES_OK without VERSION_1", 0, []uint8{ack, ack | driver, ack | driver | featOK}, ack | driver},
		{"FEATURES_OK with an unoffered feature", v1 | 1<<40, []uint8{ack, ack | driver, ack | driver | featOK}, ack | driver},
		{"refused FEATURES_OK stops DRIVER_OK in the same write", 0, []uint8{ack | driver, ack | driver | featOK | driverOK}, ack | driver},
		{"clearing a bit is ignored", v1, []uint8{ack, ack | driver, ack}, ack | driver},
		{"replacing bits is ignored", v1, []uint8{ack, driver}, ack},
		{"NEEDS_RESET is the device's", v1, []uint8{ack | needsRst}, ack},
		{"unknown bits ignored", v1, []uint8{ack | 16 | 32}, ack},
		{"FAILED at any time", v1, []uint8{ack, ack | failed}, ack | failed},
		{"FAILED with other bits", v1, []uint8{ack | failed}, ack | failed},
		{"nothing after FAILED", v1, []uint8{failed, failed | ack}, failed},
		{"FAILED prevents activation", v1, []uint8{ack | driver, ack | driver | featOK | driverOK | failed}, ack | driver | featOK | driverOK | failed},
		{"zero resets", v1, []uint8{ack, ack | driver, 0}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newCommon(t)
			for _, w := range tc.writes {
				f.c.SetStatus(w)
				if f.c.Status()&driver != 0 && f.c.Status()&featOK == 0 {
					f.c.SetDriverFeatures(0, uint32(tc.features))
					f.c.SetDriverFeatures(1, uint32(tc.features>>32))
				}
			}
			if got := f.c.Status(); got != tc.want {
				t.Fatalf("status %#x, want %#x", got, tc.want)
			}
			wantActive := tc.want&driverOK != 0 && tc.want&failed == 0
			if act, _ := f.dev.Counts(); (act == 1) != wantActive || f.c.Active() != wantActive {
				t.Fatalf("activations %d with status %#x", act, tc.want)
			}
		})
	}
}

func TestDriverFeaturesWindow(t *testing.T) {
	t.Parallel()
	f := newCommon(t)
	f.c.SetDriverFeatures(0, 0xff) // before DRIVER: ignored
	if f.c.DriverFeatures() != 0 {
		t.Fatal("features accepted before DRIVER")
	}
	f.c.SetStatus(ack | driver)
	f.c.SetDriverFeatures(2, 0xff) // no page 2
	f.c.SetDriverFeatures(1, 1)
	f.c.SetDriverFeatures(0, uint32(devFeat))
	if f.c.DriverFeatures() != virtio.FeatureVersion1|devFeat {
		t.Fatalf("features %#x", f.c.DriverFeatures())
	}
	f.c.SetStatus(ack | driver | featOK)
	f.c.SetDriverFeatures(0, 0) // after FEATURES_OK: frozen
	if f.c.DriverFeatures() != virtio.FeatureVersion1|devFeat {
		t.Fatalf("features changed after FEATURES_OK: %#x", f.c.DriverFeatures())
	}
}

// Queue geometry is frozen once a queue is enabled and, for every queue,
// once DRIVER_OK is set (the CVE-2026-5747 class).
func TestQueueConfigFrozen(t *testing.T) {
	t.Parallel()
	f := newCommon(t)
	f.negotiate(virtio.FeatureVersion1)
	f.setupQueue(0, f.drv)
	f.c.SetQueueAddr(0, virtio.RingDesc, 0x800000) // ready: ignored
	f.c.SetQueueSize(0, 4)
	if f.c.QueueAddr(0, virtio.RingDesc) != f.drv.DescTable || f.c.QueueSize(0) != 16 {
		t.Fatal("geometry of a ready queue changed")
	}
	f.c.SetQueueReady(0, false) // a disabled queue may be reconfigured
	f.c.SetQueueSize(0, 8)
	f.c.SetQueueSize(0, 16)
	f.c.SetQueueReady(0, true)
	f.c.SetStatus(ack | driver | featOK | driverOK)

	f.c.SetQueueReady(0, false)
	f.c.SetQueueAddr(1, virtio.RingDesc, 0x800000) // not ready, but DRIVER_OK
	f.c.SetQueueSize(1, 2)
	f.c.SetQueueReady(1, true)
	if !f.c.QueueReady(0) || f.c.QueueReady(1) || f.c.QueueAddr(1, virtio.RingDesc) != 0 || f.c.QueueSize(1) != 16 {
		t.Fatal("queue configuration changed after DRIVER_OK")
	}
	// The running queue still works from where it was validated.
	f.drv.AddChain(virtiotest.Readable([]byte("ok")), virtiotest.Writable(2))
	f.dev.Notify(0)
	if u := f.drv.Used(); len(u) != 1 {
		t.Fatal("queue stopped")
	}
	// Out-of-range selectors are harmless.
	f.c.SetQueueSize(99, 1)
	f.c.SetQueueAddr(0xffffffff, virtio.RingDevice, 1)
	f.c.SetQueueAddr(0, virtio.Ring(7), 1)
	if f.c.QueueMaxSize(2) != 0 || f.c.QueueSize(2) != 0 || f.c.QueueReady(2) || f.c.QueueAddr(2, virtio.RingDesc) != 0 {
		t.Fatal("nonexistent queue has state")
	}
}

func TestActivationFailureNeedsReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(f *commonFixture)
	}{
		{"queue size not a power of two", func(f *commonFixture) { f.c.SetQueueSize(0, 12) }},
		{"queue size zero", func(f *commonFixture) { f.c.SetQueueSize(0, 0) }},
		{"used ring in the hole", func(f *commonFixture) { f.c.SetQueueAddr(0, virtio.RingDevice, lowEnd) }},
		{"descriptor table at 2^64-16", func(f *commonFixture) { f.c.SetQueueAddr(0, virtio.RingDesc, 0xfffffffffffffff0) }},
		{"device refuses", func(f *commonFixture) { f.dev.ActivateErr = errors.New("no backend") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newCommon(t)
			f.negotiate(virtio.FeatureVersion1)
			f.c.SetQueueSize(0, f.drv.Size)
			f.c.SetQueueAddr(0, virtio.RingDesc, f.drv.DescTable)
			f.c.SetQueueAddr(0, virtio.RingDriver, f.drv.AvailRing)
			f.c.SetQueueAddr(0, virtio.RingDevice, f.drv.UsedRing)
			tc.setup(f)
			f.c.SetQueueReady(0, true)
			f.c.SetStatus(ack | driver | featOK | driverOK)
			if f.c.Active() || f.c.Status() != ack|driver|featOK|driverOK|needsRst {
				t.Fatalf("active %v, status %#x", f.c.Active(), f.c.Status())
			}
			if act, _ := f.dev.Counts(); act != 0 {
				t.Fatal("device activated")
			}
			if f.sig.count(virtio.InterruptConfigChange) != 1 {
				t.Fatal("no configuration-change interrupt")
			}
			// A reset clears NEEDS_RESET and the device can start again.
			f.c.SetStatus(0)
			f.dev.ActivateErr = nil
			if f.c.Status() != 0 {
				t.Fatalf("status %#x after reset", f.c.Status())
			}
			f.start(t)
		})
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	f := newCommon(t)
	f.start(t)
	q := f.dev.Queue(0)
	f.c.SetStatus(0)
	if f.c.Active() || f.c.Status() != 0 || f.c.DriverFeatures() != 0 || f.c.QueueReady(0) ||
		f.c.QueueAddr(0, virtio.RingDesc) != 0 || f.c.QueueSize(0) != 16 {
		t.Fatal("reset left state behind")
	}
	if _, resets := f.dev.Counts(); resets != 1 || f.dev.Queue(0) != nil {
		t.Fatal("device not reset")
	}
	// A queue that outlived the reset (a buggy device) cannot interrupt or
	// mark the new session NEEDS_RESET.
	before := len(f.sig.kinds)
	f.drv.SetAvailIdx(100)
	q.Pop()
	if !q.Broken() || f.c.Status()&needsRst != 0 || len(f.sig.kinds) != before {
		t.Fatal("stale queue reached the transport")
	}
	f.drv = virtiotest.NewQueue(f.mem, 0x1000, 16)
	f.start(t)
}

// A broken queue marks the device DEVICE_NEEDS_RESET through Common.
func TestBrokenQueueSetsNeedsReset(t *testing.T) {
	t.Parallel()
	f := newCommon(t)
	f.start(t)
	f.drv.SetAvailIdx(17)
	f.dev.Notify(0)
	if f.c.Status()&needsRst == 0 || f.sig.count(virtio.InterruptConfigChange) != 1 {
		t.Fatalf("status %#x", f.c.Status())
	}
	f.c.SetStatus(f.c.Status() | featOK) // a write echoing NEEDS_RESET back is fine
	if f.c.Status()&needsRst == 0 {
		t.Fatal("NEEDS_RESET lost")
	}
	f.c.SetStatus(0)
	f.drv = virtiotest.NewQueue(f.mem, 0x1000, 16)
	f.start(t)
}
