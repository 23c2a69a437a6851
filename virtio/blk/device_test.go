package blk_test

import (
	"bytes"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/blk"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	vt "github.com/gluevmm/glue/virtio/virtiotest"
)

func TestConfigAndFeatures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		ro       bool
		features uint64
	}{
		{"read-write", false, blk.FeatureFlush | blk.FeatureSegMax | blk.FeatureBlkSize},
		{"read-only", true, blk.FeatureFlush | blk.FeatureSegMax | blk.FeatureBlkSize | blk.FeatureRO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, openDisk(t, newImage(t, 100, 0), blk.Options{ReadOnly: tc.ro}), allFeatures)
			if id := f.drv.Read32(vt.MMIODeviceID); id != 2 {
				t.Fatalf("device ID %d", id)
			}
			f.drv.Write32(vt.MMIODeviceFeaturesSel, 0)
			if got := uint64(f.drv.Read32(vt.MMIODeviceFeatures)); got != tc.features|virtio.CoreFeatures&0xffffffff {
				t.Errorf("features %#x, want %#x", got, tc.features)
			}
			cfg := func(off uint64) uint32 { return f.drv.Read32(vt.MMIOConfig + off) }
			if lo, hi := cfg(0), cfg(4); lo != 100 || hi != 0 {
				t.Errorf("capacity %d:%d, want 100", hi, lo)
			}
			if sm := cfg(12); sm != blk.QueueSize-2 {
				t.Errorf("seg_max %d", sm)
			}
			if bs := cfg(20); bs != 512 {
				t.Errorf("blk_size %d", bs)
			}
			f.drv.Write32(vt.MMIOConfig, 1) // read-only
			if cfg(0) != 100 {
				t.Error("capacity writable")
			}
			if n := f.drv.Read32(vt.MMIOQueueNumMax); n != blk.QueueSize {
				t.Errorf("QueueNumMax %d", n)
			}
		})
	}
}

// TestGuestSequence does what the project's guest's blk test does: GET_ID,
// write the first sector, the middle 8 sectors as one request in two data
// descriptors and the last sector, FLUSH, read them back into poisoned
// memory. The image must hold the data, and the rest must be unchanged.
func TestGuestSequence(t *testing.T) {
	t.Parallel()
	const n = 64
	path := newImage(t, n, 0)
	want := readFile(t, path)
	f := newFixture(t, openDisk(t, path, blk.Options{ID: "scratch-0"}), allFeatures)

	r := f.run(t, vt.Readable(hdr(blk.ReqGetID, 0)), vt.Writable(20), vt.Writable(1))
	if r.status != 0 || string(bytes.TrimRight(r.bufs[1], "\x00")) != "scratch-0" {
		t.Fatalf("GET_ID: status %d, id %q", r.status, r.bufs[1])
	}
	data := func(s uint64, k int) []byte { return bytes.Repeat([]byte{byte(s), 0x5a}, 256*k) }
	writes := []struct {
		sector uint64
		segs   []int // sectors per data descriptor
	}{{0, []int{1}}, {n/2 - 4, []int{4, 4}}, {n - 1, []int{1}}}
	for _, w := range writes {
		bufs := []vt.Buf{vt.Readable(hdr(blk.ReqOut, w.sector))}
		s := w.sector
		for _, k := range w.segs {
			bufs = append(bufs, vt.Readable(data(s, k)))
			copy(want[s*512:], data(s, k))
			s += uint64(k)
		}
		if r := f.run(t, append(bufs, vt.Writable(1))...); r.status != 0 || r.len != 1 {
			t.Fatalf("write at %d: status %d, length %d", w.sector, r.status, r.len)
		}
	}
	if r := f.run(t, vt.Readable(hdr(blk.ReqFlush, 0)), vt.Writable(1)); r.status != 0 {
		t.Fatalf("flush: status %d", r.status)
	}
	for _, w := range writes {
		size := 0
		for _, k := range w.segs {
			size += k * 512
		}
		r := f.run(t, vt.Readable(hdr(blk.ReqIn, w.sector)), vt.Writable(uint32(size)), vt.Writable(1))
		if r.status != 0 || r.len != uint32(size)+1 || !bytes.Equal(r.bufs[1], want[w.sector*512:][:size]) {
			t.Fatalf("read at %d: status %d, length %d, data differs: %v", w.sector, r.status, r.len, !bytes.Equal(r.bufs[1], want[w.sector*512:][:size]))
		}
	}
	if !bytes.Equal(readFile(t, path), want) {
		t.Fatal("image differs")
	}
	want2 := blk.Stats{Reads: 3, Writes: 3, Flushes: 1, IDs: 1, ReadBytes: 10 * 512, WriteBytes: 10 * 512}
	if s := f.dev.Stats(); s != want2 {
		t.Fatalf("stats %+v, want %+v", s, want2)
	}
}

