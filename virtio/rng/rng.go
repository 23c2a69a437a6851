// Package rng is virtio-rng (device ID 4): one queue of device-writable
// buffers that the device fills with bytes from an injected source, such as
// crypto/rand.Reader. It is the smallest complete device and the model for
// the others: see the virtio package documentation.
//
// Each request gets at most MaxRequestBytes, however long the guest says
// its buffers are; the bytes go from the source straight into guest
// memory, so a request costs no host allocation. Readable buffers in a
// request are ignored. A source error ends the request with what was
// written so far and is counted. The source is read with the device's lock
// held, on the goroutine that delivers the notification (a vCPU or the
// event loop), so it needs no locking of its own but must not block for
// long: crypto/rand.Reader never does.
package rng

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

const (
	// QueueSize is the size of the request queue.
	QueueSize = 256
	// MaxRequestBytes caps the bytes given to one request.
	MaxRequestBytes = 64 << 10
)

// Device is a virtio-rng device. Create it with New.
type Device struct {
	virtio.NoConfig
	src io.Reader

	mu sync.Mutex    // serializes Notify, Activate and Reset
	q  *virtio.Queue // nil while inactive

	bytes, errors atomic.Uint64
}

// New returns a virtio-rng device reading from src.
func New(src io.Reader) *Device { return &Device{src: src} }

// Type returns virtio.TypeRNG.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeRNG }

// Features returns 0: virtio-rng has no device-specific features.
func (d *Device) Features() uint64 { return 0 }

// QueueMaxSizes returns the one request queue's size.
func (d *Device) QueueMaxSizes() []uint16 { return []uint16{QueueSize} }

// Activate starts serving the request queue (a driver that did not enable
// it gets an idle device).
func (d *Device) Activate(_ *guestmem.Memory, _ uint64, queues []*virtio.Queue, _ virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.q = nil
	if len(queues) > 0 {
		d.q = queues[0]
	}
	return nil
}

// Reset stops the device, waiting for a request in progress.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.q = nil
}

// Notify fills a bounded batch of requests.
func (d *Device) Notify(queue int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if queue != 0 || d.q == nil {
		return false
	}
	return d.q.Process(d.fill)
}

// fill serves one request.
func (d *Device) fill(c *virtio.DescriptorChain) uint32 {
	w := c.Writer()
	n, err := io.CopyN(w, d.src, int64(min(w.Len(), MaxRequestBytes)))
	if err != nil {
		d.errors.Add(1)
	}
	d.bytes.Add(uint64(n))
	return w.Written()
}

// Stats reports the bytes handed to the guest and the source errors seen.
func (d *Device) Stats() (bytes, errors uint64) { return d.bytes.Load(), d.errors.Load() }
