package vsock_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vsock"
)

func TestConfigGuestCID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{})
	var b [8]byte
	f.dev.ReadConfig(0, b[:])
	if got := binary.LittleEndian.Uint64(b[:]); got != guestCID {
		t.Fatalf("guest_cid %d, want %d", got, guestCID)
	}
	f.dev.WriteConfig(0, []byte{9, 9, 9, 9, 9, 9, 9, 9})
	f.dev.ReadConfig(0, b[:])
	if got := binary.LittleEndian.Uint64(b[:]); got != guestCID {
		t.Fatalf("guest_cid %d after a write, want it read-only", got)
	}
}

func TestReservedCIDs(t *testing.T) {
	t.Parallel()
	for _, cid := range []uint32{0, 1, 2, 0xffffffff} {
		if _, err := vsock.New(vsock.Config{CID: cid, Backend: &backend{}}); !errors.Is(err, vsock.ErrReservedCID) {
			t.Errorf("CID %d: %v, want ErrReservedCID", cid, err)
		}
	}
	if _, err := vsock.New(vsock.Config{CID: 3, Backend: &backend{}}); err != nil {
		t.Fatal(err)
	}
}

// The guest connects to a host port, data flows both ways byte-exact, and
// each side's shutdown reaches the other.
func TestGuestConnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{}, 1234)
	f.post(8, 4096)
	f.send(guest(vsock.OpRequest, 5000, 1234), nil)
	got := f.received()
	if len(got) != 1 || got[0].Op != vsock.OpResponse || got[0].SrcPort != 1234 || got[0].DstPort != 5000 || got[0].DstCID != guestCID {
		t.Fatalf("got %+v, want one RESPONSE 1234 -> 5000", got)
	}
	hc := f.be.conns[1234][0]
	f.send(guest(vsock.OpRW, 5000, 1234), []byte("hello host"))
	if hc.out.String() != "hello host" {
		t.Fatalf("host got %q", hc.out.String())
	}
	hc.in.WriteString("hello guest")
	f.dev.HostReady(hc)
	got = f.received()
	if len(got) != 1 || got[0].Op != vsock.OpRW || string(got[0].Payload) != "hello guest" || got[0].FwdCnt != 10 {
		t.Fatalf("got %+v, want RW \"hello guest\" with fwd_cnt 10", got)
	}
	if hc.wantRead == 0 {
		t.Fatal("the device did not ask to hear of more host data")
	}
	sd := guest(vsock.OpShutdown, 5000, 1234)
	sd.Flags = vsock.ShutdownSend
	f.send(sd, nil)
	if !hc.wrClosed {
		t.Fatal("guest SHUTDOWN(SEND) did not half-close the host stream")
	}
	hc.eof = true
	f.dev.HostReady(hc)
	got = f.received()
	if !slices.Equal(ops(got), []uint16{vsock.OpShutdown, vsock.OpRST}) || got[0].Flags != vsock.ShutdownSend {
		t.Fatalf("got %v, want SHUTDOWN(SEND) then RST", ops(got))
	}
	if !hc.closed || f.dev.Stats().Conns != 0 {
		t.Fatal("connection not closed after both sides shut down")
	}
}

// Packets the device cannot accept: an RST where a connection is named,
// nothing for packets not from the guest's address.
func TestBadPackets(t *testing.T) {
	t.Parallel()
	big := guest(vsock.OpRW, 5000, 1234)
	big.Len = vsock.MaxPayload + 1
	tooLong := guest(vsock.OpRW, 5000, 1234)
	tooLong.Len = 100 // more than the chain holds
	for _, tc := range []struct {
		name string
		h    vsock.Header
		want []uint16
	}{
		{"no such host port", guest(vsock.OpRequest, 5000, 99), []uint16{vsock.OpRST}},
		{"RW without connection", guest(vsock.OpRW, 5000, 1234), []uint16{vsock.OpRST}},
		{"SHUTDOWN without connection", guest(vsock.OpShutdown, 5000, 1234), []uint16{vsock.OpRST}},
		{"RESPONSE without request", guest(vsock.OpResponse, 5000, 1234), []uint16{vsock.OpRST}},
		{"RST without connection", guest(vsock.OpRST, 5000, 1234), nil},
		{"unknown op", guest(99, 5000, 1234), []uint16{vsock.OpRST}},
		{"op 0", guest(0, 5000, 1234), []uint16{vsock.OpRST}},
		{"seqpacket type", func() vsock.Header { h := guest(vsock.OpRequest, 5000, 1234); h.Type = 2; return h }(), []uint16{vsock.OpRST}},
		{"oversized len", big, []uint16{vsock.OpRST}},
		{"len beyond the chain", tooLong, []uint16{vsock.OpRST}},
		{"wrong source CID", func() vsock.Header { h := guest(vsock.OpRequest, 5000, 1234); h.SrcCID = 7; return h }(), nil},
		{"not to the host", func() vsock.Header { h := guest(vsock.OpRequest, 5000, 1234); h.DstCID = 3; return h }(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, vsock.Config{}, 1234)
			f.post(4, 4096)
			f.sendRaw(tc.h, nil)
			got := f.received()
			if !slices.Equal(ops(got), tc.want) {
				t.Fatalf("got %v, want %v", ops(got), tc.want)
			}
			if len(f.be.conns[1234]) != 0 {
				t.Fatal("a host stream was opened")
			}
			if s := f.dev.Stats(); tc.name != "no such host port" && tc.name != "RST without connection" && s.Malformed == 0 {
				t.Fatalf("stats %+v: not counted", s)
			}
		})
	}
}

