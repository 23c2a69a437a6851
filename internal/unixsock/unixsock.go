// Package unixsock is the Unix-domain stream sockets of the control plane,
// on golang.org/x/sys/unix rather than package net: net links cgo (for its
// resolver) wherever a C compiler is installed, and glue must be a static,
// confinable binary from a plain `go build`. The descriptors are
// non-blocking and wrapped in *os.File, so they wait in the Go runtime's
// poller like net's: reads, writes and accepts block only their goroutine,
// honor deadlines (os.ErrDeadlineExceeded) and end at Close.
package unixsock

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// backlog asks for the longest listen queue the kernel allows: it caps
// the value at net.core.somaxconn, as it does for package net's listeners.
const backlog = 1<<31 - 1

// Listener is a listening socket bound to a path. Close does not remove
// the path: whoever bound it decides when it goes (package control does so
// under its lock).
type Listener struct {
	f      *os.File
	path   string
	closed atomic.Bool
}

// Listen binds a stream socket to path and listens on it.
func Listen(path string) (*Listener, error) {
	fd, err := socket()
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen %s: %w", path, os.NewSyscallError("bind", err))
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen %s: %w", path, os.NewSyscallError("listen", err))
	}
	return &Listener{f: os.NewFile(uintptr(fd), path), path: path}, nil
}

// Accept waits for a connection. After Close (also one that comes while it
// waits) it returns an error wrapping os.ErrClosed.
func (l *Listener) Accept() (*Conn, error) {
	rc, err := l.f.SyscallConn()
	if err != nil {
		return nil, l.acceptErr(err)
	}
	var nfd int
	var aerr error
	err = rc.Read(func(fd uintptr) bool {
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch aerr {
		case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
			// Nothing to take (a connection that was reset before we
			// took it is nothing too): wait for the next.
			return false
		}
		return true
	})
	if err == nil {
		err = aerr
	}
	if err != nil {
		return nil, l.acceptErr(err)
	}
	return newConn(nfd, l.path), nil
}

func (l *Listener) acceptErr(err error) error {
	if l.closed.Load() {
		// The poller's "use of closed file" is not os.ErrClosed.
		err = os.ErrClosed
	}
	return fmt.Errorf("accept %s: %w", l.path, os.NewSyscallError("accept4", err))
}

// Close stops listening; an Accept waiting returns.
func (l *Listener) Close() error {
	l.closed.Store(true)
	return l.f.Close()
}

// Dial connects to the socket bound to path. A Unix socket connects at
// once or fails, so Dial never waits: a listener that is not accepting
// (a stopped process) still takes the connection into its backlog, and
// only a full backlog refuses it (EAGAIN). Errors wrap the errno
// (unix.ENOENT: nothing bound there; unix.ECONNREFUSED: nobody listens).
func Dial(path string) (*Conn, error) {
	fd, err := socket()
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", path, err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("dial %s: %w", path, os.NewSyscallError("connect", err))
	}
	return newConn(fd, path), nil
}

func socket() (int, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// Conn is a connected stream socket. Read returns io.EOF once the peer has
// ended its side and everything it sent is read. It is safe for one reader
// and one writer at a time, with Close and the deadline setters from any
// goroutine.
type Conn struct {
	f *os.File
}

// NewConn takes over fd, a connected Unix stream socket (one end of a
// socketpair, say), and makes it non-blocking. name labels its errors.
func NewConn(fd int, name string) (*Conn, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("setnonblock", err)
	}
	return newConn(fd, name), nil
}

// newConn wraps a non-blocking fd: os.NewFile puts exactly those in the
// runtime's poller.
func newConn(fd int, name string) *Conn {
	return &Conn{f: os.NewFile(uintptr(fd), name)}
}

func (c *Conn) Read(p []byte) (int, error)  { return c.f.Read(p) }
func (c *Conn) Write(p []byte) (int, error) { return c.f.Write(p) }

// Close closes the socket; a Read or Write waiting returns os.ErrClosed.
func (c *Conn) Close() error { return c.f.Close() }

// SetDeadline sets the read and write deadlines: a Read or Write still
// waiting at t fails with an error wrapping os.ErrDeadlineExceeded. The
// zero time clears them.
func (c *Conn) SetDeadline(t time.Time) error      { return c.f.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.f.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// CloseWrite ends this side of the stream (shutdown SHUT_WR): the peer
// reads io.EOF after what was written, and can still send.
func (c *Conn) CloseWrite() error {
	return c.control("shutdown", func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) })
}

// PeerCred returns the credentials the kernel recorded for the peer's
// process when it connected (SO_PEERCRED): the peer cannot forge them.
func (c *Conn) PeerCred() (*unix.Ucred, error) {
	var cred *unix.Ucred
	err := c.control("getsockopt SO_PEERCRED", func(fd int) error {
		var err error
		cred, err = unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		return err
	})
	return cred, err
}

// control runs fn on the descriptor, kept open meanwhile.
func (c *Conn) control(op string, fn func(fd int) error) error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("%s %s: %w", op, c.f.Name(), err)
	}
	if ferr != nil {
		return fmt.Errorf("%s %s: %w", op, c.f.Name(), ferr)
	}
	return nil
}
