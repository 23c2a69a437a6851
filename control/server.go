package control

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gluevmm/glue/internal/unixsock"
)

// Target is the VM a Server controls; *vmm.VM satisfies it.
//
// The server calls Pause, Resume and Stop one at a time (a second waits for
// the first, within the op timeout), so a Target need not make them safe
// against each other; it must still make them idempotent, since clients
// repeat them. Info and Console may be called concurrently with anything.
// Every method that takes a ctx must return when it ends; Info and Console
// must not block (Close waits for the calls in flight).
type Target interface {
	// Info describes the VM. Name and PID may be left zero: the server
	// fills them in.
	Info() Info
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	// Stop ends the VM; a VM that can power itself off (ACPI) gets up to
	// grace to do so first, and reports StateStopping meanwhile. grace 0
	// stops it at once, also while it waits.
	Stop(ctx context.Context, grace time.Duration) error
	// Console returns the guest console, or nil if the VM has none.
	Console() ConsolePort
}

// Defaults for the Server's settings.
const (
	DefaultReadTimeout = 5 * time.Second
	DefaultOpTimeout   = 30 * time.Second
	DefaultMaxConns    = 64
)

// closeGrace is how long Close lets requests in flight finish and answer
// before it cancels them: the usual case is a stop request whose reply
// races the VMM closing the server on its way out.
const closeGrace = 2 * time.Second

// Server serves one VM's control socket. Create it with Listen, set the
// exported fields if the defaults do not suit, then call Serve.
type Server struct {
	// Logger receives Info on lifecycle ops, Error on failed ones, Warn on
	// refused connections; nil discards.
	Logger *slog.Logger
	// ReadTimeout bounds the wait for a request, and the write of a reply.
	ReadTimeout time.Duration
	// OpTimeout bounds one pause, resume or stop, waiting included.
	OpTimeout time.Duration
	// MaxConns bounds the connections handled at once, console included;
	// more are answered "busy".
	MaxConns int

	name, sock, lockPath string
	ln                   *unixsock.Listener
	lock                 *os.File // holds the name while open
	euid                 uint32
	pid                  int // as clients see it

	// opCtx is the parent of every op and console session; Close cancels
	// it once the grace period is over.
	opCtx    context.Context
	opCancel context.CancelFunc
	// lifecycle serializes Pause/Resume/Stop: a token channel rather than
	// a mutex so that waiting for it honors the op's deadline.
	lifecycle chan struct{}

	mu            sync.Mutex
	conns         map[*conn]struct{}
	closed        bool
	consolesEnded bool // EndConsoles was called: no new console sessions
	serving       bool
	wg            sync.WaitGroup // connection handlers
	consoles      sync.WaitGroup // console sessions

	closeOnce sync.Once
	closeErr  error
}

type phase int

const (
	phaseReading   phase = iota // waiting for the request; Close cuts it off
	phaseWorking                // running an op; Close lets it answer
	phaseStreaming              // console session; Close ends it
)

type conn struct {
	*unixsock.Conn
	phase  phase              // guarded by Server.mu
	cancel context.CancelFunc // ends a console session; set with phaseStreaming
}

// Listen claims name in dir and binds its socket: from here on no other
// process can use the name, and a client connecting waits (in the listen
// backlog) until Serve runs. dir is created if missing (EnsureDir). An
// empty name picks a fresh one with GenerateName; Name reports it.
// If a live VM holds the name, the error is a *NameInUseError.
func Listen(dir, name string) (*Server, error) {
	return ListenAs(dir, name, os.Getpid())
}

// ListenAs is Listen for a process whose PID as clients see it is pid,
// not getpid's answer: one in a PID namespace of its own (package jail).
// The lock file and Info report pid.
func ListenAs(dir, name string, pid int) (*Server, error) {
	if err := EnsureDir(dir); err != nil {
		return nil, err
	}
	if name != "" {
		return listen(dir, name, pid)
	}
	for range 16 {
		s, err := listen(dir, GenerateName(), pid)
		if _, taken := err.(*NameInUseError); !taken {
			return s, err
		}
	}
	return nil, errors.New("control: no free generated name after 16 tries")
}

