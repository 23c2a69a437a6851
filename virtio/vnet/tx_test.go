package vnet_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vnet"
)

// A frame split anywhere across descriptors reaches the backend whole,
// behind an all-zero header; transmit chains complete with length 0.
func TestTransmit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 16, allFeatures|virtio.FeatureRingIndirectDesc)
	a, b := frame(60, 1), frame(1514, 2)
	h := hdr()
	binary.LittleEndian.PutUint16(h[10:], 7) // num_buffers is ignored on transmit
	f.tx.AddChain(virtiotest.Readable(append(h, a...)))
	f.tx.AddChain(virtiotest.Readable(hdr()[:5]), virtiotest.Readable(append(hdr()[5:], b[:100]...)), virtiotest.Readable(b[100:]))
	f.tx.AddIndirect(virtiotest.Readable(hdr()), virtiotest.Readable(a))
	f.drv.Kick(vnet.TxQueue)

	for _, u := range f.tx.Used() {
		if u.Len != 0 {
			t.Errorf("used %+v, want length 0", u)
		}
	}
	sent := f.be.Sent()
	want := [][]byte{a, b, a}
	if len(sent) != len(want) {
		t.Fatalf("backend got %d frames, want %d", len(sent), len(want))
	}
	for i, s := range sent {
		if !bytes.Equal(s, append(hdr(), want[i]...)) {
			t.Errorf("frame %d: got %d bytes % x...", i, len(s), s[:min(len(s), 20)])
		}
	}
	if s := f.dev.Stats(); s.TxFrames != 3 || s.TxBytes != 60+1514+60 || s.TxMalformed+s.TxDropped+s.TxErrors != 0 {
		t.Fatalf("stats %+v", s)
	}
	if f.drv.Ack()&1 == 0 {
		t.Fatal("no used-buffer interrupt")
	}
}

// Bad transmit chains are completed with length 0 and counted; nothing
// reaches the backend, and the queue goes on.
func TestTransmitMalformed(t *testing.T) {
	t.Parallel()
	offload := hdr()
	offload[0] = 1 // NEEDS_CSUM
	gso := hdr()
	gso[1] = 1 // GSO_TCPV4
	dataValid := hdr()
	dataValid[0] = 2
	for _, tc := range []struct {
		name string
		bufs []virtiotest.Buf
	}{
		{"writable buffer", []virtiotest.Buf{virtiotest.Readable(append(hdr(), frame(60, 0)...)), virtiotest.Writable(16)}},
		{"only writable", []virtiotest.Buf{virtiotest.Writable(100)}},
		{"short header", []virtiotest.Buf{virtiotest.Readable(hdr()[:11])}},
		{"header only", []virtiotest.Buf{virtiotest.Readable(hdr())}},
		{"no Ethernet header", []virtiotest.Buf{virtiotest.Readable(append(hdr(), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13))}},
		{"oversized", []virtiotest.Buf{virtiotest.Readable(hdr()), virtiotest.Readable(frame(vnet.MaxFrameLen-vnet.HeaderLen+1, 0))}},
		{"NEEDS_CSUM", []virtiotest.Buf{virtiotest.Readable(append(offload, frame(60, 0)...))}},
		{"GSO", []virtiotest.Buf{virtiotest.Readable(append(gso, frame(60, 0)...))}},
		{"DATA_VALID", []virtiotest.Buf{virtiotest.Readable(append(dataValid, frame(60, 0)...))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 16, allFeatures)
			f.tx.AddChain(tc.bufs...)
			f.tx.AddChain(virtiotest.Readable(append(hdr(), frame(60, 9)...)))
			f.drv.Kick(vnet.TxQueue)
			if u := f.tx.Used(); len(u) != 2 || u[0].Len != 0 || u[1].Len != 0 {
				t.Fatalf("used %+v", u)
			}
			if sent := f.be.Sent(); len(sent) != 1 || !bytes.Equal(sent[0][vnet.HeaderLen:], frame(60, 9)) {
				t.Fatalf("backend got %d frames", len(sent))
			}
			if s := f.dev.Stats(); s.TxMalformed != 1 || s.TxFrames != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// The largest frame allowed goes through.
func TestTransmitMaxFrame(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 16, allFeatures)
	big := frame(vnet.MaxFrameLen-vnet.HeaderLen, 3)
	f.tx.AddChain(virtiotest.Readable(hdr()), virtiotest.Readable(big))
	f.drv.Kick(vnet.TxQueue)
	if sent := f.be.Sent(); len(sent) != 1 || len(sent[0]) != vnet.MaxFrameLen {
		t.Fatalf("backend got %d frames", len(sent))
	}
}

// A backend with no room drops frames without blocking and counts them.
func TestTransmitBackendFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 16, allFeatures)
	f.be.set(func(b *fakeBackend) { b.txRoom = 1 })
	for i := range 3 {
		f.tx.AddChain(virtiotest.Readable(append(hdr(), frame(60, byte(i))...)))
	}
	f.drv.Kick(vnet.TxQueue)
	if u := f.tx.Used(); len(u) != 3 {
		t.Fatalf("used %+v", u)
	}
	if s := f.dev.Stats(); s.TxFrames != 1 || s.TxDropped != 2 {
		t.Fatalf("stats %+v", s)
	}
	f.be.set(func(b *fakeBackend) { b.txRoom = -1 })
	f.tx.AddChain(virtiotest.Readable(append(hdr(), frame(60, 7)...)))
	f.drv.Kick(vnet.TxQueue)
	if sent := f.be.Sent(); len(sent) != 2 {
		t.Fatalf("backend got %d frames, want 2", len(sent))
	}
}
