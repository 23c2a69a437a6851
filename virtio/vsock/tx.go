package vsock

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/gluevmm/glue/virtio"
)

// transmit executes one packet of the tx queue; the used length is always
// 0. Called with mu held.
func (d *Device) transmit(c *virtio.DescriptorChain) uint32 {
	r := c.Reader()
	if _, err := io.ReadFull(r, d.hdr[:]); err != nil {
		d.malformed("vsock: transmit chain shorter than a packet header", err)
		return 0
	}
	h, err := ParsePacket(d.hdr[:], c.ReadableLen(), d.cid, MaxPayload)
	d.stats.txPackets.Add(1)
	key := connKey{local: h.DstPort, peer: h.SrcPort}
	switch {
	case errors.Is(err, ErrShortHeader) || errors.Is(err, ErrBadCID):
		// Nobody to answer: a packet not from this guest's address.
		d.malformed("vsock: packet dropped", err)
		d.stats.dropped.Add(1)
		return 0
	case err != nil:
		d.malformed("vsock: bad packet; its connection is reset", err)
		if h.Op != OpRST {
			d.reset(key, d.conns[key])
		}
		return 0
	}
	k := d.conns[key]
	if k != nil {
		k.peerBufAlloc, k.peerFwdCnt = h.BufAlloc, h.FwdCnt
	}
	switch h.Op {
	case OpRequest:
		d.request(key, k, h)
	case OpRST:
		if k != nil {
			d.drop(k)
		}
	case OpResponse:
		if k == nil || k.established {
			d.protocol(key, k, "vsock: RESPONSE for no pending connection; reset")
			break
		}
		k.established, k.hostReadable = true, true
		k.prefix = okLine(key.local)
		k.flushToHost(d)
	default:
		if k == nil || !k.established {
			d.protocol(key, k, "vsock: packet for no connection; reset")
			break
		}
		d.onConn(k, h, r)
	}
	if k != nil && !k.closed {
		d.schedule(k) // new credit may let host data through
	}
	return 0
}

// request opens a connection the guest asked for to the host's port.
func (d *Device) request(key connKey, k *conn, h Header) {
	if k != nil {
		d.protocol(key, k, "vsock: REQUEST for an open connection; reset")
		return
	}
	if len(d.conns) >= d.maxConns {
		d.log.Debug("vsock: too many connections; refused", "max", d.maxConns)
		d.reset(key, nil)
		return
	}
	host, err := d.backend.Dial(key.local)
	if err != nil {
		d.log.Debug("vsock: no host service; connection refused", "port", key.local, "err", err)
		d.reset(key, nil)
		return
	}
	k = &conn{key: key, host: host, established: true, hostReadable: true, owe: oweResponse,
		peerBufAlloc: h.BufAlloc, peerFwdCnt: h.FwdCnt}
	d.conns[key], d.byHost[host] = k, k
	d.schedule(k)
}

// onConn executes RW, SHUTDOWN and the credit packets of an established
// connection; r is positioned at the payload.
func (d *Device) onConn(k *conn, h Header, r *virtio.Reader) {
	switch h.Op {
	case OpRW:
		d.receive(k, h, r)
	case OpCreditUpdate:
		// The new numbers were taken above.
	case OpCreditRequest:
		k.owe |= oweCredit
	case OpShutdown:
		k.guestShut |= h.Flags & (ShutdownRcv | ShutdownSend)
		k.finish(d)
	}
}

// receive takes an RW packet's payload for the host stream: written
// straight from guest memory when nothing waits, else buffered. A guest
// that sends more than glue's credit is reset, so glue never holds more
// than bufAlloc bytes per connection.
func (d *Device) receive(k *conn, h Header, r *virtio.Reader) {
	if k.guestShut&ShutdownSend != 0 {
		d.protocol(k.key, k, "vsock: data after the guest's SHUTDOWN(SEND); reset")
		return
	}
	if h.Len > d.bufAlloc-(k.rxCnt-k.fwdCnt) {
		d.stats.creditViolations.Add(1)
		d.protocol(k.key, k, "vsock: guest ignored glue's credit; reset")
		return
	}
	payload := io.LimitReader(r, int64(h.Len))
	k.rxCnt += h.Len
	d.stats.txBytes.Add(uint64(h.Len))
	if len(k.toHost) == 0 && len(k.prefix) == 0 {
		n, err := r.WriteTo(&limitWriter{k.host, int(h.Len)})
		if n > 0 {
			k.fwdCnt += uint32(n)
		}
		if err != nil && !errors.Is(err, io.ErrShortWrite) && !wouldBlock(err) && !errors.Is(err, errLimit) {
			d.reset(k.key, k)
			return
		}
		payload = io.LimitReader(r, int64(h.Len)-n)
	}
	for {
		n, _ := payload.Read(d.stage[:])
		if n == 0 {
			break
		}
		k.buffer(d, d.stage[:n])
	}
	k.flushToHost(d) // asks for room if the stream is full; tells the guest of freed credit
}

// errLimit ends limitWriter's input: the rest of the chain is not payload.
var errLimit = errors.New("vsock: payload written")

// limitWriter writes at most n bytes to the host stream, so Reader.WriteTo
// stops at the payload's end.
type limitWriter struct {
	w HostConn
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errLimit
	}
	n, err := l.w.Write(p[:min(len(p), l.n)])
	n = max(0, min(n, l.n)) // do not trust a broken writer's count
	l.n -= n
	if err == nil && n < len(p) && l.n == 0 {
		err = errLimit
	}
	return n, err
}

// protocol counts a packet that breaks the protocol and resets key.
func (d *Device) protocol(key connKey, k *conn, msg string) {
	d.malformed(msg, nil)
	d.reset(key, k)
}

// malformed counts a bad packet and logs it: the first at Warn, later
// ones at Debug, so a hostile guest cannot flood the log.
func (d *Device) malformed(msg string, err error) {
	level := slog.LevelDebug
	if d.stats.malformed.Add(1) == 1 {
		level = slog.LevelWarn
		msg += " (further ones at debug level)"
	}
	if err != nil {
		d.log.Log(context.Background(), level, msg, "err", err)
	} else {
		d.log.Log(context.Background(), level, msg)
	}
}
