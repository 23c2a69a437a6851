package vnet_test

import (
	"testing"

	"github.com/gluevmm/glue/tap"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vnet"
)

var _ vnet.Backend = (*tap.Tap)(nil)

// tapLike reports would-block with the tap package's own error.
type tapLike struct{ *fakeBackend }

func (b tapLike) ReadFrame(p []byte) (int, error) {
	if b.Waiting() == 0 {
		return 0, tap.ErrWouldBlock
	}
	return b.fakeBackend.ReadFrame(p)
}

func (b tapLike) WriteFrame([]byte) (int, error) { return 0, tap.ErrWouldBlock }

// The tap's ErrWouldBlock counts as would-block, not as a failure, and the
// device's read buffer holds the longest frame a tap delivers.
func TestTapErrors(t *testing.T) {
	t.Parallel()
	f := newFixtureWith(t, 16, allFeatures, func(b *fakeBackend) vnet.Backend { return tapLike{b} })
	f.rx.AddChain(virtiotest.Writable(2048))
	f.drv.Kick(vnet.RxQueue)
	f.be.Push(frame(60, 0))
	f.dev.HandleRx()
	f.dev.HandleRx()
	f.tx.AddChain(virtiotest.Readable(append(hdr(), frame(60, 0)...)))
	f.drv.Kick(vnet.TxQueue)
	if s := f.dev.Stats(); s.RxFrames != 1 || s.RxErrors != 0 || s.TxDropped != 1 || s.TxErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
	if _, calls := f.rec.get(); calls != 0 {
		t.Fatal("interest changed: would-block taken for a failure?")
	}
	if vnet.ReadBufferSize < tap.MaxReadLen {
		t.Fatalf("read buffer of %d bytes, a tap delivers up to %d", vnet.ReadBufferSize, tap.MaxReadLen)
	}
}
