package console

import (
	"io"
	"sync"
	"time"
)

// AsyncWriter decouples producers (vCPUs) from a possibly slow io.Writer.
// Write never blocks on the destination; it copies into a buffer of at most
// limit bytes and drops what does not fit.
type AsyncWriter struct {
	dst   io.Writer
	limit int

	mu      sync.Mutex
	buf     []byte
	dropped uint64
	closed  bool
	wake    chan struct{} // capacity 1: "there is data, or we are closing"; never closed
	done    chan struct{} // closed when the copier goroutine has exited
}

// NewAsyncWriter starts the goroutine that copies to dst. limit bounds the
// bytes held while dst is slow.
func NewAsyncWriter(dst io.Writer, limit int) *AsyncWriter {
	w := &AsyncWriter{dst: dst, limit: limit, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.copyOut()
	return w
}

// Write queues p. It always reports len(p) written: output that does not fit
// is dropped (see Dropped), because the guest cannot be made to wait.
func (w *AsyncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	closed := w.closed
	if !closed {
		n := min(len(p), w.limit-len(w.buf))
		w.buf = append(w.buf, p[:n]...)
		w.dropped += uint64(len(p) - n)
	}
	w.mu.Unlock()
	if closed {
		return len(p), nil
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Dropped returns how many bytes were discarded because the buffer was full.
func (w *AsyncWriter) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

func (w *AsyncWriter) copyOut() {
	defer close(w.done)
	var chunk []byte
	for range w.wake {
		for {
			w.mu.Lock()
			chunk, w.buf = w.buf, chunk[:0]
			closed := w.closed
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
