//go:build !glue_no_vsock && !glue_minimal

package vmm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/virtio/vsock"
)

// The host side of virtio-vsock: the listening socket, the "CONNECT P\n"
// handshake, and each connection's non-blocking Unix socket on the event
// loop. Everything here runs on the event loop, except what the device
// calls on a stream (from a vCPU's notification too), which only reads,
// writes and changes epoll interest.

const (
	// maxHandshakes bounds the host connections that have not yet sent
	// their CONNECT line; more are closed at once.
	maxHandshakes = 64
	// maxConnectLine bounds the CONNECT line ("CONNECT 4294967295\n").
	maxConnectLine = 32
	// acceptBatch bounds the connections one readiness event accepts.
	acceptBatch = 16
	// handshakeTimeout bounds each step of a host connection's
	// handshake: the wait for its CONNECT line, so that clients that
	// connect and say nothing cannot hold every handshake slot for good,
	// and then the wait for the guest to accept, so that a guest that
	// never answers does not keep the host program waiting for its OK.
	handshakeTimeout = 10 * time.Second
)

// vsockHost is the device's Backend and the listening socket's owner.
type vsockHost struct {
	loop *eventloop.Loop
	path string // the listening socket; guest port P dials path_P
	log  *slog.Logger
	dev  *vsock.Device
	lfd  int

	mu         sync.Mutex
	handshakes int
	expired    bool // a handshake has timed out: later ones log at debug level
}

// Dial connects to the host service of port: the Unix socket path_port.
func (h *vsockHost) Dial(port uint32) (vsock.HostConn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	path := h.path + "_" + strconv.FormatUint(uint64(port), 10)
	// A Unix socket connects at once or fails (EAGAIN: its backlog is
	// full); it never waits, so the device's caller does not either.
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("connect %s: %w", path, err)
	}
	s, err := h.stream(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

// stream puts fd on the event loop, with no interest until the device
// asks.
func (h *vsockHost) stream(fd int) (*hostStream, error) {
	s := &hostStream{h: h, fd: fd}
	if err := h.loop.Add(fd, 0, s.ready); err != nil {
		return nil, err
	}
	s.registered = true
	return s, nil
}

// accept takes new host connections into the handshake.
func (h *vsockHost) accept() {
	for range acceptBatch {
		fd, _, err := unix.Accept4(h.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				h.log.Warn("vsock: accept failed", "err", err)
			}
			return
		}
		h.mu.Lock()
		full := h.handshakes >= maxHandshakes
		if !full {
			h.handshakes++
		}
		h.mu.Unlock()
		if full {
			unix.Close(fd)
			continue
		}
		hs := &handshake{h: h, fd: fd}
		if err := h.loop.Add(fd, unix.EPOLLIN, func(uint32) { hs.read() }); err != nil {
			hs.end()
			unix.Close(fd)
			continue
		}
		// expire runs on the loop, as read does, so it cannot run
		// before the timer is set or at the same time as read.
		hs.timer = time.AfterFunc(handshakeTimeout, func() { h.loop.Submit(hs.expire) })
	}
}

// handshake is a host connection before its CONNECT line.
type handshake struct {
	h     *vsockHost
	fd    int
	line  []byte
	timer *time.Timer
	over  bool // connected or refused: expire has nothing to do
}

// read takes the CONNECT line a byte at a time, so that data the host
// program sent right after it stays in the socket for the guest.
func (hs *handshake) read() {
	var b [1]byte
	for len(hs.line) < maxConnectLine {
		n, err := unix.Read(hs.fd, b[:])
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if err != nil || n == 0 {
			hs.fail("closed before its CONNECT line")
			return
		}
		if b[0] == '\n' {
			hs.connect(string(hs.line))
			return
		}
		hs.line = append(hs.line, b[0])
	}
	hs.fail("CONNECT line too long")
}

func (hs *handshake) end() {
	hs.over = true
	if hs.timer != nil {
		hs.timer.Stop()
	}
	hs.h.mu.Lock()
	hs.h.handshakes--
	hs.h.mu.Unlock()
}

// expire refuses a connection that has not sent its CONNECT line in
// time.
func (hs *handshake) expire() {
	if hs.over {
		return
	}
	hs.h.logExpiry("vsock: a host connection sent no CONNECT line in time; closed")
	hs.fail("no CONNECT line within " + handshakeTimeout.String())
}

