package console

import (
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// directWriteMax is the largest write AsyncWriter makes from the caller's
// thread: a pipe that polls writable takes this much without waiting (one
// free pipe buffer, and PIPE_BUF's atomicity), and a terminal that polls
// writable has room for a console's short writes.
const directWriteMax = 512

// NeverWaiter is implemented by a destination that knows its Write
// returns at once whatever any reader does: an in-memory buffer, or a
// console history with nowhere else to send the output. AsyncWriter
// writes to it directly whenever NeverWaits reports true.
type NeverWaiter interface {
	NeverWaits() bool
}

// AsyncWriter decouples producers (vCPUs) from a possibly slow io.Writer.
// Write never blocks on the destination. When nothing is queued, Write
// writes directly on the caller's thread, so the output leaves at once
// without waking another thread, if the destination cannot make it wait:
// io.Discard or a NeverWaiter that says so; a regular file (for writes up
// to 512 bytes), which poll(2) reports writable at all times; or another
// file descriptor (it implements syscall.Conn, as *os.File does) that
// poll(2) reports ready for writing. Otherwise Write copies into a buffer
// of at most limit bytes, which a goroutine writes out, and drops what
// does not fit.
//
// Readiness is asked with poll(2) just before the write; a second writer
// of the same pipe or terminal filling it in between could still make that
// write wait, which no single-writer destination can.
type AsyncWriter struct {
	dst        io.Writer
	limit      int
	neverWaits bool            // dst's Write returns at once: always direct
	fd         syscall.RawConn // dst's descriptor; nil (and not neverWaits): always queue
	regular    bool            // fd is a regular file: ready without asking

	mu      sync.Mutex
	buf     []byte
	copying bool // the copier is writing a chunk it took from buf
	dropped uint64
	direct  uint64
	closed  bool
	wake    chan struct{} // capacity 1: "there is data, or we are closing"; never closed
	done    chan struct{} // closed when the copier goroutine has exited

	// pollFd, polled and ready are pollWritable's closure, its poll(2)
	// argument and its result, kept here (under mu) so that asking does
	// not allocate on every write.
	pollFd func(fd uintptr)
	polled [1]unix.PollFd
	ready  bool
}

// NewAsyncWriter starts the goroutine that copies to dst. limit bounds the
// bytes held while dst is slow.
func NewAsyncWriter(dst io.Writer, limit int) *AsyncWriter {
	w := &AsyncWriter{dst: dst, limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if nw, ok := dst.(NeverWaiter); dst == io.Discard || ok && nw.NeverWaits() {
		w.neverWaits = true
	} else if sc, ok := dst.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			w.fd = rc
			w.pollFd = w.pollWritable
			rc.Control(func(fd uintptr) {
				var st unix.Stat_t
				w.regular = unix.Fstat(int(fd), &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
			})
		}
	}
	go w.copyOut()
	return w
}

// Write writes p directly or queues it. It always reports len(p) written:
// output that does not fit is dropped (see Dropped), because the guest
// cannot be made to wait.
func (w *AsyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return len(p), nil
	}
	if len(w.buf) == 0 && !w.copying && w.writable(len(p)) {
		// Under mu, so that no other producer and no queued chunk
		// overtakes it. A write error (closed pipe) is not the guest's
		// problem, as in copyOut.
		w.dst.Write(p)
		w.direct += uint64(len(p))
		w.mu.Unlock()
		return len(p), nil
	}
	n := min(len(p), w.limit-len(w.buf))
	w.buf = append(w.buf, p[:n]...)
	w.dropped += uint64(len(p) - n)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// writable says whether a write of n bytes to dst would not wait.
func (w *AsyncWriter) writable(n int) bool {
	switch {
	case w.neverWaits:
		return true
	case w.fd == nil || n > directWriteMax:
		return false
	case w.regular:
		// poll(2) would say ready: a regular file has no poll method, so
		// the kernel reports it readable and writable at all times.
		return true
	}
	w.ready = false
	if w.fd.Control(w.pollFd) != nil {
		return false
	}
	return w.ready
}

// pollWritable asks without waiting whether fd takes a write. An error
// condition counts as ready: the write then fails at once (EPIPE for a
// pipe whose reader went away) rather than waiting.
func (w *AsyncWriter) pollWritable(fd uintptr) {
	w.polled[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLOUT}
	n, err := unix.Poll(w.polled[:], 0)
	w.ready = err == nil && n == 1 && w.polled[0].Revents&(unix.POLLOUT|unix.POLLERR|unix.POLLHUP) != 0
}

// Dropped returns how many bytes were discarded because the buffer was full.
func (w *AsyncWriter) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Direct returns how many bytes Write wrote on its caller's thread rather
// than through the buffer.
func (w *AsyncWriter) Direct() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.direct
}

func (w *AsyncWriter) copyOut() {
	defer close(w.done)
	var chunk []byte
	for range w.wake {
		for {
			w.mu.Lock()
			chunk, w.buf = w.buf, chunk[:0]
			closed := w.closed
			w.copying = len(chunk) > 0
			w.mu.Unlock()
			if len(chunk) == 0 {
				if closed {
					return
				}
				break
			}
			// A write error (closed pipe) is not the guest's problem: the
			// output is discarded and the VM keeps running.
			w.dst.Write(chunk)
		}
	}
}

// Close flushes what is buffered, waiting at most timeout for a slow
// destination, and stops the copier. Writes after Close are dropped.
func (w *AsyncWriter) Close(timeout time.Duration) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	select {
	case <-w.done:
	case <-time.After(timeout):
	}
	return nil
}
