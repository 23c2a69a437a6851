package vnet_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vnet"
)

// Reception on the event loop, kicks from vCPUs, resets behind the
// driver's back and a driver that keeps re-initializing, all at once:
// nothing may panic, race (run with -race) or deadlock, and the device
// must work at the end.
func TestConcurrentTrafficAndReset(t *testing.T) {
	t.Parallel()
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20}, guestmem.Span{Base: 8 << 20, Size: 4 << 20})
	be, rec := newFakeBackend(), &interestRecorder{}
	dev, err := vnet.New(vnet.Config{MAC: testMAC, Backend: be, SetRxInterest: rec.set})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &virtiotest.MMIODriver{Regs: tr}

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() { // the event loop: the tap is readable
		for i := 0; !stop.Load(); i++ {
			if be.Waiting() < 8 {
				be.Push(frame(60+i%100, byte(i)))
			}
			dev.HandleRx()
			runtime.Gosched()
		}
	})
	for q := range 2 { // vCPUs kicking each queue
		wg.Go(func() {
			for !stop.Load() {
				tr.NotifyQueue(q)
				runtime.Gosched()
			}
		})
	}
	resets := virtiotest.Interfere(&wg, &stop, tr)

	inits := 0
	for i := range 200 {
		rx := virtiotest.NewQueue(mem, guestmem.Addr(0x1000+(i%4)*0x10000), 16)
		tx := virtiotest.NewQueue(mem, guestmem.Addr(8<<20+(i%4)*0x10000), 16)
		if _, err := drv.Init(allFeatures|virtio.FeatureRingEventIdx, rx, tx); err != nil {
			continue // a reset got in between: expected
		}
		inits++
		for j := range 8 {
			rx.AddChain(virtiotest.Writable(2048))
			tx.AddChain(virtiotest.Readable(append(hdr(), frame(60, byte(j))...)))
		}
		if i%2 == 0 {
			drv.Kick(vnet.RxQueue)
			drv.Kick(vnet.TxQueue)
			continue
		}
		runtime.Gosched()
		drv.Reset()
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d handshakes completed, %d resets, %+v", inits, resets.Load(), dev.Stats())

	rx := virtiotest.NewQueue(mem, 0x1000, 16)
	tx := virtiotest.NewQueue(mem, 8<<20, 16)
	if _, err := drv.Init(allFeatures, rx, tx); err != nil {
		t.Fatal(err)
	}
	be.Sent()
	for be.Waiting() > 0 { // what the loop left behind
		be.ReadFrame(make([]byte, 1<<17))
	}
	be.Push(frame(99, 9))
	rx.AddChain(virtiotest.Writable(2048))
	drv.Kick(vnet.RxQueue)
	if u := rx.Used(); len(u) != 1 || u[0].Len != 12+99 {
		t.Fatalf("rx used %+v", u)
	}
	tx.AddChain(virtiotest.Readable(append(hdr(), frame(98, 8)...)))
	drv.Kick(vnet.TxQueue)
	if sent := be.Sent(); len(sent) != 1 || len(sent[0]) != 12+98 {
		t.Fatalf("tx: %d frames", len(sent))
	}
	if on, _ := rec.get(); !on {
		t.Fatal("interest off with a buffer posted")
	}
}
