package vnet_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/ratelimit/ratelimittest"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vnet"
)

// oneKBps lets one 1000-byte frame through per second (a bucket of one
// frame, refilled at 1000 B/s).
var oneKBps = ratelimit.Config{Bytes: ratelimit.Bucket{Rate: 1000, Size: 1000}}

// newLimitedFixture is newFixture with rx and tx limited by cfg on a
// hand-driven clock whose timer notifies the queue, as the VMM's event
// loop would.
func newLimitedFixture(t *testing.T, rx, tx ratelimit.Config) (*fixture, *ratelimittest.Clock, *[2]int) {
	t.Helper()
	clock := ratelimittest.New()
	limiter := func(cfg ratelimit.Config) *ratelimit.Limiter {
		cfg.Clock = clock
		l, err := ratelimit.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20}, guestmem.Span{Base: 8 << 20, Size: 4 << 20})
	f := &fixture{mem: mem, be: newFakeBackend(), rec: &interestRecorder{}}
	var wakes [2]int
	dev, err := vnet.New(vnet.Config{
		MAC: testMAC, Backend: f.be, SetRxInterest: f.rec.set,
		RxLimit: limiter(rx), TxLimit: limiter(tx),
		Wake: func(q int) {
			wakes[q]++
			for f.tr.NotifyQueue(q) {
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.dev = dev
	if f.tr, err = mmio.New(dev, mem, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.drv = &virtiotest.MMIODriver{Regs: f.tr}
	f.init(t, 16, allFeatures)
	return f, clock, &wakes
}

// A transmit chain the limiter defers is held, not dropped: kicks leave it
// to the timer, which sends it.
func TestLimitTransmit(t *testing.T) {
	t.Parallel()
	f, clock, wakes := newLimitedFixture(t, ratelimit.Config{}, oneKBps)
	for i := range 3 {
		f.tx.AddChain(virtiotest.Readable(append(hdr(), frame(1000, byte(i))...)))
	}
	sent := func(want int) {
		t.Helper()
		if got := len(f.be.Sent()); got != want {
			t.Fatalf("%d frames sent, want %d (%+v)", got, want, f.dev.Stats())
		}
	}
	f.drv.Kick(vnet.TxQueue)
	sent(1)
	f.drv.Kick(vnet.TxQueue)
	sent(0)
	if next, ok := clock.Next(); !ok || next != time.Second {
		t.Fatalf("next timer in %v (%v), want 1s", next, ok)
	}
	clock.Advance(time.Second)
	sent(1)
	clock.Advance(time.Second)
	sent(1)
	if u := f.tx.Used(); len(u) != 3 {
		t.Fatalf("%d chains completed, want 3", len(u))
	}
	if s := f.dev.Stats(); s.TxFrames != 3 || s.TxThrottled != 2 || s.TxThrottledKicks != 1 || wakes[vnet.TxQueue] != 2 {
		t.Fatalf("stats %+v, %d wakes", s, wakes[vnet.TxQueue])
	}
	if clock.Pending() != 0 {
		t.Fatal("a timer is left with nothing to send")
	}
}

// A received frame the limiter defers stays in the device; interest in the
// backend goes off (a readable tap must not spin the event loop) until the
// timer notifies the receive queue.
func TestLimitReceive(t *testing.T) {
	t.Parallel()
	f, clock, wakes := newLimitedFixture(t, oneKBps, ratelimit.Config{})
	for range 3 {
		f.rx.AddChain(virtiotest.Writable(2048))
	}
	f.drv.Kick(vnet.RxQueue)
	f.be.Push(frame(1000, 1), frame(1000, 2), frame(1000, 3))
	delivered := func(want int, interest bool) {
		t.Helper()
		if u := f.rx.Used(); len(u) != want {
			t.Fatalf("%d frames delivered, want %d (%+v)", len(u), want, f.dev.Stats())
		}
		if on, _ := f.rec.get(); on != interest {
			t.Fatalf("interest %v, want %v", on, interest)
		}
	}
	f.dev.HandleRx()
	delivered(1, false)
	f.dev.HandleRx() // a wake-up already queued changes nothing
	f.drv.Kick(vnet.RxQueue)
	delivered(0, false)
	clock.Advance(time.Second)
	delivered(1, false)
	clock.Advance(time.Second)
	delivered(1, true) // the backend is empty: watch it again
	if s := f.dev.Stats(); s.RxFrames != 3 || s.RxThrottled != 2 || s.RxThrottledKicks != 1 || wakes[vnet.RxQueue] != 2 {
		t.Fatalf("stats %+v, %d wakes", s, wakes[vnet.RxQueue])
	}
}

// A reset cancels both directions' timers.
func TestLimitReset(t *testing.T) {
	t.Parallel()
	f, clock, wakes := newLimitedFixture(t, oneKBps, oneKBps)
	for range 2 {
		f.rx.AddChain(virtiotest.Writable(2048))
		f.tx.AddChain(virtiotest.Readable(append(hdr(), frame(1000, 0)...)))
	}
	f.drv.Kick(vnet.RxQueue)
	f.be.Push(frame(1000, 1), frame(1000, 2))
	f.dev.HandleRx()
	f.drv.Kick(vnet.TxQueue)
	if clock.Pending() != 2 {
		t.Fatalf("%d timers, want one per direction", clock.Pending())
	}
	f.drv.Reset()
	if clock.Pending() != 0 {
		t.Fatalf("%d timers after reset, want 0", clock.Pending())
	}
	clock.Advance(time.Hour)
	if *wakes != [2]int{} {
		t.Fatalf("wakes %v after reset", *wakes)
	}
}

// Both directions throttled on the host clock while the guest kicks, the
// tap delivers and the driver resets: -race checks the device's state,
// and no timer is left once the device is reset.
func TestLimitConcurrentReset(t *testing.T) {
	t.Parallel()
	clock := &ratelimittest.HostClock{}
	limiter := func() *ratelimit.Limiter {
		l, err := ratelimit.New(ratelimit.Config{Bytes: ratelimit.Bucket{Rate: 20000, Size: 2000}, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20}, guestmem.Span{Base: 8 << 20, Size: 4 << 20})
	be := newFakeBackend()
	var tr *mmio.Transport
	dev, err := vnet.New(vnet.Config{
		MAC: testMAC, Backend: be, RxLimit: limiter(), TxLimit: limiter(),
		Wake: func(q int) { tr.NotifyQueue(q) }, // on the timer's goroutine: another thread, as the event loop
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr, err = mmio.New(dev, mem, nil, nil); err != nil {
		t.Fatal(err)
	}
	drv := &virtiotest.MMIODriver{Regs: tr}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() { // the event loop reading the tap
		for !stop.Load() {
			be.Push(frame(1000, 1))
			dev.HandleRx()
		}
	})
	// At least 200 resets, and on until both directions were deferred:
	// without -race the loop can outrun the tap goroutine's first frames.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; i < 200 || !throttledBoth(dev.Stats()) && time.Now().Before(deadline); i++ {
		rx := virtiotest.NewQueue(mem, guestmem.Addr(0x1000+(i%4)*0x10000), 16)
		tx := virtiotest.NewQueue(mem, guestmem.Addr(8<<20+(i%4)*0x10000), 16)
		if _, err := drv.Init(allFeatures, rx, tx); err != nil {
			continue
		}
		for range 4 {
			rx.AddChain(virtiotest.Writable(2048))
			tx.AddChain(virtiotest.Readable(append(hdr(), frame(1000, 2)...)))
		}
		drv.Kick(vnet.RxQueue)
		drv.Kick(vnet.TxQueue)
		drv.Reset()
	}
	stop.Store(true)
	wg.Wait()
	if s := dev.Stats(); !throttledBoth(s) {
		t.Fatalf("stats %+v: want deferrals both ways", s)
	}
	if n := clock.Armed(); n != 0 {
		t.Fatalf("%d timers armed after the last reset, want 0", n)
	}
}

func throttledBoth(s vnet.Stats) bool { return s.TxThrottled > 0 && s.RxThrottled > 0 }