// Requests in indirect tables, several per kick, and with the event index.
func TestIndirectBatch(t *testing.T) {
	t.Parallel()
	path := newImage(t, 16, 0)
	mem := vt.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20})
	dev := blk.New(openDisk(t, path, blk.Options{}), nil)
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &vt.MMIODriver{Regs: tr}
	q := vt.NewQueue(mem, 0x1000, 16)
	if _, err := drv.Init(allFeatures, q); err != nil {
		t.Fatal(err)
	}
	for s := range uint64(16) {
		q.AddIndirect(vt.Readable(hdr(blk.ReqIn, s)), vt.Writable(256), vt.Writable(256), vt.Writable(1))
	}
	drv.Kick(0)
	u := q.Used()
	if len(u) != 16 {
		t.Fatalf("%d used", len(u))
	}
	for i, e := range u {
		got := q.Written(e)
		if e.Len != 513 || !bytes.Equal(got[:512], pattern(uint64(i))) || got[512] != 0 {
			t.Fatalf("request %d: length %d, status %d", i, e.Len, got[len(got)-1])
		}
	}
}

// The status of a FLUSH, and of a write when the driver did not negotiate
// FLUSH (writethrough), is written only after the backend's Flush returned.
func TestFlushBeforeStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		features uint64
		typ      uint32
		flushes  int
	}{
		{"flush", allFeatures, blk.ReqFlush, 1},
		{"write with FLUSH negotiated", allFeatures, blk.ReqOut, 0},
		{"write without FLUSH: writethrough", allFeatures &^ blk.FeatureFlush, blk.ReqOut, 1},
		{"read without FLUSH", allFeatures &^ blk.FeatureFlush, blk.ReqIn, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &memBackend{data: make([]byte, 8*512)}
			f := newFixture(t, b, tc.features)
			bufs := []vt.Buf{vt.Readable(hdr(tc.typ, 1))}
			switch tc.typ {
			case blk.ReqOut:
				bufs = append(bufs, vt.Readable(bytes.Repeat([]byte{7}, 512)))
			case blk.ReqIn:
				bufs = append(bufs, vt.Writable(512))
			}
			bufs = append(bufs, vt.Writable(1))
			addrs := f.submit(bufs...)
			status := addrs[len(addrs)-1]
			var atFlush []byte
			b.onFlush = func() {
				var s [1]byte
				must(f.mem.ReadAt(s[:], status))
				atFlush = append(atFlush, s[0])
				if tc.typ == blk.ReqOut && !bytes.Equal(b.data[512:1024], bytes.Repeat([]byte{7}, 512)) {
					t.Error("flushed before the data was written")
				}
			}
			f.drv.Kick(0)
			if u := f.q.Used(); len(u) != 1 {
				t.Fatalf("used %+v", u)
			}
			var s [1]byte
			must(f.mem.ReadAt(s[:], status))
			if s[0] != blk.StatusOK {
				t.Fatalf("status %d", s[0])
			}
			if n := b.flushCount(); n != tc.flushes {
				t.Fatalf("%d flushes, want %d", n, tc.flushes)
			}
			for _, v := range atFlush {
				if v != poison {
					t.Fatalf("status was %#x when Flush ran: written before the flush", v)
				}
			}
		})
	}
}

