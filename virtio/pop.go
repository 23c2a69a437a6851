package virtio

import "fmt"

// Pop returns the next well-formed chain the driver made available, or nil
// when there is none, the queue is broken, or it consumed Size malformed
// chains in a row (Pending tells these apart). Malformed chains are returned
// to the driver with length 0 and counted; a ring-level inconsistency
// breaks the queue. The device must hand every chain it gets back with
// AddUsed.
//
// With VIRTIO_RING_F_EVENT_IDX, a Pop that finds the queue empty asks the
// driver to notify on its next buffer (writes avail_event) and looks once
// more, so a buffer added meanwhile is not missed.
func (q *Queue) Pop() *DescriptorChain {
	c, _ := q.pop(int(q.size))
	return c
}

// pop consumes at most limit available entries and returns the first
// well-formed chain among them, with the number consumed.
func (q *Queue) pop(limit int) (*DescriptorChain, int) {
	for n := 0; n < limit; {
		head, ok := q.nextHead()
		if !ok {
			return nil, n
		}
		n++
		c, err := q.readChain(head)
		if err != nil {
			q.reject(head, err)
			continue
		}
		q.inFlight[head] = true
		q.chains.Add(1)
		return c, n
	}
	return nil, limit
}

// reject returns a malformed chain to the driver unprocessed.
func (q *Queue) reject(head uint16, err error) {
	n := q.malformed.Add(1)
	if n == 1 {
		q.log.Warn("virtio: malformed descriptor chain returned unprocessed (further ones at debug level)", "head", head, "err", err)
	} else {
		q.log.Debug("virtio: malformed descriptor chain returned unprocessed", "head", head, "err", err)
	}
	q.putUsed(head, 0)
}

// nextHead consumes one available-ring entry and returns its head index.
func (q *Queue) nextHead() (uint16, bool) {
	if q.broken {
		return 0, false
	}
	if q.nextAvail == q.availIdx {
		if !q.refreshAvail() {
			return 0, false
		}
		if q.nextAvail == q.availIdx {
			if !q.eventIdx {
				return 0, false
			}
			// Ask for a kick at the next buffer, then look again: the
			// driver may have added one before it could see the request.
			if err := q.mem.StoreU16Release(q.availEventAddr(), q.nextAvail); err != nil {
				q.breakQueue(fmt.Errorf("%w: %w", ErrRingInaccessible, err))
				return 0, false
			}
			if !q.refreshAvail() || q.nextAvail == q.availIdx {
				return 0, false
			}
		}
	}
	head, err := q.mem.ReadU16(q.availSlot(q.nextAvail))
	if err != nil {
		q.breakQueue(fmt.Errorf("%w: %w", ErrRingInaccessible, err))
		return 0, false
	}
	q.nextAvail++
	switch {
	case head >= q.size:
		q.breakQueue(fmt.Errorf("%w: head %d, size %d", ErrHeadOutOfRange, head, q.size))
		return 0, false
	case q.inFlight[head]:
		q.breakQueue(fmt.Errorf("%w: head %d", ErrHeadInFlight, head))
		return 0, false
	}
	return head, true
}

// refreshAvail reads avail.idx (once per batch, with acquire ordering so
// the ring entries it covers are visible) and checks it: the driver can be
// at most Size entries ahead of the device.
func (q *Queue) refreshAvail() bool {
	idx, err := q.mem.LoadU16Acquire(q.avail + ringIdxOffset)
	if err != nil {
		q.breakQueue(fmt.Errorf("%w: %w", ErrRingInaccessible, err))
		return false
	}
	if ahead := idx - q.nextAvail; ahead > q.size {
		q.breakQueue(fmt.Errorf("%w: avail.idx %d, device at %d, size %d", ErrAvailIndex, idx, q.nextAvail, q.size))
		return false
	}
	q.availIdx = idx
	return true
}

// Pending reports whether the driver has made buffers available that the
// device has not consumed. Always false on a broken queue.
func (q *Queue) Pending() bool {
	if q.broken {
		return false
	}
	if q.nextAvail != q.availIdx {
		return true
	}
	idx, err := q.mem.LoadU16Acquire(q.avail + ringIdxOffset)
	return err == nil && idx != q.nextAvail
}

// AddUsed returns chain head to the driver with n bytes written to its
// writable part, publishing the used element before the new used.idx
// (release ordering). It does not interrupt the driver: call SignalUsed
// after a batch.
func (q *Queue) AddUsed(head uint16, n uint32) error {
	if head >= q.size || !q.inFlight[head] {
		return fmt.Errorf("virtio: queue %d: head %d: %w", q.index, head, ErrNotInFlight)
	}
	q.inFlight[head] = false
	return q.putUsed(head, n)
}

func (q *Queue) putUsed(head uint16, n uint32) error {
	slot := q.usedSlot(q.nextUsed)
	if err := q.mem.WriteU32(slot, uint32(head)); err != nil {
		return err
	}
	if err := q.mem.WriteU32(slot+4, n); err != nil {
		return err
	}
	q.nextUsed++
	q.unsignalled++
	return q.mem.StoreU16Release(q.used+ringIdxOffset, q.nextUsed)
}

// NeedsInterrupt reports whether the driver wants an interrupt for the
// used entries added since the last call: with VIRTIO_RING_F_EVENT_IDX when
// used.idx has passed used_event (vring_need_event), otherwise unless the
// driver set VIRTQ_AVAIL_F_NO_INTERRUPT.
func (q *Queue) NeedsInterrupt() bool {
	if q.unsignalled == 0 {
		return false
	}
	old, added := q.signalledUsed, q.unsignalled
	q.signalledUsed, q.unsignalled = q.nextUsed, 0
	// The acquire loads below follow used.idx's release store; Go's
	// atomics are sequentially consistent, so the driver either sees the
	// new used.idx or we see its new event/flags.
	if !q.eventIdx {
		flags, err := q.mem.LoadU16Acquire(q.avail)
		return err != nil || flags&availFlagNoInterrupt == 0
	}
	if added >= 1<<16 {
		return true // wrapped: the window comparison below is meaningless
	}
	event, err := q.mem.LoadU16Acquire(q.usedEventAddr())
	if err != nil {
		return true
	}
	return q.nextUsed-event-1 < q.nextUsed-old
}

// SignalUsed interrupts the driver if NeedsInterrupt says it wants one.
func (q *Queue) SignalUsed() {
	if q.NeedsInterrupt() && q.irq != nil {
		q.irq.Signal(InterruptUsedBuffer, q.index)
	}
}

// Process is the usual loop of a request/response device: it pops up to
// Size chains, calls handle on each, returns each to the driver with the
// byte count handle reports written, then interrupts the driver if it
// wants. It returns whether more chains are pending: the bound keeps one
// notification's work finite while the driver keeps adding.
func (q *Queue) Process(handle func(c *DescriptorChain) (written uint32)) (more bool) {
	for budget := int(q.size); budget > 0; {
		c, n := q.pop(budget)
		budget -= n
		if c == nil {
			break
		}
		q.AddUsed(c.head, handle(c)) // cannot fail: c was just popped
	}
	q.SignalUsed()
	return q.Pending()
}
