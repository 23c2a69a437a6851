package vsock

import "strconv"

// connKey names a connection: the host's port and the guest's.
type connKey struct{ local, peer uint32 }

// Control packets a connection owes the guest (conn.owe bits).
const (
	oweRequest  uint8 = 1 << iota // host-initiated: ask the guest to accept
	oweResponse                   // guest-initiated: the host accepted
	oweCredit                     // glue's free buffer grew: CREDIT_UPDATE
	oweCreditRequest
	oweShutdown // the host stream ended: SHUTDOWN(SEND)
)

// conn is one stream connection. All fields are guarded by Device.mu.
type conn struct {
	key         connKey
	host        HostConn
	established bool // false: host-initiated, waiting for the guest's RESPONSE
	owe         uint8
	queued      bool // in Device.ready
	closed      bool

	// Guest to host. rxCnt counts payload bytes taken from the guest,
	// fwdCnt those written to the host stream; the difference waits in
	// toHost, at most bufAlloc bytes. advertised is the fwdCnt the guest
	// was last told.
	toHost     []byte
	prefix     []byte // "OK <port>\n" for a host-initiated connection
	rxCnt      uint32
	fwdCnt     uint32
	advertised uint32
	guestShut  uint32 // ShutdownRcv|ShutdownSend the guest sent
	hostShutWr bool   // CloseWrite done

	// Host to guest: the guest's buffer (its buf_alloc, fwd_cnt) and what
	// glue sent into it (txCnt).
	peerBufAlloc, peerFwdCnt uint32
	txCnt                    uint32
	hostReadable             bool // the host stream may have data
	hostEOF                  bool
}

// credit returns how many payload bytes the guest's buffer has room for.
// A guest that claims to have forwarded more than it was sent gets none.
func (k *conn) credit() uint32 {
	used := k.txCnt - k.peerFwdCnt
	if used > k.peerBufAlloc {
		return 0
	}
	return k.peerBufAlloc - used
}

// canRead reports whether reading the host stream could produce a packet.
func (k *conn) canRead() bool {
	return k.established && !k.hostEOF && k.guestShut&ShutdownRcv == 0
}

// hasWork reports whether the connection has a packet for the guest now.
func (k *conn) hasWork() bool {
	if k.closed {
		return false
	}
	return k.owe != 0 || (k.hostReadable && k.canRead() && k.credit() > 0)
}

// schedule puts k on the round-robin list of connections with packets for
// the guest.
func (d *Device) schedule(k *conn) {
	if !k.queued && k.hasWork() {
		k.queued = true
		d.ready = append(d.ready, k)
	}
}

// maxRSTs bounds the RSTs waiting for receive buffers; a guest that sends
// more bad packets than it posts buffers loses the surplus answers.
const maxRSTs = 2 * QueueSize

// reset sends an RST for key and drops k (nil: no connection).
func (d *Device) reset(key connKey, k *conn) {
	if k != nil {
		d.drop(k)
	}
	if len(d.rsts) >= maxRSTs {
		d.stats.dropped.Add(1)
		return
	}
	d.rsts = append(d.rsts, d.header(key, OpRST))
}

// drop closes k's host stream and forgets it.
func (d *Device) drop(k *conn) {
	if k.closed {
		return
	}
	k.closed = true
	k.host.Close()
	delete(d.conns, k.key)
	delete(d.byHost, k.host)
}

// header returns a packet header from the host side of key.
func (d *Device) header(key connKey, op uint16) Header {
	return Header{
		SrcCID: HostCID, DstCID: d.cid, SrcPort: key.local, DstPort: key.peer,
		Type: TypeStream, Op: op, BufAlloc: d.bufAlloc,
	}
}

// flushToHost writes what waits for the host stream, then finishes a
// shutdown the guest asked for once nothing waits.
func (k *conn) flushToHost(d *Device) {
	for len(k.prefix) > 0 {
		n, err := k.host.Write(k.prefix)
		if !k.wrote(d, n, err) {
			return
		}
		k.prefix = k.prefix[max(0, min(n, len(k.prefix))):]
	}
	for len(k.toHost) > 0 {
		n, err := k.host.Write(k.toHost)
		if !k.wrote(d, n, err) {
			return
		}
		n = max(0, min(n, len(k.toHost))) // do not trust a broken writer's count
		k.toHost = k.toHost[n:]
		k.fwdCnt += uint32(n)
	}
	k.toHost = k.toHost[:0:0] // idle connections keep no buffer
	// The guest sees its credit through advertised: tell it when more
	// than half of its buffer looks used and some of it was freed.
	if k.fwdCnt != k.advertised && k.rxCnt-k.advertised > d.bufAlloc/2 {
		k.owe |= oweCredit
		d.schedule(k)
	}
	k.finish(d)
}

// wrote handles a Write's result: false means stop writing for now (the
// stream is full, and will say when it has room, or it failed and the
// connection is reset).
func (k *conn) wrote(d *Device, n int, err error) bool {
	switch {
	case err == nil && n > 0:
		return true
	case err != nil && wouldBlock(err):
		k.host.WantWrite(true)
	default:
		d.log.Debug("vsock: host stream write failed; connection reset", "port", k.key.local, "guest_port", k.key.peer, "err", err)
		d.reset(k.key, k)
	}
	return false
}

// finish half-closes the host stream once the guest will send no more and
// nothing waits, and ends the connection with an RST when neither side
// will send again (the clean close of 5.10.6.6).
func (k *conn) finish(d *Device) {
	if k.closed || len(k.toHost) > 0 || len(k.prefix) > 0 {
		return
	}
	if k.guestShut&ShutdownSend != 0 && !k.hostShutWr {
		k.hostShutWr = true
		k.host.CloseWrite()
	}
	if k.guestShut == ShutdownRcv|ShutdownSend || (k.hostShutWr && k.hostEOF && k.owe&oweShutdown == 0) {
		d.reset(k.key, k)
	}
}

// buffer appends guest payload for the host stream.
func (k *conn) buffer(d *Device, p []byte) {
	if cap(k.toHost) == 0 {
		k.toHost = make([]byte, 0, d.bufAlloc)
	}
	if len(k.toHost)+len(p) > cap(k.toHost) { // room exists: credit was checked
		k.toHost = append(make([]byte, 0, d.bufAlloc), k.toHost...)
	}
	k.toHost = append(k.toHost, p...)
}

// okLine is what a host program that connected reads first.
func okLine(port uint32) []byte { return []byte("OK " + strconv.FormatUint(uint64(port), 10) + "\n") }
