package balloon

import (
	"encoding/binary"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// Feature bits (virtio 1.2 section 5.5.3).
const (
	FeatureStatsVQ       uint64 = 1 << 1 // VIRTIO_BALLOON_F_STATS_VQ
	FeatureDeflateOnOOM  uint64 = 1 << 2 // VIRTIO_BALLOON_F_DEFLATE_ON_OOM
	FeaturePageReporting uint64 = 1 << 5 // VIRTIO_BALLOON_F_PAGE_REPORTING
)

const (
	// QueueSize is the size of every queue.
	QueueSize = 256
	// MaxChainBytes caps the readable bytes of one inflate or deflate
	// chain: 16384 page numbers, 64 MiB of guest memory.
	MaxChainBytes = 64 << 10
	// PageSize is what a page frame number counts (VIRTIO_BALLOON_PFN_SHIFT).
	PageSize = 4096
	// configSize: le32 num_pages, le32 actual. The later fields
	// (free_page_hint_cmd_id, poison_val) belong to features not offered.
	configSize = 8
)

// role is what a queue does; which index it has depends on the features.
type role int

const (
	roleInflate role = iota
	roleDeflate
	roleStats
	roleReporting
	numRoles
)

// Config chooses the optional features the device offers.
type Config struct {
	Stats        bool // VIRTIO_BALLOON_F_STATS_VQ
	DeflateOnOOM bool // VIRTIO_BALLOON_F_DEFLATE_ON_OOM
	Reporting    bool // VIRTIO_BALLOON_F_PAGE_REPORTING
	// Log receives Warn for the first bad input of each kind, Debug for
	// the rest; nil discards.
	Log *slog.Logger
}

// Device is a virtio-balloon device. Create it with New.
type Device struct {
	cfg Config
	log *slog.Logger

	// target and actual are the configuration space: the host writes
	// target (SetTarget), the driver writes actual.
	target, actual atomic.Uint32

	mu           sync.Mutex // serializes Notify, Activate, Reset, SetTarget, RequestStats
	mem          *guestmem.Memory
	irq          virtio.Interrupt
	queues       [numRoles]*virtio.Queue // nil while inactive or not negotiated
	byIndex      []role                  // queue index -> role, from the negotiated features
	statsHeld    *virtio.DescriptorChain // the driver's statistics buffer, until RequestStats
	stats        Stats                   // the last statistics the driver reported
	statsUpdates uint64                  // statistics buffers received
	warned       [numCounters]bool

	counters [numCounters]atomic.Uint64
}

// New returns a virtio-balloon device offering what cfg asks.
func New(cfg Config) *Device {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Device{cfg: cfg, log: log}
}

// Type returns virtio.TypeBalloon.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeBalloon }

// Features returns the features Config asked for.
func (d *Device) Features() uint64 {
	var f uint64
	if d.cfg.Stats {
		f |= FeatureStatsVQ
	}
	if d.cfg.DeflateOnOOM {
		f |= FeatureDeflateOnOOM
	}
	if d.cfg.Reporting {
		f |= FeaturePageReporting
	}
	return f
}

// QueueMaxSizes returns one size per queue the offered features can use.
func (d *Device) QueueMaxSizes() []uint16 {
	n := 2
	if d.cfg.Stats {
		n++
	}
	if d.cfg.Reporting {
		n++
	}
	sizes := make([]uint16, n)
	for i := range sizes {
		sizes[i] = QueueSize
	}
	return sizes
}

// ConfigSize returns the size of num_pages and actual.
func (d *Device) ConfigSize() int { return configSize }

func (d *Device) config() [configSize]byte {
	var b [configSize]byte
	binary.LittleEndian.PutUint32(b[0:], d.target.Load())
	binary.LittleEndian.PutUint32(b[4:], d.actual.Load())
	return b
}

// ReadConfig reads num_pages and actual.
func (d *Device) ReadConfig(off int, data []byte) {
	b := d.config()
	copy(data, b[off:])
}

// WriteConfig takes the driver's writes to actual; num_pages is the
// host's, so bytes written over it are dropped.
func (d *Device) WriteConfig(off int, data []byte) {
	b := d.config()
	copy(b[off:], data)
	d.actual.Store(binary.LittleEndian.Uint32(b[4:]))
}

// Activate starts serving the queues the negotiated features give.
func (d *Device) Activate(mem *guestmem.Memory, features uint64, queues []*virtio.Queue, irq virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stop()
	d.byIndex = []role{roleInflate, roleDeflate}
	if features&FeatureStatsVQ != 0 {
		d.byIndex = append(d.byIndex, roleStats)
	}
	if features&FeaturePageReporting != 0 {
		d.byIndex = append(d.byIndex, roleReporting)
	}
	for i, q := range queues {
		if i >= len(d.byIndex) || q == nil {
			continue // a queue the features do not give stays idle
		}
		r := d.byIndex[i]
		if r == roleInflate || r == roleDeflate {
			q.SetMaxChainBytes(MaxChainBytes)
		}
		d.queues[r] = q
	}
	d.mem, d.irq = mem, irq
	// Linux primes the statistics queue with its first report before it
	// sets DRIVER_OK, and the transport drops that early notification:
	// take what is there now, or the driver waits for that buffer back
	// forever and never reports again.
	if q := d.queues[roleStats]; q != nil {
		d.takeStats(q)
	}
	return nil
}

// Reset stops the device, waiting for a notification in progress. The
// target stays (it is the host's); actual goes back to 0, as the driver
// that comes next starts with every page.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stop()
	d.actual.Store(0)
}

func (d *Device) stop() {
	d.queues = [numRoles]*virtio.Queue{}
	d.byIndex = nil
	d.statsHeld = nil
	d.mem, d.irq = nil, nil
}

// Notify processes a bounded batch of the queue's buffers.
func (d *Device) Notify(queue int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if queue < 0 || queue >= len(d.byIndex) {
		return false
	}
	r := d.byIndex[queue]
	q := d.queues[r]
	if q == nil {
		return false
	}
	switch r {
	case roleInflate:
		return q.Process(d.inflate)
	case roleDeflate:
		return q.Process(d.deflate)
	case roleReporting:
		return q.Process(d.report)
	default:
		return d.takeStats(q)
	}
}

// SetTarget asks the driver to hold pages pages (the configuration field
// num_pages) and tells it with a configuration-change interrupt when the
// device is active.
func (d *Device) SetTarget(pages uint32) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.target.Store(pages)
	if d.irq != nil {
		d.irq.Signal(virtio.InterruptConfigChange, 0)
	}
}
