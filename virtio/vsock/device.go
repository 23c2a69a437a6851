package vsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// Queue indices and size.
const (
	RxQueue    = 0 // host to guest packets
	TxQueue    = 1 // guest to host packets
	EventQueue = 2 // transport events
	QueueSize  = 256
)

// Limits; see the package documentation.
const (
	// MaxPayload caps one packet's payload, either way (Linux's
	// VIRTIO_VSOCK_MAX_PKT_BUF_SIZE).
	MaxPayload = 64 << 10
	// DefaultBufAlloc is the buffer glue advertises per connection for
	// the guest's data: at most this much waits in glue for a host peer.
	DefaultBufAlloc = 64 << 10
	// DefaultMaxConns caps the open connections.
	DefaultMaxConns = 256
)

// EventTransportReset is VIRTIO_VSOCK_EVENT_TRANSPORT_RESET.
const EventTransportReset = 0

// HostConn is one host stream of a connection: in glue, a non-blocking
// Unix socket. Read and Write never block: with nothing to read or no room,
// they return an error for which errors.Is(err, ErrWouldBlock) or
// errors.Is(err, syscall.EAGAIN) holds. Read returns (0, io.EOF) or (0, nil)
// at the peer's end of stream. The methods are called with the device's
// lock held and must not call back into the device.
type HostConn interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// CloseWrite half-closes the stream: the guest sends no more.
	CloseWrite() error
	// Close ends the stream; the device never uses it again.
	Close() error
	// WantRead asks for HostReady(c) when the stream has data (or an end
	// or error) to read; WantWrite, when it has room to write. Each
	// request is for one call; the device asks again when it needs to.
	WantRead(on bool)
	WantWrite(on bool)
}

// Backend opens host streams for connections the guest makes.
type Backend interface {
	// Dial connects to the host service of port; it must not block. An
	// error refuses the guest's connection (RST).
	Dial(port uint32) (HostConn, error)
}

// ErrWouldBlock is what a HostConn returns when it would have to block.
var ErrWouldBlock = errors.New("vsock: host stream would block")

func wouldBlock(err error) bool {
	return errors.Is(err, ErrWouldBlock) || errors.Is(err, syscall.EAGAIN)
}

// Config is what New needs.
type Config struct {
	CID      uint32 // the guest's address; see CheckCID
	Backend  Backend
	Log      *slog.Logger // nil: discard
	BufAlloc uint32       // per-connection buffer for guest data; 0: DefaultBufAlloc
	MaxConns int          // 0: DefaultMaxConns
}

// Reserved CIDs a guest cannot have: VMADDR_CID_HYPERVISOR, _LOCAL, _HOST
// and VMADDR_CID_ANY.
var ErrReservedCID = errors.New("vsock: CID 0, 1, 2 and 4294967295 are reserved")

// CheckCID reports whether cid may be a guest's.
func CheckCID(cid uint64) error {
	if cid <= HostCID || cid >= 0xffffffff {
		return fmt.Errorf("%w: got %d", ErrReservedCID, cid)
	}
	return nil
}

// Device is a virtio-vsock device. Create it with New.
type Device struct {
	cid      uint64
	backend  Backend
	log      *slog.Logger
	bufAlloc uint32
	maxConns int

	mu        sync.Mutex
	rxq, txq  *virtio.Queue // nil while inactive
	evq       *virtio.Queue
	conns     map[connKey]*conn
	byHost    map[HostConn]*conn
	ready     []*conn                 // connections with a packet for the guest, round-robin
	rsts      []Header                // RSTs for packets that named no connection
	nextPort  uint32                  // host ports for host-initiated connections
	rxBlocked bool                    // the guest had no receive buffer: wait for its kick
	held      *virtio.DescriptorChain // a receive chain popped but not yet written
	stage     [MaxPayload]byte
	hdr       [HeaderLen]byte

	stats counters
}

type counters struct {
	txPackets, txBytes, rxPackets, rxBytes, malformed, resets, creditViolations, dropped atomic.Uint64
}

// Stats counts what the device did since it was created.
type Stats struct {
	TxPackets, TxBytes uint64 // from the guest: packets, payload bytes
	RxPackets, RxBytes uint64 // to the guest
	Malformed          uint64 // packets refused by ParsePacket or out of protocol
	Resets             uint64 // RSTs sent to the guest
	CreditViolations   uint64 // RW packets beyond the credit glue gave
	Dropped            uint64 // packets dropped without an answer
	Conns              int    // open connections
}