// logExpiry logs a handshake that timed out: the first as a warning,
// the rest at debug level, since whoever causes them could otherwise
// flood the log.
func (h *vsockHost) logExpiry(msg string, args ...any) {
	h.mu.Lock()
	first := !h.expired
	h.expired = true
	h.mu.Unlock()
	args = append(args, "timeout", handshakeTimeout)
	if first {
		h.log.Warn(msg+" (later handshake timeouts are logged at debug level)", args...)
		return
	}
	h.log.Debug(msg, args...)
}

func (hs *handshake) fail(why string) {
	hs.h.log.Debug("vsock: host connection refused", "why", why)
	hs.h.loop.Remove(hs.fd)
	unix.Close(hs.fd)
	hs.end()
}

// connect hands the connection to the device for the guest's port.
func (hs *handshake) connect(line string) {
	port, err := parseConnect(line)
	if err != nil {
		hs.fail(err.Error())
		return
	}
	hs.h.loop.Remove(hs.fd) // handled from now on by a hostStream
	hs.end()
	s, err := hs.h.stream(hs.fd)
	if err != nil {
		unix.Close(hs.fd)
		return
	}
	local, err := hs.h.dev.Connect(port, s)
	if err != nil {
		hs.h.log.Debug("vsock: host connection refused", "port", port, "err", err)
		s.Close()
		return
	}
	h := hs.h
	time.AfterFunc(handshakeTimeout, func() {
		h.loop.Submit(func() {
			if h.dev.Abandon(local, port) {
				h.logExpiry("vsock: the guest did not accept a host connection in time; closed", "port", port)
			}
		})
	})
}

// parseConnect reads "CONNECT <port>" (the line without its newline).
func parseConnect(line string) (uint32, error) {
	arg, ok := strings.CutPrefix(strings.TrimSuffix(line, "\r"), "CONNECT ")
	if !ok {
		return 0, fmt.Errorf("not a CONNECT line: %q", line)
	}
	port, err := strconv.ParseUint(arg, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad port in %q", line)
	}
	return uint32(port), nil
}

// hostStream is one connection's Unix socket, a vsock.HostConn. Interest
// is one-shot: ready turns off what fired, and the device asks again after
// a read or write that would block.
type hostStream struct {
	h  *vsockHost
	fd int

	mu         sync.Mutex
	events     uint32
	registered bool // on the event loop; false after a hang-up or Close
	closed     bool
}

func (s *hostStream) Read(p []byte) (int, error) {
	n, err := unix.Read(s.fd, p)
	if err != nil {
		return 0, err
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

func (s *hostStream) Write(p []byte) (int, error) {
	// The Go runtime turns SIGPIPE on a descriptor other than stdout and
	// stderr into EPIPE, which resets the connection.
	n, err := unix.Write(s.fd, p)
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (s *hostStream) CloseWrite() error { return unix.Shutdown(s.fd, unix.SHUT_WR) }

// Close leaves the event loop and closes the socket on the loop's
// goroutine: the device calls it with its lock held, possibly from a vCPU,
// while the loop may be waiting for that lock in this stream's handler,
// and Remove waits for a running handler.
func (s *hostStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	closeFD := func() {
		s.mu.Lock()
		registered := s.registered
		s.registered = false
		s.mu.Unlock()
		if registered {
			s.h.loop.Remove(s.fd)
		}
		unix.Close(s.fd)
	}
	if err := s.h.loop.Submit(closeFD); err != nil {
		closeFD() // the loop has ended: nothing runs handlers any more
	}
	return nil
}

func (s *hostStream) WantRead(on bool)  { s.want(unix.EPOLLIN, on) }
func (s *hostStream) WantWrite(on bool) { s.want(unix.EPOLLOUT, on) }

func (s *hostStream) want(bit uint32, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if !s.registered {
		// Hung up: the next read or write says how it ended.
		if on {
			s.h.loop.Submit(func() { s.h.serve(s) })
		}
		return
	}
	events := s.events &^ bit
	if on {
		events |= bit
	}
	if events != s.events {
		s.events = events
		s.h.loop.Modify(s.fd, events)
	}
}

// ready is the stream's event-loop handler.
func (s *hostStream) ready(events uint32) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if events&(unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		// Reported whatever the interest: leave the loop, or it would
		// spin until the device ends the connection.
		s.registered = false
		s.h.loop.Remove(s.fd)
	} else if s.events&events != 0 {
		s.events &^= events
		s.h.loop.Modify(s.fd, s.events)
	}
	s.mu.Unlock()
	s.h.serve(s)
}

// serve runs the device for s a queue's worth of packets at a time, other
// fds' work between.
func (h *vsockHost) serve(s *hostStream) {
	if h.dev.HostReady(s) {
		h.loop.Submit(func() { h.serve(s) })
	}
}
