package eventloop

import (
	"context"
	"fmt"
)

// Pause stops the loop between two calls and returns once it is parked: no
// handler or submitted function is running and none will run until Resume.
// Events that arrive meanwhile stay pending in the kernel.
//
// Pausing a paused, stopped or closed loop returns nil at once, and so does
// pausing a loop whose Run has not started (Run will park before its first
// call). Called from the loop goroutine, Pause cannot wait for itself: it
// records the request and returns nil, and nothing else runs after the
// current call. If ctx ends first Pause returns its error, and the pause
// stays requested: Resume cancels it.
func (l *Loop) Pause(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.paused {
		l.paused = true
		l.wakeLocked() // a loop in epoll_wait must come out to park
	}
	if l.onLoop() {
		return nil
	}
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	for l.running && !l.parked && !l.closed {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("eventloop: pause: %w", err)
		}
		l.cond.Wait()
	}
	return nil
}

// Resume lets a paused loop go on. Resuming a running loop does nothing.
func (l *Loop) Resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused {
		l.paused = false
		l.cond.Broadcast()
	}
}
