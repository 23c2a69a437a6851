package ratelimit

import (
	"sync"
	"time"
)

// Wakeup is the one timer of a device's throttled queue: Arm schedules
// wake once (a throttled device arms it instead of polling), Cancel takes
// it back, as a device reset must, so no timer outlives the queue. Safe
// for concurrent use.
type Wakeup struct {
	clock Clock
	wake  func()

	mu    sync.Mutex
	timer Timer  // nil: not armed
	gen   uint64 // which Arm a firing timer belongs to
}

// NewWakeup returns a Wakeup calling wake on clock's goroutine. wake must
// not block: the VMM's hands the queue's notification to its event loop.
func NewWakeup(clock Clock, wake func()) *Wakeup {
	return &Wakeup{clock: clock, wake: wake}
}

// Arm calls wake after d, unless it is armed already (the earlier wake
// comes first and the device asks again then).
func (w *Wakeup) Arm(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		return
	}
	w.gen++
	gen := w.gen
	w.timer = w.clock.AfterFunc(d, func() { w.fire(gen) })
}

func (w *Wakeup) fire(gen uint64) {
	w.mu.Lock()
	current := w.gen == gen && w.timer != nil
	if current {
		w.timer = nil
	}
	w.mu.Unlock()
	if current {
		w.wake()
	}
}

// Armed reports whether a wake is pending.
func (w *Wakeup) Armed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.timer != nil
}

// Cancel stops a pending wake; a timer already firing does not call wake.
func (w *Wakeup) Cancel() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}
