package vnet

import "github.com/gluevmm/glue/virtio"

// maxRxErrors is how many backend read errors in a row turn interest off
// until the guest next notifies the receive queue: enough to ride over an
// odd failed read, few enough that a dead backend whose fd stays readable
// does not spin the event loop.
const maxRxErrors = 8

// HandleRx moves a bounded batch of frames from the backend into the
// guest's receive buffers. The VMM calls it when the backend is readable;
// it reports whether it stopped at the batch bound with work possibly left,
// when the caller should call again after other work. It may be called from
// any goroutine at any time, before activation and after Reset included.
func (d *Device) HandleRx() (more bool) {
	d.rxMu.Lock()
	defer d.rxMu.Unlock()
	return d.receive()
}

// rxStep is what one attempt to get a frame from the backend gave.
type rxStep int

const (
	rxFrame   rxStep = iota // a frame is in rxBuf
	rxSkipped               // a frame or an error was dropped; try again
	rxIdle                  // nothing to read, or the backend is failing
)

// receive is HandleRx's work; called with rxMu held.
func (d *Device) receive() (more bool) {
	q := d.rxq
	if q == nil || q.Broken() || d.rxLimit.throttled() {
		// Until Notify(0) after the driver sets up again, or from the
		// limiter's timer.
		d.setInterest(false)
		return false
	}
	defer q.SignalUsed()
	for budget := int(q.Size()); budget > 0; budget-- {
		if d.rxLen == 0 {
			switch d.readFrame() {
			case rxIdle:
				return false
			case rxSkipped:
				continue
			}
		}
		if !d.admitRx() {
			return false
		}
		c := q.Pop()
		if c == nil {
			// Keep the frame; the guest's next buffer comes with a
			// Notify(0), which turns interest back on.
			d.setInterest(false)
			return false
		}
		d.setInterest(true) // the guest has buffers: want frames
		d.deliver(q, c)
		d.rxPaid = d.rxPaid && d.rxLen > 0 // a new frame pays again
	}
	return true
}

// readFrame reads the next frame from the backend into rxBuf.
func (d *Device) readFrame() rxStep {
	n, err := d.backend.ReadFrame(d.rxBuf)
	switch {
	case err != nil && wouldBlock(err):
		return rxIdle
	case err != nil:
		d.rxErrRun++
		d.count(&d.stats.rxErrors, "virtio-net: backend read failed", "err", err, "in_a_row", d.rxErrRun)
		if d.rxErrRun >= maxRxErrors {
			if !d.rxDead { // once per episode: the guest's kicks retry it
				d.log.Warn("virtio-net: backend keeps failing; reception waits for the guest's next receive buffers", "errors", d.rxErrRun)
			}
			d.rxDead = true
			d.setInterest(false)
			return rxIdle
		}
		return rxSkipped
	}
	d.rxErrRun, d.rxDead = 0, false
	switch {
	case n < 0 || n > len(d.rxBuf):
		d.count(&d.stats.rxErrors, "virtio-net: backend returned an impossible length", "len", n)
	case n < HeaderLen+ethHeaderLen || n > MaxFrameLen:
		d.count(&d.stats.rxDropped, "virtio-net: frame from the backend dropped: bad length", "len", n, "max", MaxFrameLen)
	case needsOffload(d.rxBuf):
		d.count(&d.stats.rxDropped, "virtio-net: frame from the backend needs an offload the guest did not negotiate, dropped",
			"flags", d.rxBuf[hdrFlags], "gso_type", d.rxBuf[hdrGSOType])
	default:
		d.rxLen = n
		return rxFrame
	}
	return rxSkipped
}

// deliver puts the kept frame into chain c, or returns c empty.
func (d *Device) deliver(q *virtio.Queue, c *virtio.DescriptorChain) {
	frame := d.rxBuf[:d.rxLen]
	switch {
	case hasReadable(c):
		d.count(&d.stats.rxMalformed, "virtio-net: receive chain with device-readable buffers returned empty", "head", c.Head())
		// The frame waits for the next buffer. AddUsed cannot fail: c was
		// just popped.
		q.AddUsed(c.Head(), 0)
		return
	case c.WritableLen() < uint32(len(frame)):
		d.count(&d.stats.rxDropped, "virtio-net: receive buffer too small, frame dropped",
			"head", c.Head(), "buffer", c.WritableLen(), "frame", len(frame))
		q.AddUsed(c.Head(), 0)
		d.rxLen = 0
		return
	}
	putRxHeader(frame)
	w := c.Writer()
	if _, err := w.Write(frame); err != nil {
		// The chain was validated inside RAM: only a device bug gets here.
		d.count(&d.stats.rxDropped, "virtio-net: writing a received frame failed", "head", c.Head(), "err", err)
	} else {
		d.stats.rxFrames.Add(1)
		d.stats.rxBytes.Add(uint64(len(frame) - HeaderLen))
	}
	q.AddUsed(c.Head(), w.Written())
	d.rxLen = 0
}

// setInterest tells the VMM, on a change only, whether the device wants
// the backend's readability. Called with rxMu held.
func (d *Device) setInterest(on bool) {
	if d.interestOn == on {
		return
	}
	d.interestOn = on
	if d.interest != nil {
		d.interest(on)
	}
}