// New returns a device for a guest at cfg.CID.
func New(cfg Config) (*Device, error) {
	if err := CheckCID(uint64(cfg.CID)); err != nil {
		return nil, err
	}
	if cfg.Backend == nil {
		return nil, errors.New("vsock: no backend")
	}
	d := &Device{
		cid: uint64(cfg.CID), backend: cfg.Backend, log: cfg.Log,
		bufAlloc: cfg.BufAlloc, maxConns: cfg.MaxConns,
		conns: map[connKey]*conn{}, byHost: map[HostConn]*conn{},
		nextPort: firstHostPort,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.bufAlloc == 0 {
		d.bufAlloc = DefaultBufAlloc
	}
	if d.maxConns <= 0 {
		d.maxConns = DefaultMaxConns
	}
	return d, nil
}

// firstHostPort is where host-initiated connections' host ports start, far
// from the well-known ones a guest may listen on (as Firecracker does).
const firstHostPort = 1 << 30

// Type returns virtio.TypeVsock.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeVsock }

// Features returns 0: stream sockets only, which a driver assumes when
// no feature is offered (VIRTIO_VSOCK_F_STREAM is implied).
func (d *Device) Features() uint64 { return 0 }

// QueueMaxSizes returns the sizes of the rx, tx and event queues.
func (d *Device) QueueMaxSizes() []uint16 { return []uint16{QueueSize, QueueSize, QueueSize} }

// ConfigSize returns 8: guest_cid, a little-endian u64.
func (d *Device) ConfigSize() int { return 8 }

// ReadConfig reads guest_cid.
func (d *Device) ReadConfig(off int, data []byte) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], d.cid)
	copy(data, b[off:])
}

// WriteConfig ignores writes: guest_cid is read-only.
func (d *Device) WriteConfig(int, []byte) {}

// Activate starts the queues. Without rx and tx queues the device stays
// idle.
func (d *Device) Activate(_ *guestmem.Memory, _ uint64, queues []*virtio.Queue, _ virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeAll()
	d.rxq, d.txq, d.evq = queueAt(queues, RxQueue), queueAt(queues, TxQueue), queueAt(queues, EventQueue)
	d.rxBlocked, d.held = false, nil
	return nil
}

func queueAt(qs []*virtio.Queue, i int) *virtio.Queue {
	if i < len(qs) {
		return qs[i]
	}
	return nil
}

// Reset stops the device and closes every connection's host stream: the
// guest's sockets are gone with its driver's state.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeAll()
	d.rxq, d.txq, d.evq, d.held = nil, nil, nil, nil
}

// TransportReset closes every connection and tells the driver so through
// the event queue (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET), as after the
// host side lost its state. It reports whether the event was delivered.
func (d *Device) TransportReset() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeAll()
	q := d.evq
	if q == nil {
		return false
	}
	c := q.Pop()
	if c == nil {
		return false
	}
	var ev [4]byte
	binary.LittleEndian.PutUint32(ev[:], EventTransportReset)
	w := c.Writer()
	n, _ := w.Write(ev[:])
	q.AddUsed(c.Head(), uint32(n)) // cannot fail: c was just popped
	q.SignalUsed()
	return n == len(ev)
}

// Notify handles a kick: the tx queue's packets are executed, new rx
// buffers get what waits for the guest. The event queue's buffers are
// kept for TransportReset.
func (d *Device) Notify(queue int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch queue {
	case TxQueue:
		if d.txq == nil {
			return false
		}
		more := d.txq.Process(d.transmit)
		d.pumpRx()
		return more
	case RxQueue:
		if d.rxq == nil {
			return false
		}
		d.rxBlocked = false
		return d.pumpRx()
	}
	return false
}

// HostReady is the VMM's call when c asked (WantRead, WantWrite) and is
// ready: its data goes to the guest as credit allows, what waits for it
// is written. It may be called at any time, with a closed c included.
func (d *Device) HostReady(c HostConn) (more bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.byHost[c]
	if k == nil {
		return false
	}
	k.flushToHost(d)
	if d.byHost[c] != nil && k.canRead() {
		k.hostReadable = true
		d.schedule(k)
	}
	return d.pumpRx()
}

// Stats returns the counters. Safe from any goroutine.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	n := len(d.conns)
	d.mu.Unlock()
	s := &d.stats
	return Stats{
		TxPackets: s.txPackets.Load(), TxBytes: s.txBytes.Load(),
		RxPackets: s.rxPackets.Load(), RxBytes: s.rxBytes.Load(),
		Malformed: s.malformed.Load(), Resets: s.resets.Load(),
		CreditViolations: s.creditViolations.Load(), Dropped: s.dropped.Load(),
		Conns: n,
	}
}

// closeAll drops every connection. Called with mu held.
func (d *Device) closeAll() {
	for _, k := range d.conns {
		k.host.Close()
	}
	clear(d.conns)
	clear(d.byHost)
	d.ready, d.rsts = nil, nil
}
