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
