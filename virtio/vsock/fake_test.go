package vsock_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/transport/mmio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vsock"
)

const guestCID = 3

// hostConn is an in-memory host stream: in is what the host program sends
// (read by the device), out what it received; room caps out (negative:
// unlimited), as a peer that stops reading does.
type hostConn struct {
	in        bytes.Buffer
	eof       bool
	out       bytes.Buffer
	room      int
	closed    bool
	wrClosed  bool
	wantRead  int
	wantWrite int
}

func (c *hostConn) Read(p []byte) (int, error) {
	if c.in.Len() == 0 {
		if c.eof {
			return 0, io.EOF
		}
		return 0, vsock.ErrWouldBlock
	}
	return c.in.Read(p)
}

func (c *hostConn) Write(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("closed")
	}
	n := len(p)
	if c.room >= 0 {
		n = min(n, c.room-c.out.Len())
	}
	c.out.Write(p[:n])
	if n < len(p) {
		return n, vsock.ErrWouldBlock
	}
	return n, nil
}

func (c *hostConn) CloseWrite() error { c.wrClosed = true; return nil }
func (c *hostConn) Close() error      { c.closed = true; return nil }
func (c *hostConn) WantRead(on bool) {
	if on {
		c.wantRead++
	}
}
func (c *hostConn) WantWrite(on bool) {
	if on {
		c.wantWrite++
	}
}

// backend hands out hostConns for the ports in listen.
type backend struct {
	listen map[uint32]bool
	conns  map[uint32][]*hostConn
	room   int
}

func (b *backend) Dial(port uint32) (vsock.HostConn, error) {
	if !b.listen[port] {
		return nil, errors.New("connection refused")
	}
	c := &hostConn{room: b.room}
	b.conns[port] = append(b.conns[port], c)
	return c, nil
}

// fixture is a device behind the MMIO transport, driven by the fake
// driver.
type fixture struct {
	t          *testing.T
	dev        *vsock.Device
	be         *backend
	drv        *virtiotest.MMIODriver
	rx, tx, ev *virtiotest.Queue
}

func newFixture(t *testing.T, cfg vsock.Config, listen ...uint32) *fixture {
	t.Helper()
	f := &fixture{t: t, be: &backend{listen: map[uint32]bool{}, conns: map[uint32][]*hostConn{}, room: -1}}
	for _, p := range listen {
		f.be.listen[p] = true
	}
	cfg.CID, cfg.Backend = guestCID, f.be
	dev, err := vsock.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.dev = dev
	mem := virtiotest.NewMemory(t, guestmem.Span{Base: 0, Size: 4 << 20})
	tr, err := mmio.New(dev, mem, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.drv = &virtiotest.MMIODriver{Regs: tr}
	f.rx = virtiotest.NewQueue(mem, 0x1000, 64)
	f.tx = virtiotest.NewQueue(mem, 1<<20, 64)
	f.ev = virtiotest.NewQueue(mem, 3<<20, 4)
	if _, err := f.drv.Init(virtio.FeatureVersion1, f.rx, f.tx, f.ev); err != nil {
		t.Fatal(err)
	}
	return f
}

// post gives the device n receive buffers of size bytes.
func (f *fixture) post(n int, size uint32) {
	for range n {
		f.rx.AddChain(virtiotest.Writable(size))
	}
	f.drv.Kick(vsock.RxQueue)
}

// send transmits a packet from the guest.
func (f *fixture) send(h vsock.Header, payload []byte) {
	h.Len = uint32(len(payload))
	f.sendRaw(h, payload)
}

// sendRaw transmits h as it is (Len included), then payload.
func (f *fixture) sendRaw(h vsock.Header, payload []byte) {
	var b [vsock.HeaderLen]byte
	h.Encode(b[:])
	f.tx.AddChain(virtiotest.Readable(append(b[:], payload...)))
	f.drv.Kick(vsock.TxQueue)
}

// pkt is a packet the guest received.
type pkt struct {
	vsock.Header
	Payload []byte
}

// received returns the packets the guest got since the last call.
func (f *fixture) received() []pkt {
	var out []pkt
	for _, u := range f.rx.Used() {
		b := f.rx.Written(u)
		h, err := vsock.DecodeHeader(b)
		if err != nil {
			f.t.Fatalf("used rx buffer of %d bytes: %v", len(b), err)
		}
		if int(h.Len) != len(b)-vsock.HeaderLen {
			f.t.Fatalf("packet len %d, %d payload bytes written", h.Len, len(b)-vsock.HeaderLen)
		}
		out = append(out, pkt{h, b[vsock.HeaderLen:]})
	}
	return out
}

// guest returns a header from the guest's port to the host's.
func guest(op uint16, guestPort, hostPort uint32) vsock.Header {
	return vsock.Header{SrcCID: guestCID, DstCID: vsock.HostCID, SrcPort: guestPort, DstPort: hostPort,
		Type: vsock.TypeStream, Op: op, BufAlloc: 1 << 20}
}

func ops(ps []pkt) []uint16 {
	var out []uint16
	for _, p := range ps {
		out = append(out, p.Op)
	}
	return out
}
