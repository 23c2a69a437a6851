package blk

import (
	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/virtio"
)

// Rate limiting: with a Limiter (SetLimiter), every request costs one
// operation and its data bytes. A request the limiter defers stays with
// the device (held), popped but unanswered; the device stops taking more
// from the available ring and arms its Wakeup for when the limiter will
// let the request through. A kick meanwhile does nothing (it does not
// spin: the timer is what resumes the queue), and a reset cancels the
// timer and drops the held request with the queue it came from.

// SetLimiter limits the device's requests with l; wake is called, on the
// limiter clock's goroutine, when a deferred request may go: the VMM
// notifies the queue again (on its event loop, as if the driver had
// kicked). Call it before the device is activated; a nil l limits
// nothing.
func (d *Device) SetLimiter(l *ratelimit.Limiter, wake func(queue int)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.limit = l
	d.resume = nil
	if l != nil {
		d.resume = ratelimit.NewWakeup(l.Clock(), func() { wake(0) })
	}
}

// requestBytes is what a request costs in the bytes bucket: its data, the
// chain less the header and the status byte (0 for FLUSH and malformed
// chains, which still cost an operation).
func requestBytes(c *virtio.DescriptorChain) uint64 {
	n := uint64(c.ReadableLen()) + uint64(c.WritableLen())
	return n - min(n, headerSize+1)
}

// serveLimited is Notify's batch with a limiter: at most the queue size
// of requests, the held one first, each let through by the limiter.
// Called with d.mu held.
func (d *Device) serveLimited() (more bool) {
	if d.resume.Armed() {
		d.throttledKicks.Add(1)
		return false // the timer resumes the queue
	}
	for range d.q.Size() {
		c := d.held
		d.held = nil
		if c == nil {
			if c = d.q.Pop(); c == nil {
				break
			}
		}
		if wait := d.limit.Take(1, requestBytes(c)); wait > 0 {
			d.held = c
			d.throttled.Add(1)
			d.resume.Arm(wait)
			break
		}
		d.q.AddUsed(c.Head(), d.serve(c)) // cannot fail: c was popped
	}
	d.q.SignalUsed()
	return d.held == nil && d.q.Pending()
}

// dropLimited forgets the held request and cancels the timer: the queue is
// going away. Called with d.mu held.
func (d *Device) dropLimited() {
	d.held = nil
	if d.resume != nil {
		d.resume.Cancel()
	}
}
