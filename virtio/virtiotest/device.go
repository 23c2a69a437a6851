package virtiotest

import (
	"io"
	"sync"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// EchoDevice is a configurable device for testing transports: it copies
// each request's readable bytes into its writable buffers (up to 4 KiB per
// request), has a plain byte array as configuration space, and records
// what the transport did to it. Set the exported fields before handing it
// to a transport.
type EchoDevice struct {
	ID          virtio.DeviceType // 0 means virtio.TypeConsole
	Feat        uint64            // device-specific features offered
	MaxSizes    []uint16          // nil means one queue of 256
	ActivateErr error             // returned by Activate

	mu          sync.Mutex
	config      []byte
	queues      []*virtio.Queue
	irq         virtio.Interrupt
	features    uint64
	activations int
	resets      int
	buf         [4096]byte
}

// SetConfig replaces the configuration space (its size is fixed from the
// first call on, before the transport is created).
func (d *EchoDevice) SetConfig(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.config = append([]byte(nil), b...)
}

// ChangeConfig overwrites configuration bytes at off, as the device side
// would, and signals a configuration change if the device is active.
func (d *EchoDevice) ChangeConfig(off int, b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(d.config[off:], b)
	if d.irq != nil {
		d.irq.Signal(virtio.InterruptConfigChange, 0)
	}
}

// Type implements virtio.Device.
func (d *EchoDevice) Type() virtio.DeviceType {
	if d.ID == 0 {
		return virtio.TypeConsole
	}
	return d.ID
}

// Features implements virtio.Device.
func (d *EchoDevice) Features() uint64 { return d.Feat }

// QueueMaxSizes implements virtio.Device.
func (d *EchoDevice) QueueMaxSizes() []uint16 {
	if d.MaxSizes == nil {
		return []uint16{256}
	}
	return d.MaxSizes
}

// ConfigSize implements virtio.Device.
func (d *EchoDevice) ConfigSize() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.config)
}

// ReadConfig implements virtio.Device.
func (d *EchoDevice) ReadConfig(off int, data []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(data, d.config[off:])
}

// WriteConfig implements virtio.Device.
func (d *EchoDevice) WriteConfig(off int, data []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	copy(d.config[off:], data)
}

// Activate implements virtio.Device.
func (d *EchoDevice) Activate(_ *guestmem.Memory, features uint64, queues []*virtio.Queue, irq virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ActivateErr != nil {
		return d.ActivateErr
	}
	d.queues, d.irq, d.features = queues, irq, features
	d.activations++
	return nil
}

// Reset implements virtio.Device.
func (d *EchoDevice) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queues, d.irq, d.features = nil, nil, 0
	d.resets++
}

// Notify implements virtio.Device: it echoes a batch of requests.
func (d *EchoDevice) Notify(i int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 || i >= len(d.queues) || d.queues[i] == nil {
		return false
	}
	return d.queues[i].Process(func(c *virtio.DescriptorChain) uint32 {
		n, _ := io.ReadFull(c.Reader(), d.buf[:min(c.ReadableLen(), uint32(len(d.buf)))])
		w := c.Writer()
		w.Write(d.buf[:min(n, w.Len())])
		return w.Written()
	})
}

// Queue returns the activated queue i, or nil.
func (d *EchoDevice) Queue(i int) *virtio.Queue {
	d.mu.Lock()
	defer d.mu.Unlock()
	if i < 0 || i >= len(d.queues) {
		return nil
	}
	return d.queues[i]
}

// Negotiated returns the features the device was activated with.
func (d *EchoDevice) Negotiated() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.features
}

// Counts returns how many times the device was activated and reset.
func (d *EchoDevice) Counts() (activations, resets int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.activations, d.resets
}

// BusyDevice always has more work, like a queue a guest keeps feeding; it
// counts the notifications it got, for tests of bounded kicks.
type BusyDevice struct {
	EchoDevice
	mu      sync.Mutex
	notifys int
}

// Notify counts the kick and reports that work is left.
func (d *BusyDevice) Notify(int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.notifys++
	return true
}

// Count returns how many notifications the device got.
func (d *BusyDevice) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.notifys
}
