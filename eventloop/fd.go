package eventloop

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrNotRegistered is returned by Modify and Remove for an fd that is not
// registered (never added, already removed, or removed after its handler
// panicked).
var ErrNotRegistered = errors.New("not registered")

// Add registers fd: handler is called on the loop goroutine with the ready
// events whenever fd is ready for any of events (an epoll mask such as
// unix.EPOLLIN; EPOLLERR and EPOLLHUP are always reported). The loop does
// not own fd: Remove it before closing it.
func (l *Loop) Add(fd int, events uint32, handler func(events uint32)) error {
	if handler == nil {
		return fmt.Errorf("eventloop: add fd %d: nil handler", fd)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return fmt.Errorf("eventloop: add fd %d: %w", fd, ErrClosed)
	case fd == l.wakefd:
		return fmt.Errorf("eventloop: add fd %d: it is the loop's own eventfd", fd)
	case l.regs[fd] != nil:
		return fmt.Errorf("eventloop: add fd %d: already registered", fd)
	}
	// A generation repeats only after 2^32 Adds, long after any event
	// returned for the old registration has been dispatched or dropped.
	l.gen++
	if l.gen == 0 {
		l.gen = 1
	}
	reg := &registration{fd: fd, gen: l.gen, handler: handler}
	if err := l.ctlLocked(unix.EPOLL_CTL_ADD, reg, events); err != nil {
		return fmt.Errorf("eventloop: add fd %d: %w", fd, err)
	}
	l.regs[fd] = reg
	return nil
}

// Modify replaces the events fd is watched for; the handler stays.
func (l *Loop) Modify(fd int, events uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("eventloop: modify fd %d: %w", fd, ErrClosed)
	}
	reg := l.regs[fd]
	if reg == nil {
		return fmt.Errorf("eventloop: modify fd %d: %w", fd, ErrNotRegistered)
	}
	if err := l.ctlLocked(unix.EPOLL_CTL_MOD, reg, events); err != nil {
		return fmt.Errorf("eventloop: modify fd %d: %w", fd, err)
	}
	return nil
}

// Remove unregisters fd. When it returns, fd's handler is not running and
// will never be called again — unless Remove is called from that very
// handler, which then simply runs to its end. After Close, Remove does
// nothing and returns nil: nothing is called any more.
func (l *Loop) Remove(fd int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	reg := l.regs[fd]
	if reg == nil {
		return fmt.Errorf("eventloop: remove fd %d: %w", fd, ErrNotRegistered)
	}
	delete(l.regs, fd)
	err := l.ctlLocked(unix.EPOLL_CTL_DEL, reg, 0)
	// The loop may have looked reg up just before; wait for that call to
	// end. From the loop goroutine the call in progress is the caller's own.
	if !l.onLoop() {
		for l.current == reg {
			l.cond.Wait()
		}
	}
	if err != nil {
		// The registration is gone from the loop all the same.
		return fmt.Errorf("eventloop: remove fd %d: %w", fd, err)
	}
	return nil
}

// ctlLocked applies op to reg's fd, with reg's generation in the event data.
func (l *Loop) ctlLocked(op int, reg *registration, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(reg.fd), Pad: int32(reg.gen)}
	return unix.EpollCtl(l.epfd, op, reg.fd, &ev)
}

// removePanicked drops reg after its handler panicked, unless its owner
// already removed it.
func (l *Loop) removePanicked(reg *registration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.regs[reg.fd] != reg {
		return
	}
	delete(l.regs, reg.fd)
	if err := l.ctlLocked(unix.EPOLL_CTL_DEL, reg, 0); err != nil {
		l.log.Error("eventloop: remove fd after panic", "fd", reg.fd, "err", err)
	}
}
