package eventloop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by operations on a closed Loop.
var ErrClosed = errors.New("eventloop: closed")

// registration is one Add: fd with its handler. gen tells registrations of
// the same fd number apart, so an event returned for an old one is dropped.
type registration struct {
	fd      int
	gen     uint32
	handler func(events uint32)
}

// Loop is an epoll loop; see the package documentation.
type Loop struct {
	log *slog.Logger
	tid atomic.Int32 // OS thread of the running Run, 0 when none

	mu      sync.Mutex
	cond    *sync.Cond // broadcast whenever a field a waiter looks at changes
	epfd    int        // -1 once closed
	wakefd  int        // eventfd, -1 once closed
	regs    map[int]*registration
	gen     uint32        // last generation handed out
	queue   []func()      // submitted, not yet taken by the loop
	woken   bool          // wakefd has been written and not yet drained
	paused  bool          // a pause is requested
	parked  bool          // the loop goroutine has acknowledged the pause
	running bool          // Run is active
	closed  bool          // Close was called
	current *registration // the handler being called, nil between calls
}

// New creates a loop. Panics in handlers are logged to log (slog.Default()
// when nil, so that they are never silent). Nothing runs until Run.
func New(log *slog.Logger) (*Loop, error) {
	if log == nil {
		log = slog.Default()
	}
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("eventloop: epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventloop: eventfd: %w", err)
	}
	// Generation 0 is never handed out, so the wake eventfd cannot be
	// mistaken for a registration.
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return nil, fmt.Errorf("eventloop: add wake eventfd: %w", err)
	}
	l := &Loop{log: log, epfd: epfd, wakefd: wakefd, regs: make(map[int]*registration)}
	l.cond = sync.NewCond(&l.mu)
	return l, nil
}

// Close stops Run (which then returns nil), waits for it to return unless
// called from the loop goroutine itself, and releases the epoll fd and the
// wake eventfd. The registered fds belong to their owners and stay open.
// Functions submitted but not yet run are dropped. Closing twice does
// nothing.
func (l *Loop) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.queue = nil
	l.cond.Broadcast()
	if l.running {
		if l.onLoop() {
			return nil // Run releases the fds on its way out
		}
		l.wakeLocked()
		for l.running {
			l.cond.Wait()
		}
	}
	return l.closeFDsLocked()
}

func (l *Loop) closeFDsLocked() error {
	if l.epfd < 0 {
		return nil
	}
	err := errors.Join(unix.Close(l.epfd), unix.Close(l.wakefd))
	l.epfd, l.wakefd = -1, -1
	if err != nil {
		return fmt.Errorf("eventloop: close: %w", err)
	}
	return nil
}

// onLoop reports whether the caller is the loop goroutine. Run locks that
// goroutine to its thread, and a locked thread runs no other goroutine, so
// the thread ID identifies it.
func (l *Loop) onLoop() bool {
	tid := l.tid.Load()
	return tid != 0 && tid == int32(unix.Gettid())
}

// wakeLocked makes a blocked epoll_wait return. One write is enough until
// the loop drains the eventfd, hence woken.
func (l *Loop) wakeLocked() {
	if l.woken || l.wakefd < 0 {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	if _, err := unix.Write(l.wakefd, one[:]); err != nil {
		// Only a counter overflow can fail this write, and the loop drains
		// the counter on every wake-up.
		l.log.Error("eventloop: wake", "err", err)
		return
	}
	l.woken = true
}

// drainLocked resets the wake eventfd. It runs under mu so that a wake
// written concurrently is either drained here or finds woken false.
func (l *Loop) drainLocked() {
	var buf [8]byte
	unix.Read(l.wakefd, buf[:]) // EAGAIN: already drained
	l.woken = false
}
