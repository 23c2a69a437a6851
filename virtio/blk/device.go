package blk

import (
	"encoding/binary"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/virtio"
)

// Feature bits (virtio 1.2 section 5.2.3) the device offers.
const (
	FeatureSegMax  uint64 = 1 << 2 // VIRTIO_BLK_F_SEG_MAX: config seg_max is valid
	FeatureRO      uint64 = 1 << 5 // VIRTIO_BLK_F_RO: the disk is read-only
	FeatureBlkSize uint64 = 1 << 6 // VIRTIO_BLK_F_BLK_SIZE: config blk_size is valid
	FeatureFlush   uint64 = 1 << 9 // VIRTIO_BLK_F_FLUSH: FLUSH requests
)

const (
	// QueueSize is the size of the one request queue.
	QueueSize = 256
	// SegMax is the most data segments a request may have, as offered in
	// the configuration space: the queue size less the header and status
	// descriptors. Only a limit for the driver; the device takes any chain
	// the core accepts.
	SegMax = QueueSize - 2
)

// Configuration space layout (mirrors the start of struct
// virtio_blk_config, little-endian): capacity, size_max, seg_max, geometry,
// blk_size. Later fields belong to features the device does not offer.
const (
	configCapacity = 0
	configSegMax   = 12
	configBlkSize  = 20
	configSize     = 24
)

// Backend is the storage behind a Device: a *Disk, or a fake in tests.
// The device calls it from Notify, with its lock held, and never past the
// capacity.
type Backend interface {
	io.ReaderAt
	io.WriterAt
	// Flush makes every completed write durable.
	Flush() error
	// Sectors returns the capacity in SectorSize units. It must not change.
	Sectors() uint64
	// ReadOnly reports whether writes are refused. It must not change.
	ReadOnly() bool
	// ID returns the GET_ID serial; bytes past IDBytes are dropped.
	ID() string
}

// Stats counts requests by outcome. Every request the device handled is
// counted exactly once in Reads, Writes, Flushes, IDs or Errors.
type Stats struct {
	Reads, Writes, Flushes, IDs uint64 // requests completed with status OK
	ReadBytes, WriteBytes       uint64 // data moved by those reads and writes
	// Errors counts requests answered IOERR or UNSUPP, or returned without
	// a status because they had no writable last byte.
	Errors uint64
	// HostErrors counts the Errors caused by the backend failing (EIO,
	// ENOSPC, ...), as opposed to a malformed or refused request.
	HostErrors uint64
	// Throttled counts requests the rate limiter deferred (each time it
	// did), ThrottledKicks the notifications that came while one was
	// waiting and were left to its timer.
	Throttled, ThrottledKicks uint64
}

// Device is a virtio-blk device. Create it with New.
type Device struct {
	b        Backend
	sectors  uint64
	readOnly bool
	id       [IDBytes]byte
	config   [configSize]byte
	log      *slog.Logger

	mu           sync.Mutex // serializes Notify, Activate and Reset
	q            *virtio.Queue
	mem          *guestmem.Memory
	writethrough bool // FLUSH not negotiated: every write is flushed
	guestWarn    warnLimiter
	hostWarn     warnLimiter
	limit        *ratelimit.Limiter      // nil: unlimited
	resume       *ratelimit.Wakeup       // with limit: notifies the queue again
	held         *virtio.DescriptorChain // popped, deferred by limit

	reads, writes, flushes, ids atomic.Uint64
	readBytes, writeBytes       atomic.Uint64
	errors, hostErrors          atomic.Uint64
	throttled, throttledKicks   atomic.Uint64
}

// New returns a virtio-blk device over b. log may be nil. The backend
// stays the caller's: close it after the device has been reset.
func New(b Backend, log *slog.Logger) *Device {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Clamped so that every byte offset fits an int64 (a Disk is smaller).
	sectors := min(b.Sectors(), math.MaxInt64/SectorSize)
	d := &Device{b: b, sectors: sectors, readOnly: b.ReadOnly(), log: log.With("virtio", "blk")}
	copy(d.id[:], b.ID())
	binary.LittleEndian.PutUint64(d.config[configCapacity:], d.sectors)
	binary.LittleEndian.PutUint32(d.config[configSegMax:], SegMax)
	binary.LittleEndian.PutUint32(d.config[configBlkSize:], SectorSize)
	return d
}

// Type returns virtio.TypeBlock.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeBlock }

// Features returns FLUSH, SEG_MAX and BLK_SIZE, and RO for a read-only
// backend. SIZE_MAX is not offered: data moves between guest memory and
// the backend without a host buffer, so segments of any size cost the
// same.
func (d *Device) Features() uint64 {
	f := FeatureFlush | FeatureSegMax | FeatureBlkSize
	if d.readOnly {
		f |= FeatureRO
	}
	return f
}

// QueueMaxSizes returns the one request queue's size.
func (d *Device) QueueMaxSizes() []uint16 { return []uint16{QueueSize} }

// ConfigSize returns the size of the configuration space.
func (d *Device) ConfigSize() int { return configSize }

// ReadConfig reads the configuration space, which never changes.
func (d *Device) ReadConfig(offset int, data []byte) { copy(data, d.config[offset:]) }

// WriteConfig ignores the write: every field is read-only (writeback
// would need VIRTIO_BLK_F_CONFIG_WCE, which is not offered).
func (d *Device) WriteConfig(int, []byte) {}

// Activate starts serving the request queue (a driver that did not enable
// it gets an idle device). A driver that did not negotiate
// VIRTIO_BLK_F_FLUSH cannot flush and takes a completed write as durable
// (Linux then assumes no write cache), so the device flushes every write
// before completing it (writethrough), as QEMU does.
func (d *Device) Activate(mem *guestmem.Memory, features uint64, queues []*virtio.Queue, _ virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.q, d.mem = nil, mem
	d.dropLimited()
	if len(queues) > 0 {
		d.q = queues[0]
	}
	d.writethrough = features&FeatureFlush == 0
	return nil
}

// Reset stops the device. It waits for a request in progress, whose status
// is written before Reset returns.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.q, d.mem = nil, nil
	d.dropLimited()
}

// Notify serves a bounded batch of requests (at most the queue size).
// The backend I/O runs on the calling goroutine.
func (d *Device) Notify(queue int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if queue != 0 || d.q == nil {
		return false
	}
	if d.limit != nil {
		return d.serveLimited()
	}
	return d.q.Process(d.serve)
}

// Stats returns the request counters. Safe from any goroutine.
func (d *Device) Stats() Stats {
	return Stats{
		Reads: d.reads.Load(), Writes: d.writes.Load(), Flushes: d.flushes.Load(), IDs: d.ids.Load(),
		ReadBytes: d.readBytes.Load(), WriteBytes: d.writeBytes.Load(),
		Errors: d.errors.Load(), HostErrors: d.hostErrors.Load(),
		Throttled: d.throttled.Load(), ThrottledKicks: d.throttledKicks.Load(),
	}
}

// warnLimiter rate-limits Warn logs: one per interval, the rest at Debug,
// so a guest (or a failing disk) cannot flood the log.
type warnLimiter struct{ last time.Time }

const warnInterval = 10 * time.Second

func (l *warnLimiter) level() slog.Level {
	now := time.Now()
	if l.last.IsZero() || now.Sub(l.last) >= warnInterval {
		l.last = now
		return slog.LevelWarn
	}
	return slog.LevelDebug
}
