package main

import (
	"errors"
	"io"
	"sync"
	"syscall"
)

// errStdoutClosed stops a VM whose stdout reader went away (glue run |
// head -3): with nobody left to read the console, glue ends like any
// writer in a pipeline, but in order, as a stop does (status 0).
var errStdoutClosed = errors.New("stdout was closed (broken pipe)")

// stdoutWriter writes the guest's console to stdout and calls closed,
// once, when stdout's reader has gone (EPIPE). What is written after that
// is dropped; other errors are returned as they are.
type stdoutWriter struct {
	w      io.Writer
	closed func()
	once   sync.Once
}

func (s *stdoutWriter) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if errors.Is(err, syscall.EPIPE) {
		s.once.Do(s.closed)
		return len(p), nil
	}
	return n, err
}

// SyscallConn is stdout's descriptor (see consoleOutput).
func (s *stdoutWriter) SyscallConn() (syscall.RawConn, error) {
	sc, ok := s.w.(syscall.Conn)
	if !ok {
		return nil, errors.New("stdout is not a file descriptor")
	}
	return sc.SyscallConn()
}

// consoleOutput is where `glue run` sends the guest's output: the console
// history, which never waits, and out (stdout or --console FILE, nil when
// detached). It offers out's descriptor, so that vmm's guest output writes
// from the vCPU thread whenever out is ready (console.AsyncWriter) and
// hands the output to a goroutine only when out would block.
type consoleOutput struct {
	history io.Writer
	out     io.Writer
}

func (c consoleOutput) Write(p []byte) (int, error) {
	c.history.Write(p) // a ring buffer: takes everything
	if c.out != nil {
		c.out.Write(p) // errors are handled (and reported) by out itself
	}
	return len(p), nil
}

// NeverWaits reports a detached VM's output, which goes to the history
// alone: the vCPU thread writes it directly (console.NeverWaiter).
func (c consoleOutput) NeverWaits() bool { return c.out == nil }

func (c consoleOutput) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.out.(syscall.Conn)
	if !ok {
		return nil, errors.New("the console output is not a file descriptor")
	}
	return sc.SyscallConn()
}
