package eventloop

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// batchSize bounds the events taken from one epoll_wait; the rest wait for
// the next one.
const batchSize = 64

// Run is the loop goroutine: it dispatches events and submitted functions
// until ctx ends or Close is called, and then returns nil (also when ctx
// ends while paused). It returns an error only if epoll_wait fails, or if
// the loop is closed or already running. Run may be called again after it
// returns; registrations and pending functions carry over.
func (l *Loop) Run(ctx context.Context) error {
	runtime.LockOSThread() // see onLoop
	defer runtime.UnlockOSThread()

	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return fmt.Errorf("eventloop: run: %w", ErrClosed)
	case l.running:
		l.mu.Unlock()
		return errors.New("eventloop: run: already running")
	}
	l.running = true
	l.tid.Store(int32(unix.Gettid()))
	epfd, wakefd := l.epfd, l.wakefd // fixed until Run returns
	l.mu.Unlock()
	defer l.exitRun()

	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast() // a parked loop
		l.wakeLocked()     // a loop in epoll_wait
		l.mu.Unlock()
	})
	defer stop()

	buf := make([]unix.EpollEvent, batchSize)
	var events []unix.EpollEvent // rest of the current batch
	var funcs []func()           // rest of the submitted functions taken
	for {
		// One step per iteration, chosen under mu after any pause: one
		// handler, one function, or one epoll_wait.
		l.mu.Lock()
		if !l.waitRunnableLocked(ctx) {
			l.mu.Unlock()
			return nil
		}
		switch {
		case len(events) > 0:
			ev := events[0]
			events = events[1:]
			if int(ev.Fd) == wakefd {
				l.drainLocked()
				l.mu.Unlock()
				continue
			}
			reg := l.regs[int(ev.Fd)]
			if reg == nil || reg.gen != uint32(ev.Pad) {
				l.mu.Unlock() // removed (or replaced) since epoll_wait returned
				continue
			}
			l.current = reg
			l.mu.Unlock()
			l.call(reg, ev.Events)
			l.mu.Lock()
			l.current = nil
			l.cond.Broadcast() // a Remove waiting for this call
			l.mu.Unlock()
		case len(funcs) > 0:
			fn := funcs[0]
			funcs[0] = nil
			funcs = funcs[1:]
			l.mu.Unlock()
			l.runFunc(fn)
		case len(l.queue) > 0:
			// Take the whole queue: functions submitted from now on wait
			// for the next round, so a function that resubmits itself
			// cannot starve the fds.
			funcs, l.queue = l.queue, nil
			l.mu.Unlock()
		default:
			l.mu.Unlock()
			n, err := unix.EpollWait(epfd, buf, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("eventloop: epoll_wait: %w", err)
			}
			events = buf[:n]
		}
	}
}

// waitRunnableLocked parks the loop while a pause is requested and reports
// whether Run should go on.
func (l *Loop) waitRunnableLocked(ctx context.Context) bool {
	for l.paused && !l.closed && ctx.Err() == nil {
		if !l.parked {
			l.parked = true
			l.cond.Broadcast() // Pause
		}
		l.cond.Wait()
	}
	l.parked = false
	return !l.closed && ctx.Err() == nil
}

func (l *Loop) exitRun() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running, l.parked, l.current = false, false, nil
	l.tid.Store(0)
	if l.closed {
		// Close was called from this goroutine and left the fds to us.
		if err := l.closeFDsLocked(); err != nil {
			l.log.Error("eventloop: release fds", "err", err)
		}
	}
	l.cond.Broadcast()
}

// call runs a handler, turning a panic into a log entry and the removal of
// its fd (see the package documentation).
func (l *Loop) call(reg *registration, events uint32) {
	defer func() {
		if p := recover(); p != nil {
			l.log.Error("eventloop: handler panicked; fd removed",
				"fd", reg.fd, "panic", p, "stack", string(debug.Stack()))
			l.removePanicked(reg)
		}
	}()
	reg.handler(events)
}

func (l *Loop) runFunc(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			l.log.Error("eventloop: submitted function panicked",
				"panic", p, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// Submit queues fn to run on the loop goroutine, after the handlers of the
// batch in progress and after every function submitted before it. It does
// not wait. fn runs only while Run does (not while paused); after Close it
// is refused with ErrClosed.
func (l *Loop) Submit(fn func()) error {
	if fn == nil {
		return errors.New("eventloop: submit: nil function")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("eventloop: submit: %w", ErrClosed)
	}
	l.queue = append(l.queue, fn)
	l.wakeLocked()
	return nil
}
