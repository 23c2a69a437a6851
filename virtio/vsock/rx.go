package vsock

import (
	"io"

	"github.com/gluevmm/glue/virtio"
)

// pumpRx fills the guest's receive buffers with what waits for it: RSTs
// first, then one packet per connection in turn, so a connection with much
// to say cannot starve the others. It stops at a queue's worth of packets
// and reports whether work remains. Called with mu held.
func (d *Device) pumpRx() (more bool) {
	q := d.rxq
	if q == nil || d.rxBlocked {
		return false
	}
	defer q.SignalUsed()
	for budget := int(q.Size()); budget > 0; {
		if len(d.rsts) == 0 && len(d.ready) == 0 {
			return false
		}
		c := d.rxChain(q)
		if c == nil {
			d.rxBlocked = true // until the guest's next rx kick
			return false
		}
		n := d.nextPacket(c)
		if n == 0 {
			d.held = c // nothing was written: the chain serves the next packet
			continue
		}
		d.held = nil
		q.AddUsed(c.Head(), n) // cannot fail: c was popped and not returned
		d.stats.rxPackets.Add(1)
		budget--
	}
	return len(d.rsts) > 0 || len(d.ready) > 0
}

// rxChain returns a usable receive chain: the one held back, or the next
// one, returning malformed ones (readable buffers, no room for a header)
// unused.
func (d *Device) rxChain(q *virtio.Queue) *virtio.DescriptorChain {
	if d.held != nil {
		return d.held
	}
	for range q.Size() {
		c := q.Pop()
		if c == nil {
			return nil
		}
		if c.ReadableLen() == 0 && c.WritableLen() >= HeaderLen {
			return c
		}
		d.malformed("vsock: receive chain unusable (readable buffers, or too short)", nil)
		q.AddUsed(c.Head(), 0) // cannot fail: c was just popped
	}
	return nil
}

// nextPacket writes the next packet into c and returns its length, or 0
// when the connection it tried had nothing after all.
func (d *Device) nextPacket(c *virtio.DescriptorChain) uint32 {
	if len(d.rsts) > 0 {
		h := d.rsts[0]
		d.rsts = d.rsts[1:]
		d.stats.resets.Add(1)
		return d.write(c, &h, nil)
	}
	k := d.ready[0]
	d.ready = d.ready[1:]
	k.queued = false
	if k.closed {
		return 0
	}
	n := d.connPacket(k, c)
	d.schedule(k)
	return n
}

// connPacket writes k's next packet: a control packet it owes, else data
// from the host stream as far as the guest's credit and c allow.
func (d *Device) connPacket(k *conn, c *virtio.DescriptorChain) uint32 {
	for _, p := range [...]struct {
		bit uint8
		op  uint16
	}{{oweResponse, OpResponse}, {oweRequest, OpRequest}, {oweCredit, OpCreditUpdate}, {oweCreditRequest, OpCreditRequest}} {
		if k.owe&p.bit != 0 {
			k.owe &^= p.bit
			h := d.header(k.key, p.op)
			return d.write(c, &h, k)
		}
	}
	if k.hostReadable && k.canRead() {
		if n := d.data(k, c); n > 0 || k.closed {
			return n
		}
	}
	if k.owe&oweShutdown != 0 {
		k.owe &^= oweShutdown
		h := d.header(k.key, OpShutdown)
		h.Flags = ShutdownSend
		n := d.write(c, &h, k)
		k.finish(d)
		return n
	}
	return 0
}

// data reads the host stream into an RW packet in c.
func (d *Device) data(k *conn, c *virtio.DescriptorChain) uint32 {
	room := min(k.credit(), MaxPayload, c.WritableLen()-HeaderLen)
	if room == 0 {
		if k.credit() == 0 {
			k.owe |= oweCreditRequest // the guest may not know it has room again
		}
		return 0
	}
	n, err := k.host.Read(d.stage[:room])
	n = max(0, min(n, int(room))) // do not trust a broken reader's count
	switch {
	case n > 0:
		h := d.header(k.key, OpRW)
		h.Len = uint32(n)
		k.txCnt += uint32(n)
		d.stats.rxBytes.Add(uint64(n))
		return d.write(c, &h, k, d.stage[:n]...)
	case err != nil && wouldBlock(err):
		k.hostReadable = false
		k.host.WantRead(true)
	case err == nil || err == io.EOF:
		k.hostEOF = true
		k.owe |= oweShutdown
	default:
		d.log.Debug("vsock: host stream read failed; connection reset", "port", k.key.local, "err", err)
		d.reset(k.key, k)
	}
	return 0
}

// write puts h (with k's credit numbers) and payload into c.
func (d *Device) write(c *virtio.DescriptorChain, h *Header, k *conn, payload ...byte) uint32 {
	if k != nil {
		h.FwdCnt = k.fwdCnt
		k.advertised = k.fwdCnt
	}
	var b [HeaderLen]byte
	h.Encode(b[:])
	w := c.Writer()
	w.Write(b[:]) // fits: rxChain checked the room
	w.Write(payload)
	return w.Written()
}
