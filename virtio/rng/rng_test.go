package rng_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/rng"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// counter is a deterministic source: 0, 1, 2, ... mod 256.
type counter struct{ n byte }

func (c *counter) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.n
		c.n++
	}
	return len(p), nil
}

type fixture struct {
	mem *guestmem.Memory
	dev *rng.Device
	t   *mmio.Transport
	drv *virtiotest.MMIODriver
	q   *virtiotest.Queue
}

func newFixture(t *testing.T, src io.Reader, features uint64) *fixture {
	t.Helper()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20})
	dev := rng.New(src)
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{mem, dev, tr, &virtiotest.MMIODriver{Regs: tr}, virtiotest.NewQueue(mem, 0x1000, rng.QueueSize)}
	if _, err := f.drv.Init(features, f.q); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestThroughMMIO(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &counter{}, virtio.FeatureVersion1)
	if f.drv.Read32(virtiotest.MMIODeviceID) != 4 {
		t.Fatal("device ID")
	}
	f.q.AddChain(virtiotest.Writable(5), virtiotest.Writable(3))
	f.q.AddChain(virtiotest.Writable(2))
	f.drv.Kick(0)
	u := f.q.Used()
	if len(u) != 2 || u[0].Len != 8 || u[1].Len != 2 {
		t.Fatalf("used %+v", u)
	}
	if got := f.q.Written(u[0]); !bytes.Equal(got, []byte{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("request 0 got %v", got)
	}
	if got := f.q.Written(u[1]); !bytes.Equal(got, []byte{8, 9}) {
		t.Fatalf("request 1 got %v", got)
	}
	if f.drv.Ack() != 1 {
		t.Fatal("no used-buffer interrupt")
	}
	if n, errs := f.dev.Stats(); n != 10 || errs != 0 {
		t.Fatalf("stats %d %d", n, errs)
	}
}

func TestRequestCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &counter{}, virtio.FeatureVersion1|virtio.FeatureRingIndirectDesc)
	f.q.AddChain(virtiotest.Writable(1<<20), virtiotest.Writable(1<<20)) // 2 MiB declared
	f.q.AddIndirect(virtiotest.Writable(100), virtiotest.Writable(1<<17))
	f.drv.Kick(0)
	u := f.q.Used()
	if len(u) != 2 || u[0].Len != rng.MaxRequestBytes || u[1].Len != rng.MaxRequestBytes {
		t.Fatalf("used %+v, want %d each", u, rng.MaxRequestBytes)
	}
}

// A request whose buffers lie beyond RAM is answered empty; the device
// goes on.
func TestMalformedRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &counter{}, virtio.FeatureVersion1)
	f.q.SetDesc(0, virtio.Descriptor{Addr: math.MaxUint64 - 1, Len: 16, Flags: virtio.DescFlagWrite})
	f.q.Publish(0)
	f.drv.Kick(0)
	if u := f.q.Used(); len(u) != 1 || u[0].Len != 0 {
		t.Fatalf("used %+v", u)
	}
	f.q = virtiotest.NewQueue(f.mem, 0x1000, rng.QueueSize) // fresh descriptors
	if _, err := f.drv.Init(virtio.FeatureVersion1, f.q); err != nil {
		t.Fatal(err)
	}
	f.q.AddChain(virtiotest.Readable([]byte("ignored")), virtiotest.Writable(4))
	f.drv.Kick(0)
	if u := f.q.Used(); len(u) != 1 || u[0].Len != 4 {
		t.Fatalf("used %+v", u)
	}
}

func TestSourceError(t *testing.T) {
	t.Parallel()
	src := io.MultiReader(bytes.NewReader([]byte{1, 2, 3}), iotest.ErrReader(errors.New("entropy gone")))
	f := newFixture(t, src, virtio.FeatureVersion1)
	f.q.AddChain(virtiotest.Writable(8))
	f.q.AddChain(virtiotest.Writable(8))
	f.drv.Kick(0)
	u := f.q.Used()
	if len(u) != 2 || u[0].Len != 3 || u[1].Len != 0 {
		t.Fatalf("used %+v", u)
	}
	if n, errs := f.dev.Stats(); n != 3 || errs != 2 {
		t.Fatalf("stats %d bytes, %d errors", n, errs)
	}
}

func TestInactive(t *testing.T) {
	t.Parallel()
	d := rng.New(&counter{})
	if d.Notify(0) {
		t.Fatal("work before activation")
	}
	if err := d.Activate(nil, 0, nil, nil); err != nil { // no queue enabled
		t.Fatal(err)
	}
	if d.Notify(0) || d.Notify(1) || d.Notify(-1) {
		t.Fatal("work without a queue")
	}
	d.Reset()
}

// Notifications from several goroutines race with resets and a driver
// that keeps re-initializing: nothing may panic or race, and the device
// must work at the end. Run with -race.
func TestConcurrentNotifyAndReset(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20})
	dev := rng.New(&counter{}) // read under the device's lock
	var level atomic.Bool
	tr, err := mmio.New(dev, mem, mmio.TriggerFunc(func(high bool) { level.Store(high) }), nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &virtiotest.MMIODriver{Regs: tr}

	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 { // the event loop and a vCPU
		wg.Go(func() {
			for !stop.Load() {
				tr.NotifyQueue(0)
			}
		})
	}
	resets := virtiotest.Interfere(&wg, &stop, tr)

	inits := 0
	for i := range 300 {
		q := virtiotest.NewQueue(mem, guestmem.Addr(0x1000+(i%4)*0x10000), 16)
		if _, err := drv.Init(virtio.FeatureVersion1|virtio.FeatureRingEventIdx, q); err != nil {
			continue // a reset got in between: expected
		}
		for range 8 {
			q.AddChain(virtiotest.Writable(64))
		}
		inits++
		if i%2 == 0 {
			drv.Kick(0)
			continue
		}
		// Leave the requests to the notifier goroutines and reset under them.
		runtime.Gosched()
		drv.Reset()
	}
	stop.Store(true)
	wg.Wait()
	n, _ := dev.Stats()
	t.Logf("%d handshakes completed, %d resets, %d bytes delivered", inits, resets.Load(), n)

	q := virtiotest.NewQueue(mem, 0x1000, 16)
	if _, err := drv.Init(virtio.FeatureVersion1, q); err != nil {
		t.Fatal(err)
	}
	q.AddChain(virtiotest.Writable(64))
	drv.Kick(0)
	if u := q.Used(); len(u) != 1 || u[0].Len != 64 {
		t.Fatalf("used %+v", u)
	}
	if !level.Load() || drv.Ack() != 1 || level.Load() {
		t.Fatal("interrupt line out of step with InterruptStatus")
	}
}
