package eventloop_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
)

// quiet is how long the pause tests watch for calls that must not happen.
// A call that does happen fails the test; a slow machine can only make the
// test miss one, never fail wrongly.
const quiet = 50 * time.Millisecond

// counted adds an eventfd whose handler drains it and reports each call.
func counted(t *testing.T, l *eventloop.Loop) (fd int, calls <-chan struct{}) {
	t.Helper()
	fd = newEventfd(t)
	ch := make(chan struct{}, 16)
	if err := l.Add(fd, unix.EPOLLIN, func(uint32) {
		drain(fd)
		ch <- struct{}{}
	}); err != nil {
		t.Fatal(err)
	}
	return fd, ch
}

func expectNone[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s while paused", what)
	case <-time.After(quiet):
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fd, calls := counted(t, l)
	start(t, l)
	signal(t, fd, 1)
	wait(t, calls, "handler before pause")

	for range 2 { // idempotent
		if err := l.Pause(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ran := make(chan struct{}, 1)
	signal(t, fd, 1)
	l.Submit(func() { ran <- struct{}{} })
	expectNone(t, calls, "handler called")
	expectNone(t, ran, "submitted function ran")

	l.Resume()
	l.Resume()
	wait(t, calls, "handler after resume")
	wait(t, ran, "submitted function after resume")
}

func TestPauseBeforeRun(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fd, calls := counted(t, l)
	signal(t, fd, 1)
	if err := l.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	start(t, l)
	expectNone(t, calls, "handler called")
	l.Resume()
	wait(t, calls, "handler after resume")
}

// Pause waits for the handler in progress; if its context ends first it
// says so, and the pause stays requested.
func TestPauseWaitsForHandler(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fd := newEventfd(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var inHandler atomic.Bool
	l.Add(fd, unix.EPOLLIN, func(uint32) {
		inHandler.Store(true)
		defer inHandler.Store(false)
		drain(fd)
		close(entered)
		<-release
	})
	start(t, l)
	signal(t, fd, 1)
	wait(t, entered, "handler")

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := l.Pause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pause with a blocked handler = %v, want DeadlineExceeded", err)
	}
	paused := make(chan error, 1)
	go func() { paused <- l.Pause(context.Background()) }()
	close(release)
	if err := wait(t, paused, "Pause"); err != nil {
		t.Fatal(err)
	}
	if inHandler.Load() {
		t.Error("Pause returned while a handler was running")
	}
	l.Resume()
	barrier(t, l)
}

func TestPauseFromHandler(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	pauser := newEventfd(t)
	pauseErr := make(chan error, 1)
	l.Add(pauser, unix.EPOLLIN, func(uint32) {
		drain(pauser)
		pauseErr <- l.Pause(context.Background()) // must not wait for itself
	})
	fd, calls := counted(t, l)
	start(t, l)
	signal(t, pauser, 1)
	if err := wait(t, pauseErr, "Pause from handler"); err != nil {
		t.Fatal(err)
	}
	signal(t, fd, 1)
	expectNone(t, calls, "handler called")
	l.Resume()
	wait(t, calls, "handler after resume")
}

func TestCancelEndsRun(t *testing.T) {
	t.Parallel()
	for _, paused := range []bool{false, true} {
		l := newLoop(t, nil)
		r := start(t, l)
		barrier(t, l) // Run is dispatching
		if paused {
			if err := l.Pause(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		r.cancel()
		if err := r.wait(t); err != nil {
			t.Errorf("paused=%v: Run = %v, want nil", paused, err)
		}
	}
}

// Run can be started again after its context ended; what was registered
// and submitted carries over.
func TestRunAgain(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fd, calls := counted(t, l)
	r := start(t, l)
	r.cancel()
	r.wait(t)
	signal(t, fd, 1)
	ran := make(chan struct{})
	l.Submit(func() { close(ran) })
	start(t, l)
	wait(t, calls, "handler in the second run")
	wait(t, ran, "function submitted between runs")
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	start(t, l)
	barrier(t, l)
	if err := l.Run(context.Background()); err == nil {
		t.Fatal("a second concurrent Run succeeded")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	for _, fromHandler := range []bool{false, true} {
		l := newLoop(t, nil)
		fd := newEventfd(t)
		closeErr := make(chan error, 1)
		l.Add(fd, unix.EPOLLIN, func(uint32) {
			drain(fd)
			closeErr <- l.Close()
		})
		r := start(t, l)
		if fromHandler {
			signal(t, fd, 1)
		} else {
			barrier(t, l)
			closeErr <- l.Close()
		}
		if err := wait(t, closeErr, "Close"); err != nil {
			t.Fatal(err)
		}
		if err := r.wait(t); err != nil {
			t.Errorf("fromHandler=%v: Run = %v, want nil", fromHandler, err)
		}
		for name, err := range map[string]error{
			"Add":    l.Add(newEventfd(t), unix.EPOLLIN, func(uint32) {}),
			"Modify": l.Modify(fd, unix.EPOLLIN),
			"Submit": l.Submit(func() {}),
			"Run":    l.Run(context.Background()),
		} {
			if !errors.Is(err, eventloop.ErrClosed) {
				t.Errorf("fromHandler=%v: %s after Close = %v, want ErrClosed", fromHandler, name, err)
			}
		}
		if err := l.Remove(fd); err != nil {
			t.Errorf("Remove after Close = %v, want nil", err)
		}
		if err := l.Pause(context.Background()); err != nil {
			t.Errorf("Pause after Close = %v, want nil", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
	}
}
