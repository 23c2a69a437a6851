package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gluevmm/glue/internal/unixsock"
)

// ErrNotRunning is wrapped by a Client's errors when no VM of that name is
// alive.
var ErrNotRunning = errors.New("not running")

// DefaultTimeout is how long a Client waits for a VM by default: to
// connect, to send the request and to read the reply, together. A live VM
// answers in milliseconds; one that does not within this is reported as
// not answering (*NoAnswerError) instead of hanging its client.
const DefaultTimeout = 5 * time.Second

// NoAnswerError is a Client's error when the VM took no request or gave no
// reply within the Client's Timeout: its process is stopped (SIGSTOP),
// wedged, or the host is badly overloaded.
type NoAnswerError struct {
	Name    string
	Op      Op
	Timeout time.Duration
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("VM %q did not answer %s within %v", e.Name, e.Op, e.Timeout)
}

// Client talks to one VM. It holds no connection: each call makes its own,
// which is what the protocol wants (one request per connection).
type Client struct {
	name, dir, sock string
	// Timeout bounds each call's connect, request and reply together
	// (for Console, attaching only); 0 means DefaultTimeout. A pause,
	// resume or stop that the VM is still working on when it expires
	// (it answers info meanwhile) is waited for up to DefaultOpTimeout
	// more. A ctx deadline that comes first still applies.
	Timeout time.Duration
}

// Dial checks that a VM named name is alive in dir and returns a client for
// it. If the VM is gone, Dial removes what it left behind and returns an
// error wrapping ErrNotRunning.
func Dial(dir, name string) (*Client, error) {
	sock, lock, err := paths(dir, name)
	if err != nil {
		return nil, err
	}
	if err := checkDir(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, notRunning(name, dir)
		}
		return nil, err
	}
	alive, _, err := reap(sock, lock)
	if err != nil {
		return nil, err
	}
	if !alive {
		return nil, notRunning(name, dir)
	}
	return &Client{name: name, dir: dir, sock: sock}, nil
}

func notRunning(name, dir string) error {
	return fmt.Errorf("control: VM %q in %s: %w", name, dir, ErrNotRunning)
}

// ErrHungUp is wrapped by a Client's errors when the VM closed the
// connection before it replied, as a VM that ends does to the requests it
// has not read.
var ErrHungUp = errors.New("server closed the connection without replying")

// Name returns the VM's name.
func (c *Client) Name() string { return c.name }

// Info describes the VM.
func (c *Client) Info(ctx context.Context) (Info, error) {
	resp, err := c.do(ctx, OpInfo)
	if err != nil {
		return Info{}, err
	}
	if resp.Info == nil {
		return Info{}, c.errorf(OpInfo, "reply has no info")
	}
	return *resp.Info, nil
}

// Balloon sets the VM's balloon target to targetMiB taken from the guest,
// unless it is nil, and reports the balloon with the guest's latest
// statistics. A VM without a balloon device answers with CodeUnavailable.
func (c *Client) Balloon(ctx context.Context, targetMiB *uint64) (BalloonStatus, error) {
	resp, err := c.send(ctx, Request{Version: Version, Op: OpBalloon, TargetMiB: targetMiB})
	if err != nil {
		return BalloonStatus{}, err
	}
	if resp.Balloon == nil {
		return BalloonStatus{}, c.errorf(OpBalloon, "reply has no balloon status")
	}
	return *resp.Balloon, nil
}

// Pause stops the VM's vCPUs; pausing a paused VM succeeds.
func (c *Client) Pause(ctx context.Context) error {
	_, err := c.do(ctx, OpPause)
	return err
}

// Resume restarts a paused VM; resuming a running VM succeeds.
func (c *Client) Resume(ctx context.Context) error {
	_, err := c.do(ctx, OpResume)
	return err
}

