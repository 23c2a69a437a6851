package vnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/virtio"
)

// Queue indices and size.
const (
	RxQueue   = 0 // receiveq1: host to guest
	TxQueue   = 1 // transmitq1: guest to host
	QueueSize = 256
)

// Device-specific feature bits offered.
const (
	FeatureMAC    uint64 = 1 << 5  // VIRTIO_NET_F_MAC
	FeatureStatus uint64 = 1 << 16 // VIRTIO_NET_F_STATUS
)

// struct virtio_net_config up to status: mac[6], status u16.
const (
	configSize   = 8
	configStatus = 6
	statusLinkUp = 1 // VIRTIO_NET_S_LINK_UP
)

// rxBufSize is the host buffer frames are read into: larger than any frame
// a tap delivers (65535-byte MTU, Ethernet and VLAN headers, vnet header),
// so an oversized frame is read whole and dropped by its length rather
// than failing the read.
const rxBufSize = 68 << 10

// Config is what New needs.
type Config struct {
	// MAC is the guest's address, offered in the configuration space: a
	// unicast, non-zero EUI-48 (see MACFromName and ParseMAC).
	MAC MAC
	// Backend carries the frames; required.
	Backend Backend
	// SetRxInterest turns watching the backend for readability on or off;
	// see the package documentation. It may be nil where nothing watches
	// the backend (tests).
	SetRxInterest func(on bool)
	// Log receives malformed-request and backend warnings; nil discards.
	Log *slog.Logger
	// RxLimit and TxLimit limit each direction; nil limits nothing. Wake
	// (required with either) is called on the limiter clock's goroutine
	// when a deferred frame may go: the VMM notifies that queue again, on
	// its event loop, as if the driver had kicked.
	RxLimit, TxLimit *ratelimit.Limiter
	Wake             func(queue int)
}

// Device is a virtio-net device. Create it with New.
type Device struct {
	config   [configSize]byte
	backend  Backend
	interest func(bool)
	log      *slog.Logger

	rxMu       sync.Mutex    // receive state; taken before txMu
	rxq        *virtio.Queue // nil while inactive
	rxBuf      []byte        // rxBuf[:rxLen] is the frame kept for the next buffer
	rxLen      int
	rxErrRun   int  // backend read errors in a row
	rxDead     bool // rxErrRun reached maxRxErrors since the last good read
	rxPaid     bool // the kept frame has passed rxLimit
	interestOn bool // last value given to SetRxInterest
	rxLimit    limits

	txMu    sync.Mutex
	txq     *virtio.Queue
	txBuf   []byte
	txLimit limits
	txHeld  *virtio.DescriptorChain // popped, deferred by txLimit

	stats counters
}

// New returns a virtio-net device with the link up.
func New(cfg Config) (*Device, error) {
	if cfg.Backend == nil {
		return nil, errors.New("virtio-net: no backend")
	}
	if err := validMAC(cfg.MAC); err != nil {
		return nil, fmt.Errorf("virtio-net: MAC %v: %w", cfg.MAC, err)
	}
	if (cfg.RxLimit != nil || cfg.TxLimit != nil) && cfg.Wake == nil {
		return nil, errors.New("virtio-net: a rate limit needs Wake")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Device{
		backend:    cfg.Backend,
		interest:   cfg.SetRxInterest,
		log:        log.With("virtio", "net"),
		rxBuf:      make([]byte, rxBufSize),
		txBuf:      make([]byte, MaxFrameLen),
		interestOn: true,
		rxLimit:    newLimits(cfg.RxLimit, cfg.Wake, RxQueue),
		txLimit:    newLimits(cfg.TxLimit, cfg.Wake, TxQueue),
	}
	copy(d.config[:], cfg.MAC[:])
	binary.LittleEndian.PutUint16(d.config[configStatus:], statusLinkUp)
	return d, nil
}

// Type returns virtio.TypeNet.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeNet }

// Features returns MAC and STATUS.
func (d *Device) Features() uint64 { return FeatureMAC | FeatureStatus }

// QueueMaxSizes returns the sizes of the receive and transmit queues.
func (d *Device) QueueMaxSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// ConfigSize returns the size of struct virtio_net_config up to status.
func (d *Device) ConfigSize() int { return configSize }

// ReadConfig reads the MAC and the link status. The configuration never
// changes, so it needs no lock.
func (d *Device) ReadConfig(offset int, data []byte) { copy(data, d.config[offset:]) }

// WriteConfig ignores the write: the fields are read-only in virtio 1.x.
func (d *Device) WriteConfig(int, []byte) {}

// MAC returns the guest's address.
func (d *Device) MAC() MAC { return MAC(d.config[:6]) }

// Activate starts both queues (either may be nil if the driver left it
// disabled). Reception starts when the driver notifies queue 0.
func (d *Device) Activate(_ *guestmem.Memory, _ uint64, queues []*virtio.Queue, _ virtio.Interrupt) error {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	d.txMu.Lock()
	defer d.txMu.Unlock()
	d.rxq, d.txq = nil, nil
	if len(queues) > RxQueue {
		d.rxq = queues[RxQueue]
	}
	if len(queues) > TxQueue {
		d.txq = queues[TxQueue]
	}
	d.rxLen, d.rxErrRun, d.rxDead = 0, 0, false
	d.dropLimited()
	return nil
}

// Reset stops the device, waiting for work in progress, and drops a frame
// kept for the guest. Interest in the backend is turned off lazily, by the
// next HandleRx.
func (d *Device) Reset() {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	d.txMu.Lock()
	defer d.txMu.Unlock()
	d.rxq, d.txq = nil, nil
	d.rxLen, d.rxErrRun, d.rxDead = 0, 0, false
	d.dropLimited()
}

// Notify handles a kick: queue 0 (new receive buffers) resumes reception,
// queue 1 transmits a bounded batch. It reports whether more work remains.
func (d *Device) Notify(queue int) bool {
	switch queue {
	case RxQueue:
		d.rxMu.Lock()
		defer d.rxMu.Unlock()
		if d.rxq == nil {
			return false
		}
		if d.rxLimit.throttled() {
			d.stats.rxThrottledKicks.Add(1)
			return false // the timer resumes reception
		}
		d.rxErrRun = 0
		d.setInterest(true)
		return d.receive()
	case TxQueue:
		d.txMu.Lock()
		defer d.txMu.Unlock()
		if d.txq == nil {
			return false
		}
		if d.txLimit.l != nil {
			return d.transmitLimited()
		}
		return d.txq.Process(d.transmit)
	}
	return false
}

// hasReadable and hasWritable look at the chain's layout: readable
// descriptors come first, writable ones last.
func hasReadable(c *virtio.DescriptorChain) bool {
	ds := c.Descriptors()
	return len(ds) > 0 && !ds[0].Writable()
}

func hasWritable(c *virtio.DescriptorChain) bool {
	ds := c.Descriptors()
	return len(ds) > 0 && ds[len(ds)-1].Writable()
}
