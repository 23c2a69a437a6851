package vconsole

// enqueueRounds bounds the batches of receive buffers one Enqueue fills. A
// driver has at most a queue's worth posted, so one round is enough unless
// the guest keeps posting while Enqueue runs; the bound keeps such a guest
// from holding Enqueue (and the device's lock) forever.
const enqueueRounds = 4

// Enqueue hands input from the host to the guest and returns how many bytes
// it took: what fits in the receive buffers the guest has posted plus the
// free part of the device's InputBufferSize-byte buffer (so possibly more
// than Room). If it takes fewer than len(p), Drained is signalled once the
// guest has made room; retry the rest then. It never blocks.
func (d *Device) Enqueue(p []byte) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	taken := 0
	for range enqueueRounds {
		n, more := d.fill(p[taken:])
		taken += n
		if !more {
			break
		}
	}
	taken += d.keep(p[taken:])
	if taken < len(p) {
		d.wantRoom = true
	}
	return taken
}

// Room returns how many bytes Enqueue would take even if the guest had
// posted no receive buffer: the free part of the device's input buffer.
func (d *Device) Room() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.room()
}

// Drained returns a channel that receives a value when the guest has made
// room after an Enqueue that took less than it was given. It has a buffer
// of one, so a signal sent before the input goroutine waits is not lost; a
// stale one costs at most one Enqueue that takes nothing.
func (d *Device) Drained() <-chan struct{} { return d.drained }

func (d *Device) buffered() int { return d.inEnd - d.inStart }
func (d *Device) room() int     { return InputBufferSize - d.buffered() }

// keep appends what fits of p to the input buffer. Called with mu held.
func (d *Device) keep(p []byte) int {
	if d.inEnd+len(p) > InputBufferSize && d.inStart > 0 {
		d.inEnd = copy(d.in[:], d.in[d.inStart:d.inEnd])
		d.inStart = 0
	}
	n := copy(d.in[d.inEnd:], p)
	d.inEnd += n
	return n
}

// fill moves kept input, then src, into the receive buffers the guest has
// posted, each buffer as full as the input allows, at most a queue's worth
// of buffers. It returns the bytes taken from src, and whether it stopped
// at that bound with input left. Called with mu held.
func (d *Device) fill(src []byte) (taken int, more bool) {
	q := d.rxq
	if q == nil {
		return 0, false
	}
	defer q.SignalUsed()
	for budget := int(q.Size()); d.buffered() > 0 || taken < len(src); budget-- {
		if budget == 0 {
			return taken, true
		}
		c := q.Pop()
		if c == nil {
			break
		}
		if hasReadable(c) {
			d.rxMalformed.Add(1)
			q.AddUsed(c.Head(), 0) // cannot fail: c was just popped
			continue
		}
		w := c.Writer()
		n, _ := w.Write(d.in[d.inStart : d.inStart+min(d.buffered(), w.Len())])
		d.inStart += n
		if d.buffered() == 0 {
			d.inStart, d.inEnd = 0, 0
			n, _ = w.Write(src[taken : taken+min(len(src)-taken, w.Len())])
			taken += n
		}
		d.rxBytes.Add(uint64(w.Written()))
		q.AddUsed(c.Head(), w.Written())
	}
	return taken, false
}
