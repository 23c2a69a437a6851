package vsock_test

import (
	"testing"

	"github.com/gluevmm/glue/virtio/vsock"
)

// FuzzParsePacket checks the header parser never panics, and that what it
// accepts is from the guest to the host, a stream packet with a known
// operation and a payload inside the chain.
func FuzzParsePacket(f *testing.F) {
	var b [vsock.HeaderLen]byte
	h := guest(vsock.OpRW, 5000, 1234)
	h.Len = 10
	h.Encode(b[:])
	f.Add(b[:], uint32(54))
	f.Add(b[:20], uint32(20))
	f.Fuzz(func(t *testing.T, b []byte, chainLen uint32) {
		h, err := vsock.ParsePacket(b, chainLen, guestCID, vsock.MaxPayload)
		if err != nil {
			return
		}
		if h.SrcCID != guestCID || h.DstCID != vsock.HostCID || h.Type != vsock.TypeStream ||
			h.Op < vsock.OpRequest || h.Op > vsock.OpCreditRequest || uint64(h.Len)+vsock.HeaderLen > uint64(chainLen) || h.Len > vsock.MaxPayload {
			t.Fatalf("accepted %+v from a %d-byte chain", h, chainLen)
		}
	})
}

// FuzzTransmit runs fuzzed packet streams (each: a header's fields and a
// payload length) from the guest through the device against host streams
// that take at most room bytes, and checks that the device never panics,
// never keeps more than its buffer per connection, and never sends the
// guest more than the credit it was given.
func FuzzTransmit(f *testing.F) {
	f.Add([]byte{1, 0, 0, 5, 0, 200, 5, 0, 255, 4, 0, 3} /* REQUEST, RW, RW, SHUTDOWN */, uint16(100), uint8(1))
	f.Add([]byte{1, 1, 0, 99, 1, 0, 7, 1, 0, 3, 1, 0} /* REQUEST, unknown, CREDIT_REQUEST, RST */, uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, script []byte, room uint16, hostData uint8) {
		const buf = 1024
		f := newFixture(t, vsock.Config{BufAlloc: buf, MaxConns: 4}, 1234)
		f.be.room = int(room)
		f.post(32, 512)
		posted := 32 // receive buffers the device holds
		for i := 0; i+3 <= len(script) && i < 3*64; i += 3 {
			op, port, arg := uint16(script[i]), 5000+uint32(script[i+1]%4), script[i+2]
			h := guest(op, port, 1234)
			h.BufAlloc, h.Flags = 300, uint32(arg)
			n := 0
			if op == vsock.OpRW {
				n = int(arg) * 8
			}
			f.send(h, make([]byte, n))
			for _, cs := range f.be.conns {
				for _, c := range cs {
					if !c.closed && c.in.Len() == 0 && hostData > 0 {
						c.in.Write(make([]byte, int(hostData)*4))
					}
					f.dev.HostReady(c)
				}
			}
			sent := map[uint32]int{}
			got := f.received()
			posted -= len(got)
			for _, p := range got {
				sent[p.DstPort] += len(p.Payload)
				if p.Op != vsock.OpRW && len(p.Payload) != 0 {
					t.Fatalf("op %d with payload", p.Op)
				}
			}
			for port, n := range sent {
				if n > 300 {
					t.Fatalf("port %d got %d bytes, more than its credit 300", port, n)
				}
			}
			if posted < 8 {
				f.post(8, 512)
				posted += 8
			}
		}
		for _, cs := range f.be.conns {
			for _, c := range cs {
				if c.out.Len() > int(room) || c.out.Len() > 64*buf {
					t.Fatalf("host stream got %d bytes, room %d", c.out.Len(), room)
				}
			}
		}
	})
}
