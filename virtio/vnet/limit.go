package vnet

import "github.com/gluevmm/glue/ratelimit"

// Rate limiting, per direction (Config.RxLimit, Config.TxLimit): a frame
// costs one operation and its bytes less the vnet header. A transmit
// chain the limiter defers is held, popped but not sent, and the transmit
// queue is left alone until the direction's Wakeup notifies it again; a
// received frame the limiter defers stays in the device (where a frame
// waiting for a buffer stays), interest in the backend is turned off so
// that a readable tap does not spin the event loop, and the Wakeup
// notifies the receive queue, which turns interest on again. Kicks while
// throttled are counted and left to the timer; a reset cancels both
// timers and drops what was held.

// limits is one direction's limiter and timer; the zero value limits
// nothing.
type limits struct {
	l      *ratelimit.Limiter
	resume *ratelimit.Wakeup
}

func newLimits(l *ratelimit.Limiter, wake func(queue int), queue int) limits {
	if l == nil {
		return limits{}
	}
	return limits{l: l, resume: ratelimit.NewWakeup(l.Clock(), func() { wake(queue) })}
}

// throttled reports whether the direction waits for its timer.
func (x limits) throttled() bool { return x.resume != nil && x.resume.Armed() }

// take asks for a frame of n bytes (vnet header included) and arms the
// timer when the limiter defers it.
func (x limits) take(n int) bool {
	if x.l == nil {
		return true
	}
	wait := x.l.Take(1, uint64(max(n-HeaderLen, 0)))
	if wait > 0 {
		x.resume.Arm(wait)
	}
	return wait == 0
}

func (x limits) cancel() {
	if x.resume != nil {
		x.resume.Cancel()
	}
}

// transmitLimited is Notify(1)'s batch with a limiter: at most the queue
// size of chains, the held one first. Called with txMu held.
func (d *Device) transmitLimited() (more bool) {
	if d.txLimit.throttled() {
		d.stats.txThrottledKicks.Add(1)
		return false // the timer resumes the queue
	}
	q := d.txq
	for range q.Size() {
		c := d.txHeld
		d.txHeld = nil
		if c == nil {
			if c = q.Pop(); c == nil {
				break
			}
		}
		if !d.txLimit.take(int(c.ReadableLen())) {
			d.txHeld = c
			d.stats.txThrottled.Add(1)
			break
		}
		q.AddUsed(c.Head(), d.transmit(c)) // cannot fail: c was popped
	}
	q.SignalUsed()
	return d.txHeld == nil && q.Pending()
}

// admitRx asks the receive limiter for the kept frame, once per frame.
// When it defers the frame, interest goes off until the timer notifies
// the receive queue. Called with rxMu held.
func (d *Device) admitRx() bool {
	if d.rxPaid || d.rxLimit.take(d.rxLen) {
		d.rxPaid = true
		return true
	}
	d.stats.rxThrottled.Add(1)
	d.setInterest(false)
	return false
}

// dropLimited cancels both timers and forgets what they were holding:
// the queues are going away. Called with both locks held.
func (d *Device) dropLimited() {
	d.rxLimit.cancel()
	d.txLimit.cancel()
	d.txHeld, d.rxPaid = nil, false
}