// Backend failures answer IOERR and are counted as host errors; the
// device goes on.
func TestHostErrors(t *testing.T) {
	t.Parallel()
	data := bytes.Repeat([]byte{3}, 512)
	tests := []struct {
		name     string
		b        *memBackend
		features uint64
		bufs     []vt.Buf
	}{
		{"read fails", &memBackend{readErr: errInjected}, allFeatures,
			[]vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)), vt.Writable(512), vt.Writable(1)}},
		{"write fails", &memBackend{writeErr: errInjected}, allFeatures,
			[]vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), vt.Readable(data), vt.Writable(1)}},
		{"flush fails", &memBackend{flushErr: errInjected}, allFeatures,
			[]vt.Buf{vt.Readable(hdr(blk.ReqFlush, 0)), vt.Writable(1)}},
		{"writethrough flush fails", &memBackend{flushErr: errInjected}, allFeatures &^ blk.FeatureFlush,
			[]vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), vt.Readable(data), vt.Writable(1)}},
		{"image shorter than its capacity", &memBackend{sectors: 8}, allFeatures,
			[]vt.Buf{vt.Readable(hdr(blk.ReqIn, 6)), vt.Writable(1024), vt.Writable(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.b.data == nil {
				tc.b.data = make([]byte, 8*512)
				if tc.b.sectors != 0 {
					tc.b.data = tc.b.data[:6*512+100]
				}
			}
			f := newFixture(t, tc.b, tc.features)
			if r := f.run(t, tc.bufs...); r.status != int(blk.StatusIOErr) {
				t.Fatalf("status %d, want IOERR", r.status)
			}
			if s := f.dev.Stats(); s.Errors != 1 || s.HostErrors != 1 || s.Reads+s.Writes+s.Flushes != 0 {
				t.Fatalf("stats %+v", s)
			}
			// The device goes on.
			r := f.run(t, vt.Readable(hdr(blk.ReqGetID, 0)), vt.Writable(20), vt.Writable(1))
			if r.status != 0 {
				t.Fatalf("GET_ID after the failure: status %d", r.status)
			}
		})
	}
}

func TestInactive(t *testing.T) {
	t.Parallel()
	d := blk.New(&memBackend{data: make([]byte, 512)}, nil)
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
	d.Reset()
}

// Notifications from several goroutines race with resets and a driver
// that keeps re-initializing: nothing may panic or race (run with -race),
// the image is only written with what the guest wrote, and the device
// works at the end.
func TestConcurrentNotifyAndReset(t *testing.T) {
	t.Parallel()
	path := newImage(t, 16, 0)
	mem := vt.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20})
	dev := blk.New(openDisk(t, path, blk.Options{}), nil)
	var level atomic.Bool
	tr, err := mmio.New(dev, mem, mmio.TriggerFunc(func(high bool) { level.Store(high) }), nil)
	if err != nil {
		t.Fatal(err)
	}
	drv := &vt.MMIODriver{Regs: tr}

	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 { // the event loop and a vCPU
		wg.Go(func() {
			for !stop.Load() {
				tr.NotifyQueue(0)
			}
		})
	}
	vt.Interfere(&wg, &stop, tr)

	// Every write puts sector s's own pattern back, so whatever subset
	// completes, the image must stay as it was.
	inits := 0
	for i := range 120 {
		q := vt.NewQueue(mem, guestmem.Addr(0x1000+(i%4)*0x10000), 16)
		if _, err := drv.Init(allFeatures, q); err != nil {
			continue // a reset got in between: expected
		}
		for s := range uint64(2) { // 14 descriptors: none reused while in flight
			q.AddChain(vt.Readable(hdr(blk.ReqIn, s)), vt.Writable(512), vt.Writable(1))
			q.AddChain(vt.Readable(hdr(blk.ReqOut, s+8)), vt.Readable(pattern(s+8)), vt.Writable(1))
		}
		q.AddChain(vt.Readable(hdr(blk.ReqFlush, 0)), vt.Writable(1))
		inits++
		if i%2 == 0 {
			drv.Kick(0)
			continue
		}
		runtime.Gosched()
		drv.Reset()
	}
	stop.Store(true)
	wg.Wait()
	s := dev.Stats()
	t.Logf("%d handshakes completed; %+v", inits, s)
	if s.Errors != 0 {
		t.Fatalf("errors: %+v", s)
	}
	if got := readFile(t, path); !bytes.Equal(got, sectors(0, 16)) {
		t.Fatal("image changed")
	}

	q := vt.NewQueue(mem, 0x1000, 16)
	if _, err := drv.Init(allFeatures, q); err != nil {
		t.Fatal(err)
	}
	q.AddChain(vt.Readable(hdr(blk.ReqIn, 5)), vt.Writable(512), vt.Writable(1))
	drv.Kick(0)
	if u := q.Used(); len(u) != 1 || u[0].Len != 513 || !bytes.Equal(q.Written(u[0])[:512], pattern(5)) {
		t.Fatalf("used %+v", u)
	}
	if !level.Load() || drv.Ack() != 1 || level.Load() {
		t.Fatal("interrupt line out of step with InterruptStatus")
	}
}