func listen(dir, name string, pid int) (*Server, error) {
	sock, lock, err := paths(dir, name)
	if err != nil {
		return nil, err
	}
	f, err := claim(sock, lock, name, pid)
	if err != nil {
		return nil, err
	}
	// Bound inside the 0700 directory, the socket is unreachable by
	// anyone else during the moment between bind and the chmod below.
	// Unlinking it is ours to do, under the lock (see lock.go): the
	// listener's Close leaves the path.
	ln, err := unixsock.Listen(sock)
	if err != nil {
		release(f, "", lock)
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		release(f, sock, lock)
		return nil, fmt.Errorf("control: chmod socket: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		name: name, sock: sock, lockPath: lock, ln: ln, lock: f,
		euid: uint32(os.Geteuid()), pid: pid,
		opCtx: ctx, opCancel: cancel,
		lifecycle: make(chan struct{}, 1),
		conns:     make(map[*conn]struct{}),
	}, nil
}

// Name returns the VM's name.
func (s *Server) Name() string { return s.name }

// SocketPath returns the path of the control socket.
func (s *Server) SocketPath() string { return s.sock }

// Serve answers requests for t until ctx ends or Close is called; both
// close the server, and Serve returns nil once the socket and the lock are
// gone (at once if Close came first). Serve may be called once.
func (s *Server) Serve(ctx context.Context, t Target) error {
	s.mu.Lock()
	if s.serving {
		s.mu.Unlock()
		return errors.New("control: Serve called twice")
	}
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.serving = true
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()

	s.log().Info("control socket ready", "path", s.sock)
	backoff := time.Duration(0)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() {
				// Return only once Close has finished, so that the
				// name is free when Serve returns.
				s.Close()
				return nil
			}
			// Out of fds or the like: wait for it to pass rather than
			// give up control of a running VM, or spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log().Warn("control: accept", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.admit(c, t)
	}
}

// admit checks a new connection's peer and the connection limit, then
// hands it to its own goroutine. Refusals are written here: a reply of a
// hundred bytes to a fresh socket does not block.
func (s *Server) admit(uc *unixsock.Conn, t Target) {
	cred, err := peerCred(uc)
	if err != nil {
		s.log().Warn("control: refused connection", "err", err)
		uc.Close()
		return
	}
	if !peerAllowed(cred.Uid, s.euid) {
		s.log().Warn("control: refused connection from another user", "uid", cred.Uid, "pid", cred.Pid)
		s.refuse(uc, errorf(CodePermissionDenied, "uid %d may not control this VM (owner uid %d)", cred.Uid, s.euid))
		return
	}
	c := &conn{Conn: uc}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		uc.Close()
		return
	case len(s.conns) >= s.maxConns():
		s.mu.Unlock()
		s.refuse(uc, errorf(CodeBusy, "%d connections are open already", s.maxConns()))
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer s.forget(c)
		s.handle(c, t)
	}()
}

func (s *Server) refuse(uc *unixsock.Conn, e *Error) {
	uc.SetWriteDeadline(time.Now().Add(time.Second))
	if b, err := encodeLine(Response{Version: Version, Error: e}); err == nil {
		uc.Write(b)
	}
	uc.Close()
}

func (s *Server) forget(c *conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// enter moves c to phase p, unless the server is closing.
func (s *Server) enter(c *conn, p phase, cancel context.CancelFunc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || p == phaseStreaming && s.consolesEnded {
		return false
	}
	if p == phaseStreaming {
		s.consoles.Add(1) // done when the session returns
	}
	c.phase, c.cancel = p, cancel
	return true
}

// EndConsoles waits, at most grace, for the console sessions to end on
// their own (once the VM's console has ended and what was left of its
// output has reached the clients), ends the ones still going, and returns
// when all have, so that their last lines are logged before whatever the
// caller logs next (a VM's end). Consoles attached after it are refused;
// the server goes on answering requests until Close.
func (s *Server) EndConsoles(grace time.Duration) {
	s.mu.Lock()
	s.consolesEnded = true
	s.mu.Unlock()
	ended := make(chan struct{})
	go func() { s.consoles.Wait(); close(ended) }()
	select {
	case <-ended:
		return
	case <-time.After(grace):
	}
	s.mu.Lock()
	for c := range s.conns {
		if c.phase == phaseStreaming {
			c.cancel()
		}
	}
	s.mu.Unlock()
	<-ended
}

func (s *Server) handle(c *conn, t Target) {
	c.SetReadDeadline(time.Now().Add(s.readTimeout()))
	br := bufio.NewReaderSize(c, MaxRequestSize)
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		s.reply(c, Response{Error: errorf(CodeTooLarge, "request longer than %d bytes", MaxRequestSize)})
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		if !s.isClosed() {
			s.reply(c, Response{Error: errorf(CodeTimeout, "no request within %s", s.readTimeout())})
		}
		return
	case err == io.EOF && len(line) > 0:
		// A last line without its newline still counts.
	case err != nil:
		return // the peer went away, or Close cut the wait short
	}
	req, perr := DecodeRequest(line)
	if perr != nil {
		s.reply(c, Response{Error: perr})
		return
	}
	if !s.enter(c, phaseWorking, nil) {
		return
	}
	c.SetReadDeadline(time.Time{})
	switch req.Op {
	case OpInfo:
		info := s.info(t)
		s.reply(c, Response{OK: true, State: info.State, Info: &info})
	case OpPause:
		s.lifecycleOp(c, t, req.Op, t.Pause)
	case OpResume:
		s.lifecycleOp(c, t, req.Op, t.Resume)
	case OpStop:
		s.lifecycleOp(c, t, req.Op, func(ctx context.Context) error { return t.Stop(ctx, req.StopTimeout()) })
	case OpConsole:
		s.console(c, br, t)
	case OpBalloon:
		s.balloon(c, t, req.TargetMiB)
	}
}

