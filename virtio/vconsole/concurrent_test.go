package vconsole_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/vconsole"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// pump is the VMM's input goroutine, as vmm.ConsoleInput does for the UART:
// Enqueue what the device takes, wait on Drained for the rest.
func pump(ctx context.Context, d *vconsole.Device, p []byte) error {
	for {
		p = p[d.Enqueue(p):]
		if len(p) == 0 {
			return nil
		}
		select {
		case <-d.Drained():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Input far larger than the guest's buffers and the device's own arrives
// whole and in order while the guest reads it a few small buffers at a
// time, the way glue's guest does: no byte lost, no wake-up missed.
func TestInputPump(t *testing.T) {
	t.Parallel()
	f := newFixture(t, virtio.FeatureVersion1|virtio.FeatureRingEventIdx)
	in := make([]byte, 64<<10)
	for i := range in {
		in[i] = byte(i * 7)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- pump(ctx, f.dev, in) }()

	var got []byte
	for range 4 {
		f.rx.AddChain(virtiotest.Writable(64))
	}
	f.drv.Kick(vconsole.ReceiveQueue)
	for len(got) < len(in) {
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d bytes", len(got), len(in))
		}
		used := f.rx.Used()
		for _, u := range used {
			got = append(got, f.rx.Written(u)...)
			f.rx.AddChain(virtiotest.Writable(64)) // the buffer goes back
		}
		if len(used) > 0 {
			f.drv.Kick(vconsole.ReceiveQueue)
		} else {
			runtime.Gosched()
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, in) {
		t.Fatal("input arrived changed or out of order")
	}
}

// Output and input from several goroutines, resets behind the driver's
// back and a driver that keeps re-initializing: nothing may panic, race or
// deadlock, and the device must work at the end.
func TestConcurrentTrafficAndReset(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 2 << 20}, guestmem.Span{Base: 4 << 20, Size: 2 << 20})
	out := &lockedBuffer{}
	dev := vconsole.New(out)
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &virtiotest.MMIODriver{Regs: tr}

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() { // the input goroutine
		for !stop.Load() {
			dev.Enqueue([]byte("typing "))
			runtime.Gosched()
		}
	})
	for q := range 2 { // vCPUs and the event loop kicking
		wg.Go(func() {
			for !stop.Load() {
				tr.NotifyQueue(q)
				runtime.Gosched()
			}
		})
	}
	var resets atomic.Int64
	wg.Go(func() {
		for !stop.Load() {
			(&virtiotest.MMIODriver{Regs: tr}).Reset()
			resets.Add(1)
			time.Sleep(50 * time.Microsecond)
		}
	})
	inits := 0
	for i := range 200 {
		rx := virtiotest.NewQueue(mem, guestmem.Addr(0x1000+(i%4)*0x10000), 16)
		tx := virtiotest.NewQueue(mem, guestmem.Addr(4<<20+(i%4)*0x10000), 16)
		if _, err := drv.Init(virtio.FeatureVersion1|virtio.FeatureRingEventIdx, rx, tx); err != nil {
			continue
		}
		inits++
		for range 4 {
			rx.AddChain(virtiotest.Writable(64))
			tx.AddChain(virtiotest.Readable([]byte("out\n")))
		}
		if i%2 == 0 {
			drv.Kick(vconsole.ReceiveQueue)
			drv.Kick(vconsole.TransmitQueue)
			continue
		}
		runtime.Gosched()
		drv.Reset()
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d handshakes completed, %d resets, %+v", inits, resets.Load(), dev.Stats())

	f := &fixture{mem: mem, out: out, dev: dev, drv: drv}
	f.init(t, virtio.FeatureVersion1)
	before := len(out.String())
	f.tx.AddChain(virtiotest.Readable([]byte("end\n")))
	f.drv.Kick(vconsole.TransmitQueue)
	if got := out.String()[before:]; got != "end\n" {
		t.Fatalf("output %q", got)
	}
	for dev.Room() < vconsole.InputBufferSize { // drain what the input goroutine left
		f.rx.AddChain(virtiotest.Writable(4096))
		f.drv.Kick(vconsole.ReceiveQueue)
		f.rx.Used()
	}
	f.rx.AddChain(virtiotest.Writable(64))
	f.drv.Kick(vconsole.ReceiveQueue)
	dev.Enqueue([]byte("line\n"))
	if got, _ := f.received(); got != "line\n" {
		t.Fatalf("received %q", got)
	}
}