// Guest-declared lengths do not size host allocations: a 1 GiB buffer
// against a small disk is refused without a copy, and a 64 MiB transfer
// goes straight between guest memory and the file. Not parallel: it
// measures the heap.
func TestHugeRequests(t *testing.T) {
	const big = 64 << 20
	small := newImage(t, testSectors, 0)
	large := newImage(t, 0, 0)
	if err := os.Truncate(large, big); err != nil { // sparse
		t.Fatal(err)
	}
	smallBefore := readFile(t, small)
	tests := []struct {
		name   string
		path   string
		bufs   []vt.Buf
		status int
		len    uint32
	}{
		{"read 1 GiB past a small disk", small, []vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)), vt.Writable(1 << 30), vt.Writable(1)}, 1, 1},
		{"write 1 GiB past a small disk", small, []vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), {Len: 1 << 30}, vt.Writable(1)}, 1, 1},
		{"read 64 MiB in one buffer", large, []vt.Buf{vt.Readable(hdr(blk.ReqIn, 0)), vt.Writable(big), vt.Writable(1)}, 0, big + 1},
		{"write 64 MiB in one buffer", large, []vt.Buf{vt.Readable(hdr(blk.ReqOut, 0)), {Len: big}, vt.Writable(1)}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One 2 GiB region, mapped but not touched beyond what I/O needs.
			f := newFixtureMem(t, openDisk(t, tc.path, blk.Options{}), allFeatures, guestmem.Span{Base: 0, Size: 2 << 30})
			addrs := f.submit(tc.bufs...)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f.drv.Kick(0)
			runtime.ReadMemStats(&after)
			u := f.q.Used()
			if len(u) != 1 || u[0].Len != tc.len {
				t.Fatalf("used %+v, want length %d", u, tc.len)
			}
			var s [1]byte
			must(f.mem.ReadAt(s[:], addrs[len(addrs)-1]))
			if int(s[0]) != tc.status {
				t.Fatalf("status %d, want %d", s[0], tc.status)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
				t.Fatalf("the request allocated %d bytes on the host", n)
			}
		})
	}
	if !bytes.Equal(readFile(t, small), smallBefore) {
		t.Fatal("small image changed")
	}
}

// Reset waits for the request in progress, whose status is written before
// Reset returns (after which the transport may reuse the rings' memory).
func TestResetWaitsForRequest(t *testing.T) {
	t.Parallel()
	b := &memBackend{data: make([]byte, 8*512)}
	f := newFixture(t, b, allFeatures)
	entered, release := make(chan struct{}), make(chan struct{})
	b.onFlush = func() { close(entered); <-release }
	addrs := f.submit(vt.Readable(hdr(blk.ReqFlush, 0)), vt.Writable(1))

	go f.drv.Kick(0) // blocks in Flush
	<-entered
	resetDone := make(chan struct{})
	go func() { f.drv.Reset(); close(resetDone) }()
	select {
	case <-resetDone:
		t.Fatal("Reset returned while a request was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-resetDone
	var s [1]byte
	must(f.mem.ReadAt(s[:], addrs[1]))
	if s[0] != blk.StatusOK {
		t.Fatalf("status %#x after Reset returned", s[0])
	}
	if f.dev.Notify(0) {
		t.Fatal("work after Reset")
	}
}