// Stop ends the VM: a VM with ACPI gets the power button pressed and up
// to grace to power itself off (state stopping meanwhile), then is
// stopped; grace 0 stops it at once. It returns when the VM has accepted
// the request; the process exits by grace later at most, plus the time its
// vCPUs take to stop.
func (c *Client) Stop(ctx context.Context, grace time.Duration) error {
	ms := grace.Milliseconds()
	_, err := c.send(ctx, Request{Version: Version, Op: OpStop, TimeoutMS: &ms})
	return err
}

// Console attaches to the guest console. Reads return the console history,
// then live output; writes go to the guest's console input. Close
// detaches, and returns once the server has released the console (at most
// DetachTimeout), so that attaching again right after it succeeds;
// CloseWrite detaches too, but reads go on until what the server had
// queued for the client (the history, output not yet sent) is read. ctx
// and the Client's Timeout bound attaching only. Only one client may be
// attached: a second gets an *Error with CodeBusy.
func (c *Client) Console(ctx context.Context) (*ConsoleStream, error) {
	nc, br, _, err := c.roundTrip(ctx, Request{Version: Version, Op: OpConsole})
	if err != nil {
		return nil, err
	}
	return &ConsoleStream{conn: nc, br: br}, nil
}

// DetachTimeout bounds how long a console stream's Close waits for the
// server to confirm the detach.
const DetachTimeout = 2 * time.Second

// ConsoleStream is an attached console. It reads through the buffered
// reader that read the reply, so console bytes that arrived with it are
// not lost. Reads are serialized with Close's drain (readMu): a caller
// may read in one goroutine and close in another.
//
// It offers no access to its socket (no SyscallConn, no Fd): io.Copy into
// an *os.File would otherwise splice from the socket itself, skipping what
// br holds.
type ConsoleStream struct {
	conn   *unixsock.Conn
	br     *bufio.Reader
	readMu sync.Mutex
}

// Write sends p to the guest's console input.
func (s *ConsoleStream) Write(p []byte) (int, error) { return s.conn.Write(p) }

// SetDeadline, SetReadDeadline and SetWriteDeadline bound the stream's
// reads and writes as on a network connection: one still waiting at t
// fails with an error wrapping os.ErrDeadlineExceeded.
func (s *ConsoleStream) SetDeadline(t time.Time) error      { return s.conn.SetDeadline(t) }
func (s *ConsoleStream) SetReadDeadline(t time.Time) error  { return s.conn.SetReadDeadline(t) }
func (s *ConsoleStream) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

func (s *ConsoleStream) Read(p []byte) (int, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	return s.br.Read(p)
}

// CloseWrite detaches but keeps reading: the server sends what it had
// queued, then ends the stream (io.EOF).
func (s *ConsoleStream) CloseWrite() error { return s.conn.CloseWrite() }

// Close detaches: it ends the client's side, then waits for the server to
// end its own, which it does once the console is free again (output still
// arriving meanwhile is discarded).
func (s *ConsoleStream) Close() error {
	if err := s.conn.CloseWrite(); err == nil {
		s.SetReadDeadline(time.Now().Add(DetachTimeout))
		s.readMu.Lock()
		io.Copy(io.Discard, s.br)
		s.readMu.Unlock()
	}
	return s.conn.Close()
}

func (c *Client) do(ctx context.Context, op Op) (*Response, error) {
	return c.send(ctx, Request{Version: Version, Op: op})
}