// open makes a guest-initiated connection 5000 -> 1234 and returns its
// host stream.
func (f *fixture) open(guestPort uint32, bufAlloc uint32) *hostConn {
	f.t.Helper()
	h := guest(vsock.OpRequest, guestPort, 1234)
	h.BufAlloc = bufAlloc
	f.send(h, nil)
	if got := f.received(); len(got) != 1 || got[0].Op != vsock.OpResponse {
		f.t.Fatalf("got %v, want RESPONSE", ops(got))
	}
	cs := f.be.conns[1234]
	return cs[len(cs)-1]
}

// A host peer that stops reading: glue keeps at most its buffer, tells
// the guest nothing new, and resets a guest that sends past its credit.
func TestGuestIgnoresCredit(t *testing.T) {
	t.Parallel()
	const buf = 8192
	f := newFixture(t, vsock.Config{BufAlloc: buf}, 1234)
	f.be.room = 0 // the host program reads nothing
	f.post(16, 4096)
	hc := f.open(5000, 1<<20)
	chunk := bytes.Repeat([]byte{'x'}, 4096)
	f.send(guest(vsock.OpRW, 5000, 1234), chunk)
	f.send(guest(vsock.OpRW, 5000, 1234), chunk)
	if got := f.received(); len(got) != 0 || hc.closed {
		t.Fatalf("within credit: got %v, closed %v", ops(got), hc.closed)
	}
	if hc.wantWrite == 0 {
		t.Fatal("the device did not ask to hear of room in the host stream")
	}
	f.send(guest(vsock.OpRW, 5000, 1234), []byte{'y'})
	if got := f.received(); !slices.Equal(ops(got), []uint16{vsock.OpRST}) || !hc.closed {
		t.Fatalf("past credit: got %v, closed %v; want RST and the stream closed", ops(got), hc.closed)
	}
	if s := f.dev.Stats(); s.CreditViolations != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// When the host reads again, the guest hears of the freed buffer.
func TestCreditUpdateAfterDrain(t *testing.T) {
	t.Parallel()
	const buf = 8192
	f := newFixture(t, vsock.Config{BufAlloc: buf}, 1234)
	f.be.room = 0
	f.post(16, 4096)
	hc := f.open(5000, 1<<20)
	payload := bytes.Repeat([]byte("0123456789abcdef"), buf/16)
	f.send(guest(vsock.OpRW, 5000, 1234), payload)
	hc.room = -1
	f.dev.HostReady(hc)
	if !bytes.Equal(hc.out.Bytes(), payload) {
		t.Fatalf("host got %d bytes, want the %d sent", hc.out.Len(), len(payload))
	}
	got := f.received()
	if len(got) != 1 || got[0].Op != vsock.OpCreditUpdate || got[0].FwdCnt != buf || got[0].BufAlloc != buf {
		t.Fatalf("got %+v, want CREDIT_UPDATE fwd_cnt %d", got, buf)
	}
}

// Host data never exceeds the guest's credit; a CREDIT_UPDATE lets more
// through.
func TestHostRespectsGuestCredit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{}, 1234)
	f.post(16, 4096)
	hc := f.open(5000, 100)
	hc.in.Write(bytes.Repeat([]byte{'z'}, 300))
	f.dev.HostReady(hc)
	got := f.received()
	if len(got) != 1 || len(got[0].Payload) != 100 {
		t.Fatalf("got %d packets, want one of 100 bytes", len(got))
	}
	cu := guest(vsock.OpCreditUpdate, 5000, 1234)
	cu.BufAlloc, cu.FwdCnt = 100, 100
	f.send(cu, nil)
	if got := f.received(); len(got) != 1 || len(got[0].Payload) != 100 {
		t.Fatalf("after the update: %d packets, want one of 100 bytes", len(got))
	}
	// A guest claiming to have forwarded more than it got gets nothing.
	cu.FwdCnt = 1 << 31
	f.send(cu, nil)
	if got := f.received(); len(got) != 0 {
		t.Fatalf("with a bogus fwd_cnt: %d packets, want none", len(got))
	}
}

