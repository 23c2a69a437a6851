package virtio

import (
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"

	"github.com/gluevmm/glue/guestmem"
)

// Split-virtqueue layout (virtio 1.2 section 2.7).
const (
	descSize = 16 // struct virtq_desc: addr u64, len u32, flags u16, next u16

	descAlign  = 16
	availAlign = 2
	usedAlign  = 4

	ringHeader    = 4 // flags u16, idx u16 (both rings)
	availElemSize = 2 // u16 head index
	usedElemSize  = 8 // struct virtq_used_elem: id u32, len u32
	eventSize     = 2 // used_event / avail_event u16 after the ring

	ringIdxOffset = 2
)

// Descriptor flags.
const (
	DescFlagNext     uint16 = 1 // VIRTQ_DESC_F_NEXT
	DescFlagWrite    uint16 = 2 // VIRTQ_DESC_F_WRITE: device-writable
	DescFlagIndirect uint16 = 4 // VIRTQ_DESC_F_INDIRECT
)

// Ring flags.
const (
	availFlagNoInterrupt uint16 = 1 // VIRTQ_AVAIL_F_NO_INTERRUPT
)

// QueueConfig is the geometry and negotiated state of one queue, as the
// driver configured it. Common builds it at activation; tests and fakes may
// build their own.
type QueueConfig struct {
	Index   int    // queue number, passed to Interrupt.Signal
	Size    uint16 // entries: a power of two in 1..MaxSize
	MaxSize uint16 // the device's maximum; 0 means MaxQueueSize
	// Guest-physical addresses of the descriptor table, available ring
	// ("driver area") and used ring ("device area").
	Desc, Driver, Device guestmem.Addr
	Features             uint64    // negotiated features (event index, indirect)
	Interrupt            Interrupt // nil: interrupts are dropped
	Log                  *slog.Logger
}

// QueueStats counts what a queue did. Counters only grow while the queue
// lives; a reset replaces the queue.
type QueueStats struct {
	Chains    uint64 // well-formed chains handed to the device
	Malformed uint64 // chains returned to the driver unprocessed (length 0)
	Broken    bool   // the queue stopped and asked for a reset
}

// Queue is the device side of a split virtqueue whose geometry has been
// validated: every ring lies aligned inside one RAM region, so ring
// accesses cannot fail, and the geometry never changes.
//
// A Queue is not safe for concurrent use: the device serializes its calls
// (normally under the lock its Notify and Reset take). Stats may be read
// from any goroutine.
type Queue struct {
	mem               *guestmem.Memory
	irq               Interrupt
	log               *slog.Logger
	index             int
	size              uint16
	desc, avail, used guestmem.Addr
	eventIdx          bool
	indirect          bool
	maxChainBytes     uint64

	nextAvail     uint16 // next available-ring slot to consume
	availIdx      uint16 // avail.idx as last read
	nextUsed      uint16 // next used-ring slot to fill (== used.idx)
	signalledUsed uint16 // nextUsed when the driver was last considered for an interrupt
	unsignalled   int    // used entries added since then
	inFlight      []bool // heads popped and not yet returned, by head index
	broken        bool

	chains, malformed atomic.Uint64
	isBroken          atomic.Bool
}

// NewQueue validates cfg and returns the queue. The size must be a power of
// two in 1..MaxSize; the descriptor table, available ring and used ring must
// be 16-, 2- and 4-byte aligned and each lie entirely inside one RAM
// region, their sizes including the event-index fields when
// VIRTIO_RING_F_EVENT_IDX is negotiated.
func NewQueue(mem *guestmem.Memory, cfg QueueConfig) (*Queue, error) {
	max := cfg.MaxSize
	if max == 0 || max > MaxQueueSize {
		max = MaxQueueSize
	}
	n := cfg.Size
	if n == 0 || n > max || n&(n-1) != 0 {
		return nil, fmt.Errorf("virtio: queue %d: size %d (maximum %d): %w", cfg.Index, n, max, ErrQueueSize)
	}
	eventIdx := cfg.Features&FeatureRingEventIdx != 0
	var event uint64
	if eventIdx {
		event = eventSize
	}
	rings := []struct {
		name  string
		addr  guestmem.Addr
		align uint64
		size  uint64
	}{
		{"descriptor table", cfg.Desc, descAlign, descSize * uint64(n)},
		{"available ring", cfg.Driver, availAlign, ringHeader + availElemSize*uint64(n) + event},
		{"used ring", cfg.Device, usedAlign, ringHeader + usedElemSize*uint64(n) + event},
	}
	for _, r := range rings {
		if uint64(r.addr)%r.align != 0 {
			return nil, fmt.Errorf("virtio: queue %d: %s at %#x: %w", cfg.Index, r.name, r.addr, ErrRingAlignment)
		}
		// Contains checks the whole range, end overflow included.
		if !mem.Contains(r.addr, r.size) {
			return nil, fmt.Errorf("virtio: queue %d: %s at %#x+%#x: %w", cfg.Index, r.name, r.addr, r.size, ErrRingOutsideRAM)
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{
		mem:           mem,
		irq:           cfg.Interrupt,
		log:           log.With("queue", cfg.Index),
		index:         cfg.Index,
		size:          n,
		desc:          cfg.Desc,
		avail:         cfg.Driver,
		used:          cfg.Device,
		eventIdx:      eventIdx,
		indirect:      cfg.Features&FeatureRingIndirectDesc != 0,
		maxChainBytes: math.MaxUint32,
		inFlight:      make([]bool, n),
	}, nil
}

// Index returns the queue's number.
func (q *Queue) Index() int { return q.index }

// Size returns the number of entries.
func (q *Queue) Size() uint16 { return q.size }

// SetMaxChainBytes limits the total length (readable plus writable) of a
// chain; longer chains are malformed. The default and the ceiling is
// 2^32-1, the most a used element can report.
func (q *Queue) SetMaxChainBytes(n uint32) { q.maxChainBytes = uint64(n) }

// Stats returns the queue's counters. Safe from any goroutine.
func (q *Queue) Stats() QueueStats {
	return QueueStats{Chains: q.chains.Load(), Malformed: q.malformed.Load(), Broken: q.isBroken.Load()}
}

// Broken reports whether the queue has stopped (see the package doc).
func (q *Queue) Broken() bool { return q.broken }

// breakQueue stops the queue and asks the driver for a reset.
func (q *Queue) breakQueue(err error) {
	if q.broken {
		return
	}
	q.broken = true
	q.isBroken.Store(true)
	q.log.Warn("virtio: queue broken, device needs reset", "err", err)
	if q.irq != nil {
		q.irq.NeedsReset()
	}
}

// Ring field addresses. Slot arithmetic cannot overflow: the rings were
// checked to lie inside RAM at construction.
func (q *Queue) availSlot(i uint16) guestmem.Addr {
	return q.avail + ringHeader + availElemSize*guestmem.Addr(i&(q.size-1))
}
func (q *Queue) usedSlot(i uint16) guestmem.Addr {
	return q.used + ringHeader + usedElemSize*guestmem.Addr(i&(q.size-1))
}
func (q *Queue) usedEventAddr() guestmem.Addr {
	return q.avail + ringHeader + availElemSize*guestmem.Addr(q.size)
}
func (q *Queue) availEventAddr() guestmem.Addr {
	return q.used + ringHeader + usedElemSize*guestmem.Addr(q.size)
}