// Ballooner is a Target with a balloon device; *vmm.VM is one. Balloon
// sets the target when targetMiB is not nil and reports the balloon; it may
// wait a moment for the guest's statistics, and must return when ctx ends.
// A Target that is not a Ballooner answers OpBalloon with CodeUnavailable.
type Ballooner interface {
	Balloon(ctx context.Context, targetMiB *uint64) (BalloonStatus, error)
}

func (s *Server) balloon(c *conn, t Target, targetMiB *uint64) {
	b, ok := t.(Ballooner)
	if !ok {
		s.reply(c, Response{Error: errorf(CodeUnavailable, "this VM has no balloon device")})
		return
	}
	ctx, cancel := context.WithTimeout(s.opCtx, s.opTimeout())
	defer cancel()
	st, err := b.Balloon(ctx, targetMiB)
	if err != nil {
		e := s.toError(err)
		s.log().Error("control: balloon failed", "vm", s.name, "code", e.Code, "err", e.Message)
		s.reply(c, Response{Error: e})
		return
	}
	if targetMiB != nil {
		s.log().Info("control: balloon", "vm", s.name, "target_mib", *targetMiB)
	}
	s.reply(c, Response{OK: true, State: t.Info().State, Balloon: &st})
}

func (s *Server) info(t Target) Info {
	info := t.Info()
	if info.Name == "" {
		info.Name = s.name
	}
	if info.PID == 0 {
		info.PID = s.pid
	}
	return info
}

func (s *Server) lifecycleOp(c *conn, t Target, op Op, fn func(context.Context) error) {
	ctx, cancel := context.WithTimeout(s.opCtx, s.opTimeout())
	defer cancel()
	err := func() error {
		select {
		case s.lifecycle <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-s.lifecycle }()
		return fn(ctx)
	}()
	if err != nil {
		e := s.toError(err)
		s.log().Error("control: "+string(op)+" failed", "vm", s.name, "code", e.Code, "err", e.Message)
		s.reply(c, Response{Error: e})
		return
	}
	state := t.Info().State
	if op == OpStop {
		// An accepted stop ends the VM whatever state it still shows
		// (a VM stopped at once leaves running to Run's shutdown).
		state = StateStopping
	}
	s.log().Info("control: "+string(op), "vm", s.name, "state", state)
	s.reply(c, Response{OK: true, State: state})
}

// toError turns a Target's error into what the client sees. A Target may
// return an *Error itself to pick the code.
func (s *Server) toError(err error) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(CodeTimeout, "not done within %s", s.opTimeout())
	case s.opCtx.Err() != nil:
		return errorf(CodeUnavailable, "the control server is shutting down")
	default:
		return &Error{Code: CodeInternal, Message: err.Error()}
	}
}

// reply writes one response line, bounded by ReadTimeout so that a client
// that never reads cannot hold the handler.
func (s *Server) reply(c *conn, r Response) error {
	r.Version = Version
	b, err := encodeLine(r)
	if err != nil { // e.g. a Target's StartedAt beyond year 9999
		b, _ = encodeLine(Response{Version: Version, Error: errorf(CodeInternal, "encode reply: %v", err)})
	}
	c.SetWriteDeadline(time.Now().Add(s.readTimeout()))
	_, err = c.Write(b)
	c.SetWriteDeadline(time.Time{})
	return err
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, cuts off clients waiting to send a request and
// console sessions, lets ops in flight answer (for at most a grace period,
// then cancels them), and removes the socket and the lock file, releasing
// the name. It must not be called from a Target method (it waits for
// them). Close is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for c := range s.conns {
			switch c.phase {
			case phaseReading:
				c.Close()
			case phaseStreaming:
				c.cancel()
			}
		}
		s.mu.Unlock()
		errLn := s.ln.Close()

		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(closeGrace):
			s.opCancel()
			<-done
		}
		s.opCancel()
		s.closeErr = errors.Join(errLn, release(s.lock, s.sock, s.lockPath))
	})
	return s.closeErr
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) readTimeout() time.Duration {
	if s.ReadTimeout > 0 {
		return s.ReadTimeout
	}
	return DefaultReadTimeout
}

func (s *Server) opTimeout() time.Duration {
	if s.OpTimeout > 0 {
		return s.OpTimeout
	}
	return DefaultOpTimeout
}

func (s *Server) maxConns() int {
	if s.MaxConns > 0 {
		return s.MaxConns
	}
	return DefaultMaxConns
}