// A host program connects to the guest's port: REQUEST, then after the
// guest's RESPONSE the host reads "OK <port>\n" and data flows.
func TestHostConnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{})
	hc := &hostConn{room: -1}
	port, err := f.dev.Connect(52, hc)
	if err != nil {
		t.Fatal(err)
	}
	f.post(4, 4096)
	got := f.received()
	if len(got) != 1 || got[0].Op != vsock.OpRequest || got[0].DstPort != 52 || got[0].SrcPort != port {
		t.Fatalf("got %+v, want REQUEST %d -> 52", got, port)
	}
	f.send(guest(vsock.OpResponse, 52, port), nil)
	f.send(guest(vsock.OpRW, 52, port), []byte("hi"))
	if want := "OK 1073741824\nhi"; hc.out.String() != want {
		t.Fatalf("host got %q, want %q", hc.out.String(), want)
	}
	// A refused connection closes the host stream.
	hc2 := &hostConn{room: -1}
	port2, _ := f.dev.Connect(53, hc2)
	f.received()
	f.send(guest(vsock.OpRST, 53, port2), nil)
	if !hc2.closed || hc2.out.Len() != 0 {
		t.Fatalf("refused: closed %v, got %q", hc2.closed, hc2.out.String())
	}
}

// A connection the guest has not answered can be abandoned: the guest
// gets an RST and the host stream is closed without its OK line; once
// the guest has accepted, Abandon leaves the connection alone.
func TestAbandonUnansweredConnect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{})
	f.post(4, 4096)
	hc := &hostConn{room: -1}
	port, err := f.dev.Connect(52, hc)
	if err != nil {
		t.Fatal(err)
	}
	f.received() // the REQUEST
	if !f.dev.Abandon(port, 52) {
		t.Fatal("Abandon of an unanswered connection reported none")
	}
	if got := f.received(); len(got) != 1 || got[0].Op != vsock.OpRST || got[0].SrcPort != port || got[0].DstPort != 52 {
		t.Fatalf("guest got %+v, want RST %d -> 52", got, port)
	}
	if !hc.closed || hc.out.Len() != 0 {
		t.Fatalf("host stream: closed %v, got %q; want closed without a line", hc.closed, hc.out.String())
	}
	if f.dev.Abandon(port, 52) {
		t.Fatal("a second Abandon found the connection again")
	}
	hc2 := &hostConn{room: -1}
	port2, _ := f.dev.Connect(53, hc2)
	f.received()
	f.send(guest(vsock.OpResponse, 53, port2), nil)
	if f.dev.Abandon(port2, 53) || hc2.closed {
		t.Fatalf("Abandon of an accepted connection: closed %v", hc2.closed)
	}
}

func TestConnectInactive(t *testing.T) {
	t.Parallel()
	dev, _ := vsock.New(vsock.Config{CID: 3, Backend: &backend{}})
	if _, err := dev.Connect(1, &hostConn{}); !errors.Is(err, vsock.ErrInactive) {
		t.Fatalf("%v, want ErrInactive", err)
	}
}

// Two busy connections share the receive queue in turn.
func TestFairness(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{}, 1234)
	f.post(2, 4096)
	a := f.open(5000, 1<<20)
	f.post(1, 4096)
	b := f.open(5001, 1<<20)
	a.in.Write(bytes.Repeat([]byte{'a'}, 64<<10))
	b.in.Write(bytes.Repeat([]byte{'b'}, 64<<10))
	f.dev.HostReady(a)
	f.dev.HostReady(b)
	f.received() // what the spare buffer got
	f.post(8, 1024)
	var order []byte
	for _, p := range f.received() {
		order = append(order, p.Payload[0])
	}
	if string(order) != "abababab" {
		t.Fatalf("packet order %q, want alternating", order)
	}
}

func TestTooManyConnections(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{MaxConns: 2}, 1234)
	f.post(8, 4096)
	f.open(5000, 1<<20)
	f.open(5001, 1<<20)
	f.send(guest(vsock.OpRequest, 5002, 1234), nil)
	if got := f.received(); !slices.Equal(ops(got), []uint16{vsock.OpRST}) {
		t.Fatalf("got %v, want RST", ops(got))
	}
}

// A transport reset closes every connection and tells the driver through
// the event queue; a device reset closes them too.
func TestResets(t *testing.T) {
	t.Parallel()
	f := newFixture(t, vsock.Config{}, 1234)
	f.post(4, 4096)
	hc := f.open(5000, 1<<20)
	f.ev.AddChain(virtiotest.Writable(4))
	f.drv.Kick(vsock.EventQueue)
	if !f.dev.TransportReset() {
		t.Fatal("event not delivered")
	}
	used := f.ev.Used()
	if len(used) != 1 || !bytes.Equal(f.ev.Written(used[0]), []byte{0, 0, 0, 0}) {
		t.Fatalf("event queue: %+v", used)
	}
	if !hc.closed || f.dev.Stats().Conns != 0 {
		t.Fatal("transport reset left the connection open")
	}
	hc = f.open(5001, 1<<20)
	f.drv.Reset()
	if !hc.closed || f.dev.Stats().Conns != 0 {
		t.Fatal("device reset left the connection open")
	}
}
