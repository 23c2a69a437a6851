package nested

import (
	"context"
	"sync"
	"time"
)

// A Watchdog ends an emulated machine that has wedged: no marker for its
// quiet time, or, once the machine's console reports a soft lockup, none
// for LockupQuiet (the machine sometimes recovers from a short one).
type Watchdog struct {
	mu         sync.Mutex
	lastMarker time.Time
	wedged     bool
	done       chan struct{}
}

// Watch starts a watchdog over the console file at path that calls
// cancel when the machine wedges; quiet 0 watches nothing. It runs until
// ctx ends.
func Watch(ctx context.Context, cancel context.CancelFunc, quiet time.Duration, console string) *Watchdog {
	w := &Watchdog{lastMarker: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(min(5*time.Second, quiet/4+time.Millisecond)):
			}
			w.mu.Lock()
			since := time.Since(w.lastMarker)
			wedged := quiet > 0 && (since > quiet || since > LockupQuiet && ConsoleLockedUp(console))
			w.wedged = w.wedged || wedged
			w.mu.Unlock()
			if wedged {
				cancel()
			}
		}
	}()
	return w
}

// Marker records that a marker line came.
func (w *Watchdog) Marker() {
	w.mu.Lock()
	w.lastMarker = time.Now()
	w.mu.Unlock()
}

// Wedged waits for the watchdog to stop, once its ctx has ended, and
// reports whether it ended the machine.
func (w *Watchdog) Wedged() bool {
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wedged
}
