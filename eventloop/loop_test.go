package eventloop_test

import (
	"bytes"
	"errors"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
)

func TestEventfdReadable(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	start(t, l)
	fd := newEventfd(t)
	got := make(chan uint32, 1)
	var value atomic.Uint64
	if err := l.Add(fd, unix.EPOLLIN, func(events uint32) {
		value.Store(drain(fd))
		got <- events
	}); err != nil {
		t.Fatal(err)
	}
	signal(t, fd, 5)
	if ev := wait(t, got, "handler"); ev&unix.EPOLLIN == 0 {
		t.Errorf("events = %#x, want EPOLLIN", ev)
	}
	if v := value.Load(); v != 5 {
		t.Errorf("counter = %d, want 5", v)
	}
}

func TestAddErrors(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fd := newEventfd(t)
	nop := func(uint32) {}
	if err := l.Add(fd, unix.EPOLLIN, nop); err != nil {
		t.Fatal(err)
	}
	const closed = 1 << 20 // above any fd a test process has open
	tests := []struct {
		name    string
		fd      int
		handler func(uint32)
		want    string
		is      error
	}{
		{"nil handler", newEventfd(t), nil, "nil handler", nil},
		{"twice", fd, nop, "already registered", nil},
		{"closed fd", closed, nop, "bad file descriptor", unix.EBADF},
		{"regular file", openFile(t), nop, "operation not permitted", unix.EPERM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := l.Add(tc.fd, unix.EPOLLIN, tc.handler)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "eventloop: add fd ") {
				t.Fatalf("Add = %v, want an error with %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
		})
	}
	if err := l.Remove(newEventfd(t)); !errors.Is(err, eventloop.ErrNotRegistered) {
		t.Errorf("Remove(unregistered) = %v, want ErrNotRegistered", err)
	}
	if err := l.Modify(newEventfd(t), unix.EPOLLIN); !errors.Is(err, eventloop.ErrNotRegistered) {
		t.Errorf("Modify(unregistered) = %v, want ErrNotRegistered", err)
	}
}

func openFile(t *testing.T) int {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// An eventfd that is never drained stays readable; a handler that removes
// itself must see exactly one call.
func TestRemoveFromOwnHandler(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fd := newEventfd(t)
	var calls atomic.Int32
	var removeErr error
	l.Add(fd, unix.EPOLLIN, func(uint32) {
		calls.Add(1)
		removeErr = l.Remove(fd)
	})
	signal(t, fd, 1)
	start(t, l)
	barrier(t, l)
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want 1", n)
	}
	if removeErr != nil {
		t.Errorf("Remove from handler: %v", removeErr)
	}
}

// Two fds ready in the same epoll_wait batch: whichever handler runs first
// removes the other, whose event is already in the batch and must be
// dropped.
func TestRemoveOtherInSameBatch(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fds := [2]int{newEventfd(t), newEventfd(t)}
	var calls atomic.Int32
	for i, fd := range fds {
		other := fds[1-i]
		l.Add(fd, unix.EPOLLIN, func(uint32) {
			calls.Add(1)
			l.Remove(fd)
			l.Remove(other)
		})
		signal(t, fd, 1)
	}
	start(t, l) // both are ready before the first epoll_wait
	barrier(t, l)
	if n := calls.Load(); n != 1 {
		t.Errorf("%d handler calls, want 1", n)
	}
}

// A handler removes and closes another fd whose event is already in the
// batch, and a new fd gets the same number: the stale event must not reach
// the new handler.
func TestStaleEventAfterFDReuse(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fds := [2]int{newEventfd(t), newEventfd(t)}
	var reused, stale atomic.Int32
	var once sync.Once
	for i, fd := range fds {
		other := fds[1-i]
		l.Add(fd, unix.EPOLLIN, func(uint32) {
			drain(fd)
			once.Do(func() {
				l.Remove(other)
				// A new eventfd under the old number, as if other had been
				// closed and its number handed out again.
				tmp, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
				if err != nil {
					t.Error(err)
					return
				}
				defer unix.Close(tmp)
				if err := unix.Dup3(tmp, other, unix.O_CLOEXEC); err != nil {
					t.Error(err)
					return
				}
				reused.Add(1)
				l.Add(other, unix.EPOLLIN, func(uint32) {
					if drain(other) == 0 {
						stale.Add(1) // called although nothing is readable
					}
				})
			})
		})
		signal(t, fd, 1)
	}
	start(t, l)
	barrier(t, l)
	if reused.Load() != 1 {
		t.Fatal("the fd was not replaced")
	}
	if n := stale.Load(); n != 0 {
		t.Errorf("new handler called %d times for the old fd's event", n)
	}
}

