package vconsole_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/vconsole"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

// lockedBuffer is the non-blocking writer a VMM would pass, safe to read
// while the device writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a device behind the MMIO transport, driven by the fake
// driver: receiveq in one RAM region, transmitq in another.
type fixture struct {
	mem    *guestmem.Memory
	out    *lockedBuffer
	dev    *vconsole.Device
	drv    *virtiotest.MMIODriver
	rx, tx *virtiotest.Queue
}

func newFixture(t *testing.T, features uint64) *fixture {
	t.Helper()
	f := &fixture{out: &lockedBuffer{}}
	f.dev = vconsole.New(f.out)
	f.start(t, features)
	return f
}

func (f *fixture) start(t *testing.T, features uint64) {
	t.Helper()
	f.mem = virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 2 << 20}, guestmem.Span{Base: 4 << 20, Size: 2 << 20})
	tr, err := mmio.New(f.dev, f.mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.drv = &virtiotest.MMIODriver{Regs: tr}
	f.init(t, features)
}

func (f *fixture) init(t *testing.T, features uint64) {
	t.Helper()
	f.rx = virtiotest.NewQueue(f.mem, 0x1000, 16)
	f.tx = virtiotest.NewQueue(f.mem, 4<<20, 16)
	if _, err := f.drv.Init(features, f.rx, f.tx); err != nil {
		t.Fatal(err)
	}
}

// received returns the input the guest got, in used-ring order.
func (f *fixture) received() (string, []virtiotest.Used) {
	var sb strings.Builder
	used := f.rx.Used()
	for _, u := range used {
		sb.Write(f.rx.Written(u))
	}
	return sb.String(), used
}

func TestOutput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, virtio.FeatureVersion1|virtio.FeatureRingIndirectDesc)
	if id := f.drv.Read32(virtiotest.MMIODeviceID); id != 3 {
		t.Fatalf("device ID %d", id)
	}
	f.tx.AddChain(virtiotest.Readable([]byte("GLUE-CONSOLE hello from hvc0\n")))
	f.tx.AddChain(virtiotest.Readable([]byte("split ")), virtiotest.Readable([]byte("across ")), virtiotest.Readable([]byte("buffers\n")))
	f.tx.AddIndirect(virtiotest.Readable([]byte("indirect\n")))
	f.tx.AddChain(virtiotest.Readable(nil)) // empty: nothing to write
	f.drv.Kick(vconsole.TransmitQueue)
	if got, want := f.out.String(), "GLUE-CONSOLE hello from hvc0\nsplit across buffers\nindirect\n"; got != want {
		t.Fatalf("output %q, want %q", got, want)
	}
	for _, u := range f.tx.Used() {
		if u.Len != 0 {
			t.Fatalf("used %+v, want length 0", u)
		}
	}
	if f.drv.Ack()&1 == 0 {
		t.Fatal("no used-buffer interrupt")
	}
	if s := f.dev.Stats(); s.TxBytes != 59 || s.TxDropped+s.TxMalformed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// One chain yields at most MaxTransmitBytes; the rest is dropped and
// counted.
func TestOutputCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, virtio.FeatureVersion1)
	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	f.tx.AddChain(virtiotest.Readable(big))
	f.drv.Kick(vconsole.TransmitQueue)
	if got := f.out.String(); got != string(big[:vconsole.MaxTransmitBytes]) {
		t.Fatalf("output of %d bytes, want the first %d", len(got), vconsole.MaxTransmitBytes)
	}
	if s := f.dev.Stats(); s.TxBytes != vconsole.MaxTransmitBytes || s.TxDropped != uint64(len(big)-vconsole.MaxTransmitBytes) {
		t.Fatalf("stats %+v", s)
	}
}

// stalled accepts limit bytes, then refuses, as a full non-blocking
// output buffer does.
type stalled struct {
	lockedBuffer
	limit int
}

func (s *stalled) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := min(len(p), max(0, s.limit-s.buf.Len()))
	s.buf.Write(p[:n])
	if n < len(p) {
		return n, errors.New("output buffer full")
	}
	return n, nil
}

// A stalled consumer loses output but never holds up the guest.
func TestOutputStalledWriter(t *testing.T) {
	t.Parallel()
	w := &stalled{limit: 5000}
	f := &fixture{dev: vconsole.New(w)}
	f.start(t, virtio.FeatureVersion1)
	f.tx.AddChain(virtiotest.Readable(bytes.Repeat([]byte("a"), 8000)))
	f.tx.AddChain(virtiotest.Readable([]byte("lost")))
	f.drv.Kick(vconsole.TransmitQueue)
	if u := f.tx.Used(); len(u) != 2 {
		t.Fatalf("used %+v", u)
	}
	if s := f.dev.Stats(); s.TxBytes != 5000 || s.TxDropped != 3000+4 {
		t.Fatalf("stats %+v", s)
	}
	w.mu.Lock()
	w.limit = 1 << 20
	w.mu.Unlock()
	f.tx.AddChain(virtiotest.Readable([]byte("back\n")))
	f.drv.Kick(vconsole.TransmitQueue)
	if got := w.String(); !strings.HasSuffix(got, "aaaback\n") || len(got) != 5005 {
		t.Fatalf("output ends %q (%d bytes)", got[max(0, len(got)-10):], len(got))
	}
}

