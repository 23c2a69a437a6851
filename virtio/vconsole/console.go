// Package vconsole is virtio-console (device ID 3) with one port and no
// VIRTIO_CONSOLE_F_MULTIPORT: receiveq (queue 0) carries host input to the
// guest, transmitq (queue 1) the guest's output (Linux's hvc0). No feature
// is offered and there is no configuration space.
//
// # Output
//
// The device-readable bytes of each transmitq chain are written to the
// io.Writer given to New, through a 4 KiB buffer inside the device (a
// request costs no host allocation), at most MaxTransmitBytes per chain
// (Linux sends at most a page); the rest of a longer chain is dropped and
// counted. The writer is called with the device's lock held, on the
// goroutine that delivered the notification (a vCPU or the event loop), so
// it must not block: the VMM passes the same kind of non-blocking, bounded
// writer as for the UART. A write error or short write drops the rest of
// that chain (counted in TxDropped). A chain with device-writable buffers
// is malformed: nothing is written out, it is completed with length 0 and
// counted. Every transmit chain is completed with used length 0.
//
// # Input
//
// Enqueue takes bytes from the host the way the UART's does, never
// blocking anyone: it moves them into the receive buffers the guest has
// posted and keeps up to InputBufferSize more in the device, and returns
// how many it took. When it took fewer than it was given, Drained is
// signalled once the guest has posted buffers that made room; the VMM's
// input goroutine waits on it and retries. The kept bytes survive a device
// reset, so input typed before the driver (re)starts is not lost: drivers
// reset the device while probing it. A receiveq chain with device-readable
// buffers is malformed: completed with length 0, counted, and the input
// goes to the next buffer.
//
// # Concurrency
//
// Notify, Enqueue, Activate and Reset may run on different goroutines;
// one lock serializes them. Drained and Stats may be used from any
// goroutine.
package vconsole

import (
	"io"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
)

// Queue indices and size.
const (
	ReceiveQueue  = 0 // receiveq (port 0): host to guest
	TransmitQueue = 1 // transmitq (port 0): guest to host
	QueueSize     = 128
)

const (
	// InputBufferSize is how many input bytes the device keeps for the
	// guest beyond the receive buffers it has posted.
	InputBufferSize = 4096
	// MaxTransmitBytes caps the output taken from one transmit chain.
	MaxTransmitBytes = 64 << 10
)

// Device is a virtio-console device. Create it with New.
type Device struct {
	virtio.NoConfig
	out     io.Writer
	drained chan struct{}

	mu       sync.Mutex
	rxq, txq *virtio.Queue // nil while inactive
	in       [InputBufferSize]byte
	inStart  int // in[inStart:inEnd] waits for the guest
	inEnd    int
	wantRoom bool       // an Enqueue took less than it was given
	txBuf    [4096]byte // output staging

	txBytes, txDropped, txMalformed atomic.Uint64
	rxBytes, rxMalformed            atomic.Uint64
}

// New returns a virtio-console device writing the guest's output to out,
// which must not block (nil discards it).
func New(out io.Writer) *Device {
	if out == nil {
		out = io.Discard
	}
	return &Device{out: out, drained: make(chan struct{}, 1)}
}

// Type returns virtio.TypeConsole.
func (d *Device) Type() virtio.DeviceType { return virtio.TypeConsole }

// Features returns 0: one port, no console size, no emergency write.
func (d *Device) Features() uint64 { return 0 }

// QueueMaxSizes returns the sizes of receiveq and transmitq.
func (d *Device) QueueMaxSizes() []uint16 { return []uint16{QueueSize, QueueSize} }

// Activate starts the queues (either may be nil if the driver left it
// disabled). Input kept meanwhile is delivered once the driver posts
// receive buffers and notifies.
func (d *Device) Activate(_ *guestmem.Memory, _ uint64, queues []*virtio.Queue, _ virtio.Interrupt) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rxq, d.txq = nil, nil
	if len(queues) > ReceiveQueue {
		d.rxq = queues[ReceiveQueue]
	}
	if len(queues) > TransmitQueue {
		d.txq = queues[TransmitQueue]
	}
	return nil
}

// Reset stops the device, waiting for work in progress. Kept input stays.
func (d *Device) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rxq, d.txq = nil, nil
}

// Notify handles a kick: receiveq (new receive buffers) gets kept input,
// transmitq's output is written out, a bounded batch each. It reports
// whether more work remains.
func (d *Device) Notify(queue int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch queue {
	case ReceiveQueue:
		if d.rxq == nil {
			return false
		}
		_, more := d.fill(nil)
		if d.wantRoom && d.room() > 0 {
			d.wantRoom = false
			select {
			case d.drained <- struct{}{}:
			default: // a signal is already waiting
			}
		}
		return more
	case TransmitQueue:
		if d.txq == nil {
			return false
		}
		return d.txq.Process(d.transmit)
	}
	return false
}

// Stats counts what the device did since it was created.
type Stats struct {
	TxBytes     uint64 // output written to the writer
	TxDropped   uint64 // output bytes lost: over MaxTransmitBytes, or refused by the writer
	TxMalformed uint64 // transmit chains with device-writable buffers
	RxBytes     uint64 // input delivered to the guest
	RxMalformed uint64 // receive chains with device-readable buffers
}

// Stats returns the counters. Safe from any goroutine.
func (d *Device) Stats() Stats {
	return Stats{
		TxBytes: d.txBytes.Load(), TxDropped: d.txDropped.Load(), TxMalformed: d.txMalformed.Load(),
		RxBytes: d.rxBytes.Load(), RxMalformed: d.rxMalformed.Load(),
	}
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
