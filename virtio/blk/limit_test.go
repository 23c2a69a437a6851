package blk_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/ratelimit/ratelimittest"
	"github.com/gluevmm/glue/virtio/blk"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	vt "github.com/gluevmm/glue/virtio/virtiotest"
)

// limitedDisk is a rate-limited device on a 16-sector image behind the
// MMIO transport, its limiter on a hand-driven clock whose timer notifies
// the queue again, as the VMM's event loop would.
type limitedDisk struct {
	dev   *blk.Device
	tr    *mmio.Transport
	drv   *vt.MMIODriver
	q     *vt.Queue
	clock *ratelimittest.Clock
	wakes atomic.Int64
}

func newLimitedDisk(t *testing.T, cfg ratelimit.Config) *limitedDisk {
	t.Helper()
	mem := vt.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20})
	d := &limitedDisk{clock: ratelimittest.New()}
	cfg.Clock = d.clock
	l, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.dev = blk.New(openDisk(t, newImage(t, 16, 0), blk.Options{}), nil)
	d.dev.SetLimiter(l, func(q int) {
		d.wakes.Add(1)
		for d.tr.NotifyQueue(q) {
		}
	})
	if d.tr, err = mmio.New(d.dev, mem, nil, nil); err != nil {
		t.Fatal(err)
	}
	d.drv = &vt.MMIODriver{Regs: d.tr}
	d.q = vt.NewQueue(mem, 0x1000, 64)
	if _, err := d.drv.Init(allFeatures, d.q); err != nil {
		t.Fatal(err)
	}
	return d
}

// readSectors queues one 512-byte read of each sector in order.
func (d *limitedDisk) readSectors(sectors ...uint64) {
	for _, s := range sectors {
		d.q.AddChain(vt.Readable(hdr(blk.ReqIn, s)), vt.Writable(512), vt.Writable(1))
	}
}

// checkDone checks that the next used entries are reads of sectors, in order.
func (d *limitedDisk) checkDone(t *testing.T, sectors ...uint64) {
	t.Helper()
	u := d.q.Used()
	if len(u) != len(sectors) {
		t.Fatalf("%d requests completed, want %d (%+v)", len(u), len(sectors), d.dev.Stats())
	}
	for i, s := range sectors {
		if got := d.q.Written(u[i]); u[i].Len != 513 || !bytes.Equal(got[:512], pattern(s)) || got[512] != blk.StatusOK {
			t.Fatalf("request %d: used length %d, not sector %d's data with status OK", i, u[i].Len, s)
		}
	}
}

// A request the limiter defers is not failed: it is kept, the queue is
// left alone (a kick meanwhile does nothing), and the timer completes it.
func TestLimitDefersRequests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  ratelimit.Config
		wait time.Duration // until the next request may go
	}{
		// Bucket of 512 bytes refilled at 512 B/s: one read per second.
		{"bandwidth", ratelimit.Config{Bytes: ratelimit.Bucket{Rate: 512, Size: 512}}, time.Second},
		{"operations", ratelimit.Config{Ops: ratelimit.Bucket{Rate: 4, Size: 1}}, 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newLimitedDisk(t, tc.cfg)
			d.readSectors(1, 2, 3)
			d.drv.Kick(0)
			d.checkDone(t, 1) // a full bucket: one request
			d.drv.Kick(0)
			d.drv.Kick(0)
			d.checkDone(t) // throttled: the kicks are left to the timer
			if next, ok := d.clock.Next(); !ok || next != tc.wait || d.clock.Pending() != 1 {
				t.Fatalf("%d timers, next in %v; want one in %v", d.clock.Pending(), next, tc.wait)
			}
			d.clock.Advance(tc.wait - time.Nanosecond)
			d.checkDone(t)
			d.clock.Advance(time.Nanosecond)
			d.checkDone(t, 2)
			d.clock.Advance(tc.wait)
			d.checkDone(t, 3)
			if s := d.dev.Stats(); s.Reads != 3 || s.Errors != 0 || s.Throttled != 2 || s.ThrottledKicks != 2 || d.wakes.Load() != 2 {
				t.Errorf("stats %+v, %d wakes; want 3 reads, 2 deferrals, 2 kicks left to the timer, 2 wakes", s, d.wakes.Load())
			}
			if d.clock.Pending() != 0 {
				t.Errorf("%d timers left with the queue empty", d.clock.Pending())
			}
		})
	}
}

