package virtio

import "sync/atomic"

// KickRounds bounds the batches one notification written to a transport's
// registers processes on the vCPU that wrote it. A guest can keep a queue
// busy forever (another vCPU feeding it, or buffers that overlap its own
// available ring), and a vCPU that never returns from its exit could never
// be paused or stopped.
const KickRounds = 16

// Kicks is the transport-neutral half of bounded notifications: it runs a
// queue's work for at most KickRounds batches and remembers the queues
// whose work was left for later. What makes the driver come back for it
// (an unrequested used-buffer interrupt, a register the driver's handler
// writes or reads) is the transport's. Safe for concurrent use.
type Kicks struct {
	notify   func(queue int) (more bool)
	deferred []atomic.Bool
	any      atomic.Bool
}

// NewKicks returns the state of n queues; notify processes one batch of a
// queue and reports whether work remains (a transport's NotifyQueue).
func NewKicks(n int, notify func(queue int) (more bool)) *Kicks {
	return &Kicks{notify: notify, deferred: make([]atomic.Bool, n)}
}

// Run processes queue's work for at most KickRounds batches and reports
// whether work remains.
func (k *Kicks) Run(queue int) (left bool) {
	for range KickRounds {
		if !k.notify(queue) {
			return false
		}
	}
	return true
}

// Defer marks queue as having work left for Resume.
func (k *Kicks) Defer(queue int) {
	if queue >= 0 && queue < len(k.deferred) {
		k.deferred[queue].Store(true)
		k.any.Store(true)
	}
}

// Forget drops queue's mark: the caller is about to run it anyway.
func (k *Kicks) Forget(queue int) {
	if queue >= 0 && queue < len(k.deferred) {
		k.deferred[queue].Store(false)
	}
}

// Resume calls kick for every queue marked deferred, clearing its mark
// first (kick may defer it again).
func (k *Kicks) Resume(kick func(queue int)) {
	if !k.any.Swap(false) {
		return
	}
	for i := range k.deferred {
		if k.deferred[i].Swap(false) {
			kick(i)
		}
	}
}

// Clear drops every mark, as a device reset does.
func (k *Kicks) Clear() {
	for i := range k.deferred {
		k.deferred[i].Store(false)
	}
}