// Remove from another goroutine while the fds fire continuously: once
// Remove has returned, the handler must never run again.
func TestRemoveFromOtherGoroutine(t *testing.T) {
	t.Parallel()
	const n = 32
	l := newLoop(t, nil)
	var fds [n]int
	var removed [n]atomic.Bool
	var late, calls atomic.Int32
	seen := make(chan int, n)
	for i := range n {
		fds[i] = newEventfd(t)
		var once sync.Once
		l.Add(fds[i], unix.EPOLLIN, func(uint32) {
			calls.Add(1)
			once.Do(func() { seen <- i })
			runtime.Gosched() // widen the window between lookup and return
			if removed[i].Load() {
				late.Add(1)
			}
		})
		signal(t, fds[i], 1) // never drained: ready at every epoll_wait
	}
	start(t, l)
	for range n {
		wait(t, seen, "first call of every handler")
	}
	for i, fd := range fds {
		if err := l.Remove(fd); err != nil {
			t.Fatal(err)
		}
		removed[i].Store(true)
	}
	barrier(t, l)
	if n := late.Load(); n != 0 {
		t.Errorf("%d handler calls after Remove returned (of %d calls)", n, calls.Load())
	}
}

func TestModify(t *testing.T) {
	t.Parallel()
	l := newLoop(t, nil)
	fd := newEventfd(t)
	got := make(chan uint32, 100)
	// An eventfd is always writable: EPOLLOUT fires at once and keeps firing.
	l.Add(fd, unix.EPOLLOUT, func(ev uint32) {
		drain(fd)
		select {
		case got <- ev:
		default:
			t.Errorf("handler keeps being called: %#x", ev)
		}
		if err := l.Modify(fd, unix.EPOLLIN); err != nil {
			t.Error(err)
		}
	})
	start(t, l)
	if ev := wait(t, got, "EPOLLOUT"); ev&unix.EPOLLOUT == 0 {
		t.Fatalf("events = %#x, want EPOLLOUT", ev)
	}
	barrier(t, l)
	if len(got) != 0 {
		t.Fatalf("handler called again after Modify(EPOLLIN) with nothing to read")
	}
	signal(t, fd, 1)
	if ev := wait(t, got, "EPOLLIN"); ev&unix.EPOLLIN == 0 {
		t.Errorf("events = %#x, want EPOLLIN", ev)
	}
}

func TestManyFDs(t *testing.T) {
	t.Parallel()
	const n = 300 // several epoll_wait batches
	l := newLoop(t, nil)
	start(t, l)
	var sum atomic.Uint64
	done := make(chan struct{}, n)
	for i := range n {
		fd := newEventfd(t)
		if err := l.Add(fd, unix.EPOLLIN, func(uint32) {
			sum.Add(drain(fd))
			done <- struct{}{}
		}); err != nil {
			t.Fatal(err)
		}
		signal(t, fd, uint64(i+1))
	}
	for range n {
		wait(t, done, "every handler")
	}
	if got, want := sum.Load(), uint64(n*(n+1)/2); got != want {
		t.Errorf("sum of counters = %d, want %d", got, want)
	}
}

func TestSubmitOrder(t *testing.T) {
	t.Parallel()
	const producers, each = 4, 500
	l := newLoop(t, nil)
	var got [producers][]int // appended only on the loop goroutine
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range each {
				if err := l.Submit(func() { got[p] = append(got[p], i) }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	start(t, l) // some were queued before Run, some after
	wg.Wait()
	barrier(t, l)
	for p := range producers {
		if len(got[p]) != each {
			t.Fatalf("producer %d: %d functions ran, want %d", p, len(got[p]), each)
		}
		for i, v := range got[p] {
			if v != i {
				t.Fatalf("producer %d: function %d ran in position %d", p, v, i)
			}
		}
	}
}

func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	l := newLoop(t, slog.New(slog.NewTextHandler(&logs, nil)))
	bad, good := newEventfd(t), newEventfd(t)
	var badCalls atomic.Int32
	l.Add(bad, unix.EPOLLIN, func(uint32) {
		badCalls.Add(1)
		panic("boom")
	})
	goodCalled := make(chan struct{}, 1)
	l.Add(good, unix.EPOLLIN, func(uint32) {
		drain(good)
		goodCalled <- struct{}{}
	})
	l.Submit(func() { panic("submitted boom") })
	start(t, l)
	signal(t, bad, 1) // never drained: would fire forever if not removed
	barrier(t, l)
	signal(t, good, 1)
	wait(t, goodCalled, "the other handler")
	if n := badCalls.Load(); n != 1 {
		t.Errorf("panicking handler called %d times, want 1", n)
	}
	if err := l.Remove(bad); !errors.Is(err, eventloop.ErrNotRegistered) {
		t.Errorf("Remove(panicked fd) = %v, want ErrNotRegistered", err)
	}
	out := logs.String()
	for _, want := range []string{"level=ERROR", "handler panicked", "fd=" + itoa(bad), "boom", "loop_test.go", "submitted boom"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