// A reset while a request waits cancels the timer and drops the request
// with its queue; the device starts again with a fresh queue.
func TestLimitReset(t *testing.T) {
	t.Parallel()
	d := newLimitedDisk(t, ratelimit.Config{Bytes: ratelimit.Bucket{Rate: 512, Size: 512}})
	d.readSectors(1, 2)
	d.drv.Kick(0)
	d.checkDone(t, 1)
	d.drv.Reset()
	if d.clock.Pending() != 0 {
		t.Fatalf("%d timers armed after reset, want 0", d.clock.Pending())
	}
	d.clock.Advance(time.Hour)
	if d.wakes.Load() != 0 {
		t.Fatal("the timer of a reset queue fired")
	}
	q := vt.NewQueue(d.q.Mem, 0x20000, 64)
	if _, err := d.drv.Init(allFeatures, q); err != nil {
		t.Fatal(err)
	}
	d.q = q
	d.readSectors(4)
	d.drv.Kick(0)
	d.checkDone(t, 4) // not the request of the old queue
}

// Kicks, the limiter's timer on the host clock and resets race: -race
// checks the device's state, and no timer is left once the device is
// reset.
func TestLimitConcurrentReset(t *testing.T) {
	t.Parallel()
	mem := vt.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20})
	clock := &ratelimittest.HostClock{}
	l, err := ratelimit.New(ratelimit.Config{Bytes: ratelimit.Bucket{Rate: 512 << 10, Size: 1024}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	dev := blk.New(openDisk(t, newImage(t, 16, 0), blk.Options{}), nil)
	var tr *mmio.Transport
	// On the timer's goroutine: another thread, as the event loop is.
	dev.SetLimiter(l, func(q int) { tr.NotifyQueue(q) })
	if tr, err = mmio.New(dev, mem, nil, nil); err != nil {
		t.Fatal(err)
	}
	drv := &vt.MMIODriver{Regs: tr}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			tr.NotifyQueue(0)
		}
	})
	for i := range 200 {
		q := vt.NewQueue(mem, guestmem.Addr(0x1000+(i%4)*0x10000), 16)
		if _, err := drv.Init(allFeatures, q); err != nil {
			continue
		}
		for s := range uint64(4) {
			q.AddChain(vt.Readable(hdr(blk.ReqIn, s)), vt.Writable(512), vt.Writable(1))
		}
		drv.Kick(0)
		drv.Reset()
	}
	stop.Store(true)
	wg.Wait()
	if s := dev.Stats(); s.Throttled == 0 || s.Errors != 0 {
		t.Fatalf("stats %+v: want deferrals and no errors", s)
	}
	if n := clock.Armed(); n != 0 {
		t.Fatalf("%d timers armed after the last reset, want 0", n)
	}
}

// A driver that keeps requests queued gets the configured rate, no more
// and no less, over 5 simulated seconds: each request costs its data
// bytes, the timer wakes the queue when the limiter allows, and no tokens
// are lost between a wake and the next request.
func TestLimitRate(t *testing.T) {
	t.Parallel()
	const rate, span, req = 256 << 10, 5 * time.Second, 4096
	d := newLimitedDisk(t, ratelimit.Config{Bytes: ratelimit.Bucket{Rate: rate}})
	queued, moved := 0, uint64(0)
	for elapsed := time.Duration(0); ; {
		for ; queued < 8; queued++ {
			d.q.AddChain(vt.Readable(hdr(blk.ReqIn, 0)), vt.Writable(req), vt.Writable(1))
		}
		d.drv.Kick(0)
		for _, u := range d.q.Used() {
			if u.Len != req+1 {
				t.Fatalf("used %+v", u)
			}
			moved += req
			queued--
		}
		next, ok := d.clock.Next()
		if !ok {
			t.Fatalf("requests queued and no timer armed (%+v)", d.dev.Stats())
		}
		if elapsed+next > span {
			break
		}
		d.clock.Advance(next)
		elapsed += next
	}
	size := uint64(rate / 10)
	want := size + rate*uint64(span/time.Second)
	if moved > want || moved+req <= want {
		t.Errorf("moved %d bytes in %v; want bucket + rate × time = %d, less under one request", moved, span, want)
	}
}
