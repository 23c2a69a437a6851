package control

import (
	"context"
	"io"
	"sync"
)

// ConsolePort is a VM's guest console as the control server sees it.
type ConsolePort interface {
	// Attach connects a client. The reader yields the console history,
	// then live output, until it is closed (detach) or the console ends;
	// either way it then yields what it had queued, then io.EOF. At most
	// one client is attached at a time: Attach returns ErrConsoleBusy
	// while another is.
	Attach() (io.ReadCloser, error)
	// Input queues host bytes for the guest's console input, blocking
	// until the guest has taken them or ctx ends. Blocking here only
	// slows the client; it never stalls a vCPU.
	Input(ctx context.Context, p []byte) error
}

// ErrConsoleBusy is Attach's error while another client is attached. The
// server reports it as CodeBusy.
var ErrConsoleBusy = &Error{Code: CodeBusy, Message: "a console client is attached already"}

// NewConsolePort joins a ConsoleBuffer (guest output) and an input function
// (for glue, (*vmm.VM).ConsoleInput) into a ConsolePort. A nil input
// discards what the client types.
func NewConsolePort(out *ConsoleBuffer, input func(ctx context.Context, p []byte) error) ConsolePort {
	return &bufferPort{out: out, input: input}
}

type bufferPort struct {
	out   *ConsoleBuffer
	input func(context.Context, []byte) error
}

func (p *bufferPort) Attach() (io.ReadCloser, error) { return p.out.Attach() }

func (p *bufferPort) Input(ctx context.Context, b []byte) error {
	if p.input == nil {
		return nil
	}
	return p.input(ctx, b)
}

// ConsoleBuffer is the io.Writer the VMM tees guest console output into. It
// keeps the last n bytes as history and fans output out to at most one
// attached reader. Write never blocks and never fails: a reader that falls
// more than pending bytes behind loses the excess (counted by Dropped), so a
// stalled client can never stall the guest.
type ConsoleBuffer struct {
	mu      sync.Mutex
	ring    []byte // history; len == capacity
	total   uint64 // bytes ever written; ring holds the last min(total, len(ring))
	pending int    // an attached reader's backlog limit
	reader  *consoleReader
	dropped uint64
	closed  bool
}

// DefaultConsoleHistory is the history glue keeps for a client that
// attaches later: enough for a kernel's boot messages up to a login prompt.
const DefaultConsoleHistory = 64 << 10

// DefaultConsolePending is the backlog an attached reader may accumulate
// before output is dropped for it.
const DefaultConsolePending = 256 << 10

// NewConsoleBuffer returns a buffer keeping the last history bytes (at
// least 1) and letting an attached reader fall DefaultConsolePending bytes
// (or history, if larger) behind.
func NewConsoleBuffer(history int) *ConsoleBuffer {
	history = max(history, 1)
	return &ConsoleBuffer{ring: make([]byte, history), pending: max(history, DefaultConsolePending)}
}

// Write records p in the history and queues it for the attached reader. It
// always returns len(p), nil.
func (b *ConsoleBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.record(p)
	if r := b.reader; r != nil {
		n := min(len(p), b.pending-len(r.buf))
		r.buf = append(r.buf, p[:n]...)
		b.dropped += uint64(len(p) - n)
		r.signal()
	}
	return len(p), nil
}

func (b *ConsoleBuffer) record(p []byte) {
	size := uint64(len(b.ring))
	if uint64(len(p)) > size {
		// Only the last size bytes survive: account for the rest as if
		// they had been written and overwritten.
		b.total += uint64(len(p)) - size
		p = p[uint64(len(p))-size:]
	}
	at := int(b.total % size) // the oldest byte, and where the next goes
	n := copy(b.ring[at:], p)
	copy(b.ring, p[n:])
	b.total += uint64(len(p))
}

// History returns a copy of the retained output, oldest first.
func (b *ConsoleBuffer) History() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.history()
}

func (b *ConsoleBuffer) history() []byte {
	size := uint64(len(b.ring))
	if b.total < size {
		return append([]byte(nil), b.ring[:b.total]...)
	}
	at := int(b.total % size)
	return append(append(make([]byte, 0, size), b.ring[at:]...), b.ring[:at]...)
}

// Dropped returns how many bytes attached readers lost for being slow.
func (b *ConsoleBuffer) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// Attach returns a reader of the history followed by live output; see
// ConsolePort.Attach.
func (b *ConsoleBuffer) Attach() (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reader != nil {
		return nil, ErrConsoleBusy
	}
	r := &consoleReader{b: b, buf: b.history(), wake: make(chan struct{}, 1)}
	if b.closed {
		r.eof = true
	} else {
		b.reader = r
	}
	return r, nil
}

// Close ends the console: an attached reader gets what is queued, then
// io.EOF. Later writes still go to the history.
func (b *ConsoleBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if r := b.reader; r != nil {
		r.eof = true
		b.reader = nil
		r.signal()
	}
	return nil
}

// consoleReader is one attachment. Its fields are guarded by b.mu.
type consoleReader struct {
	b    *ConsoleBuffer
	buf  []byte
	eof  bool          // the console ended or the client detached: EOF once buf is drained
	wake chan struct{} // capacity 1: "buf grew, or eof changed"
}

func (r *consoleReader) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *consoleReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r.b.mu.Lock()
		switch {
		case len(r.buf) > 0:
			n := copy(p, r.buf)
			r.buf = r.buf[n:]
			if len(r.buf) == 0 {
				r.buf = nil // let a large backlog's array go
			}
			r.b.mu.Unlock()
			return n, nil
		case r.eof:
			r.b.mu.Unlock()
			return 0, io.EOF
		}
		r.b.mu.Unlock()
		<-r.wake
	}
}

// Close detaches: the buffer stops queueing for this reader, which then
// yields what it holds and io.EOF. Another client may attach at once.
func (r *consoleReader) Close() error {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.b.reader == r {
		r.b.reader = nil
	}
	r.eof = true
	r.signal()
	return nil
}
