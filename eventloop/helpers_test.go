package eventloop_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
)

// hang bounds every wait in these tests; it guards against deadlocks and is
// never part of what a test asserts.
const hang = 10 * time.Second

func newLoop(t testing.TB, log *slog.Logger) *eventloop.Loop {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := eventloop.New(log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// run is a Run in progress in its own goroutine.
type run struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned
	err    error         // Run's result, set before done is closed
}

// start runs l in a goroutine; cleanup cancels the run and waits for it.
func start(t testing.TB, l *eventloop.Loop) *run {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{cancel: cancel, done: make(chan struct{})}
	go func() {
		r.err = l.Run(ctx)
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(hang):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// wait returns Run's result once it has returned.
func (r *run) wait(t *testing.T) error {
	t.Helper()
	wait(t, r.done, "Run to return")
	return r.err
}

func newEventfd(t testing.TB) int {
	t.Helper()
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func signal(t testing.TB, fd int, n uint64) {
	t.Helper()
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], n)
	if _, err := unix.Write(fd, b[:]); err != nil {
		t.Fatal(err)
	}
}

// drain reads an eventfd's counter (0 when it is not set).
func drain(fd int) uint64 {
	var b [8]byte
	if n, _ := unix.Read(fd, b[:]); n != 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(b[:])
}

// barrier returns once the loop has polled its fds after the call and
// dispatched everything that poll returned: every fd that was ready when
// barrier was called has had its handler called, or been dropped.
func barrier(t *testing.T, l *eventloop.Loop) {
	t.Helper()
	// An event on a fresh eventfd comes from an epoll_wait that started
	// after this point; epoll returns ready fds in the order they became
	// ready, so fds ready earlier come first in that batch or an earlier
	// one.
	fd := newEventfd(t)
	polled := make(chan struct{})
	if err := l.Add(fd, unix.EPOLLIN, func(uint32) {
		drain(fd)
		l.Remove(fd)
		close(polled)
	}); err != nil {
		t.Fatal(err)
	}
	signal(t, fd, 1)
	wait(t, polled, "barrier fd")
	// Submitted functions run after the rest of the batch.
	done := make(chan struct{})
	if err := l.Submit(func() { close(done) }); err != nil {
		t.Fatal(err)
	}
	wait(t, done, "barrier function")
}

func wait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(hang):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