func (c *Client) send(ctx context.Context, req Request) (*Response, error) {
	nc, _, resp, err := c.roundTrip(ctx, req)
	if err != nil {
		return nil, err
	}
	nc.Close()
	return resp, nil
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// lifecycleWait is how much longer than its Timeout a Client waits for a
// pause, resume or stop that the VM is still working on: the server's own
// bound on one (DefaultOpTimeout, which covers waiting behind others),
// and a moment for its reply.
const lifecycleWait = DefaultOpTimeout + time.Second

// roundTrip sends one request and reads its reply within the Client's
// Timeout. A pause, resume or stop not answered by then may be queued
// behind others (the server runs them one at a time): if the VM answers
// an info request meanwhile, it is alive and the wait goes on, up to
// lifecycleWait more; if not, it did not answer. On success the connection
// is left open, without deadlines, for a console stream.
func (c *Client) roundTrip(ctx context.Context, req Request) (*unixsock.Conn, *bufio.Reader, *Response, error) {
	op := req.Op
	timeout := c.timeout()
	noAnswer := fmt.Errorf("control: %w", &NoAnswerError{Name: c.name, Op: op, Timeout: timeout})
	// A stopped VM's socket still takes connections into its backlog, so
	// connect (which never waits on a Unix socket) proves nothing: the
	// deadline below covers the reply.
	nc, err := unixsock.Dial(c.sock)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil, nil, fmt.Errorf("control: %s: %w", op, notRunning(c.name, c.dir))
		}
		return nil, nil, nil, c.errorf(op, "%w", err)
	}
	var silent atomic.Bool // the VM answered neither this request nor a probe
	switch op {
	case OpPause, OpResume, OpStop:
		nc.SetDeadline(time.Now().Add(timeout + lifecycleWait))
		probe := time.AfterFunc(timeout, func() {
			if !c.answers(ctx, timeout) {
				silent.Store(true)
				nc.SetDeadline(time.Now())
			}
		})
		defer probe.Stop()
	default:
		nc.SetDeadline(time.Now().Add(timeout))
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	resp, err := exchange(nc, req)
	if !stop() {
		err = ctx.Err() // the deadline we set is why it failed, if it did
	}
	if err != nil {
		nc.Close()
		var e *Error
		switch {
		case errors.As(err, &e):
			return nil, nil, nil, fmt.Errorf("control: %s: %s: %w", c.name, op, e)
		case ctx.Err() == nil && (silent.Load() || isTimeout(err)):
			return nil, nil, nil, noAnswer
		}
		return nil, nil, nil, c.errorf(op, "%w", err)
	}
	nc.SetDeadline(time.Time{})
	return nc, resp.br, resp.Response, nil
}

// answers reports whether the VM replies to an info request within
// timeout; a refusal (busy) is a reply too.
func (c *Client) answers(ctx context.Context, timeout time.Duration) bool {
	probe := &Client{name: c.name, dir: c.dir, sock: c.sock, Timeout: timeout}
	_, err := probe.Info(ctx)
	var e *Error
	return err == nil || errors.As(err, &e)
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

type reply struct {
	*Response
	br *bufio.Reader
}

func exchange(nc *unixsock.Conn, req Request) (reply, error) {
	line, err := encodeLine(req)
	if err != nil {
		return reply{}, err
	}
	// A server that refuses (busy, permission_denied) answers without
	// reading, and our write may then fail: its reply is still the
	// better error, so read it before reporting the write's.
	_, werr := nc.Write(line)
	br := bufio.NewReaderSize(nc, maxResponseSize)
	resp, rerr := readResponse(br)
	switch {
	case rerr == nil:
	case werr != nil:
		return reply{}, werr
	default:
		return reply{}, rerr
	}
	if !resp.OK {
		if resp.Error == nil {
			return reply{}, &Error{Code: CodeInternal, Message: "server failed without saying why"}
		}
		return reply{}, resp.Error
	}
	return reply{Response: resp, br: br}, nil
}

func readResponse(br *bufio.Reader) (*Response, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("reply longer than %d bytes", maxResponseSize)
	case err == io.EOF && len(line) == 0:
		return nil, ErrHungUp
	case err != nil && err != io.EOF:
		return nil, err
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("malformed reply: %w", err)
	}
	if resp.Version != Version {
		return nil, fmt.Errorf("server speaks protocol version %d, this client %d", resp.Version, Version)
	}
	return &resp, nil
}

func (c *Client) errorf(op Op, format string, args ...any) error {
	return fmt.Errorf("control: %s: %s: "+format, append([]any{c.name, op}, args...)...)
}
