package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
)

// openConsoleFile opens --console file=PATH for the guest's output and
// proves that it takes a write: a path that opens but refuses data (a file
// in /proc, a read-only bind mount seen through an open fd) is an error at
// start rather than output silently lost. The probe byte is truncated away
// again; only regular files are probed, since writing to a device has
// effects of its own.
func openConsoleFile(path string) (*os.File, error) {
	if path == "" {
		return nil, fmt.Errorf("file= names no file")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode().IsRegular() {
		if _, err := f.Write([]byte{'\n'}); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s does not take writes: %w", path, err)
		}
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate %s: %w", path, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek %s: %w", path, err)
		}
	}
	return f, nil
}

// consoleFileWriter writes guest output to the --console file and says so
// when that fails (disk full, a device that refuses): the first failure is
// logged at once, the bytes lost are counted and reported by Close. The
// guest never sees the error; its output still reaches the history.
type consoleFileWriter struct {
	f   *os.File
	log *slog.Logger

	mu     sync.Mutex
	failed bool
	lost   uint64
}

func (w *consoleFileWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.mu.Lock()
		if !w.failed {
			w.failed = true
			w.log.Error("--console: writing the guest's output failed; output is lost until writes succeed again", "file", w.f.Name(), "err", err)
		}
		w.lost += uint64(len(p) - n)
		w.mu.Unlock()
	}
	return len(p), nil
}

// Close closes the file and reports the output that never reached it.
func (w *consoleFileWriter) Close() error {
	err := w.f.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lost > 0 {
		w.log.Error("--console: guest output not written", "file", w.f.Name(), "bytes", w.lost)
	}
	return err
}

// SyscallConn is the file's descriptor (see consoleOutput).
func (w *consoleFileWriter) SyscallConn() (syscall.RawConn, error) { return w.f.SyscallConn() }