func TestMalformedChains(t *testing.T) {
	t.Parallel()
	f := newFixture(t, virtio.FeatureVersion1)
	f.tx.AddChain(virtiotest.Readable([]byte("not written")), virtiotest.Writable(16))
	f.tx.AddChain(virtiotest.Writable(16))
	f.tx.AddChain(virtiotest.Readable([]byte("ok\n")))
	f.drv.Kick(vconsole.TransmitQueue)
	if got := f.out.String(); got != "ok\n" {
		t.Fatalf("output %q", got)
	}
	if u := f.tx.Used(); len(u) != 3 || u[0].Len != 0 || u[1].Len != 0 {
		t.Fatalf("transmitq used %+v", u)
	}

	f.rx.AddChain(virtiotest.Readable([]byte("x")), virtiotest.Writable(64))
	f.rx.AddChain(virtiotest.Writable(64))
	f.drv.Kick(vconsole.ReceiveQueue)
	if n := f.dev.Enqueue([]byte("hi\n")); n != 3 {
		t.Fatalf("Enqueue took %d", n)
	}
	got, used := f.received()
	if got != "hi\n" || len(used) != 2 || used[0].Len != 0 || used[1].Len != 3 {
		t.Fatalf("received %q, used %+v", got, used)
	}
	if s := f.dev.Stats(); s.TxMalformed != 2 || s.RxMalformed != 1 || s.RxBytes != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// Input typed before the guest posts buffers is kept (bounded) and
// delivered after its kick; Drained tells the input goroutine when to
// retry what was refused.
func TestInputBeforeBuffers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, virtio.FeatureVersion1)
	if n := f.dev.Enqueue([]byte("line from the host\n")); n != 19 {
		t.Fatalf("Enqueue took %d", n)
	}
	if r := f.dev.Room(); r != vconsole.InputBufferSize-19 {
		t.Fatalf("Room %d", r)
	}
	rest := bytes.Repeat([]byte("x"), 5000)
	n := f.dev.Enqueue(rest)
	if n != vconsole.InputBufferSize-19 || f.dev.Room() != 0 {
		t.Fatalf("Enqueue took %d of %d, Room %d", n, len(rest), f.dev.Room())
	}
	if got, _ := f.received(); got != "" {
		t.Fatalf("the guest got %q before posting buffers", got)
	}
	select {
	case <-f.dev.Drained():
		t.Fatal("Drained before the guest made room")
	default:
	}

	for range 4 { // as glue's guest: four buffers of 64 bytes
		f.rx.AddChain(virtiotest.Writable(64))
	}
	f.drv.Kick(vconsole.ReceiveQueue)
	got, used := f.received()
	if len(used) != 4 || got != "line from the host\n"+strings.Repeat("x", 256-19) {
		t.Fatalf("received %q in %d buffers", got, len(used))
	}
	select {
	case <-f.dev.Drained():
	default:
		t.Fatal("no Drained signal after the guest made room")
	}
	if n := f.dev.Enqueue(rest[n:]); n != 256 {
		t.Fatalf("retry took %d, want the 256 bytes freed", n)
	}
}

// Input larger than one buffer is split across buffers, in order, and
// goes directly into posted buffers beyond what the device keeps.
func TestInputSplit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, virtio.FeatureVersion1|virtio.FeatureRingEventIdx)
	f.rx.AddChain(virtiotest.Writable(3000))
	f.rx.AddChain(virtiotest.Writable(1), virtiotest.Writable(999))
	f.rx.AddChain(virtiotest.Writable(5000))
	f.drv.Kick(vconsole.ReceiveQueue)
	in := make([]byte, 9000+vconsole.InputBufferSize+100)
	for i := range in {
		in[i] = byte('a' + i%26)
	}
	if n := f.dev.Enqueue(in); n != len(in)-100 {
		t.Fatalf("Enqueue took %d, want %d (buffers plus the device's own)", n, len(in)-100)
	}
	got, used := f.received()
	if len(used) != 3 || used[0].Len != 3000 || used[1].Len != 1000 || used[2].Len != 5000 || got != string(in[:9000]) {
		t.Fatalf("used %+v", used)
	}
	f.rx.AddChain(virtiotest.Writable(8192))
	f.drv.Kick(vconsole.ReceiveQueue)
	if got, _ := f.received(); got != string(in[9000:len(in)-100]) {
		t.Fatalf("kept input came out as %d bytes", len(got))
	}
}

// Kept input survives a reset (drivers reset while probing); a device
// reset in the middle leaves it working.
func TestInputAcrossReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, virtio.FeatureVersion1)
	f.dev.Enqueue([]byte("early\n"))
	f.drv.Reset()
	if f.dev.Notify(vconsole.ReceiveQueue) || f.dev.Notify(vconsole.TransmitQueue) {
		t.Fatal("work after reset")
	}
	f.init(t, virtio.FeatureVersion1)
	f.rx.AddChain(virtiotest.Writable(64))
	f.drv.Kick(vconsole.ReceiveQueue)
	if got, _ := f.received(); got != "early\n" {
		t.Fatalf("received %q", got)
	}
}

func TestInactive(t *testing.T) {
	t.Parallel()
	d := vconsole.New(nil)
	if d.Notify(0) || d.Notify(1) || d.Notify(2) || d.Notify(-1) {
		t.Fatal("work before activation")
	}
	if err := d.Activate(nil, virtio.FeatureVersion1, nil, nil); err != nil {
		t.Fatal(err)
	}
	if d.Notify(0) || d.Notify(1) {
		t.Fatal("work without queues")
	}
	if n := d.Enqueue([]byte("kept")); n != 4 || d.Room() != vconsole.InputBufferSize-4 {
		t.Fatalf("Enqueue took %d, Room %d", n, d.Room())
	}
	d.Reset()
}
