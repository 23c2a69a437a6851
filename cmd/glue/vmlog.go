package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// maxVMLogSize caps a VM's log file; past it the log is rotated once, to
// FILE.1, so a VM's logs take at most twice this.
const maxVMLogSize = 1 << 20

// vmLog is a VM's log file (--log), capped at limit bytes and rotated
// once: when a write would pass the cap, the file's content replaces
// FILE.1 and the file starts over. Both files are opened at start and
// rotation only reads, writes and truncates those descriptors, so it
// works under the sandbox, which allows no path operations. A new VM of
// the same name appends to the log of the one before.
type vmLog struct {
	limit int64

	mu   sync.Mutex
	cur  *os.File // O_APPEND: writes go to its end, also after a truncate
	old  *os.File // FILE.1
	size int64
	err  error // the first failure; later writes are dropped
}

func openVMLog(path string, limit int64) (*vmLog, error) {
	cur, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	old, err := os.OpenFile(path+".1", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		cur.Close()
		return nil, err
	}
	st, err := cur.Stat()
	if err != nil {
		cur.Close()
		old.Close()
		return nil, err
	}
	return &vmLog{limit: limit, cur: cur, old: old, size: st.Size()}, nil
}

// Write appends p, rotating first if p would pass the cap. It never
// fails: a log that cannot be written must not fail the VM, and the
// first error is kept for Close.
func (l *vmLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return len(p), nil
	}
	if l.size > 0 && l.size+int64(len(p)) > l.limit {
		if err := l.rotate(); err != nil {
			l.err = fmt.Errorf("rotate %s: %w", l.cur.Name(), err)
			return len(p), nil
		}
	}
	n, err := l.cur.Write(p)
	l.size += int64(n)
	if err != nil {
		l.err = fmt.Errorf("write %s: %w", l.cur.Name(), err)
	}
	return len(p), nil
}

// becomeStderr makes the log the process's stderr (fd 2). Writes there
// bypass Write, so rotate goes by the file's own size.
func (l *vmLog) becomeStderr() error {
	if err := unix.Dup3(int(l.cur.Fd()), unix.Stderr, 0); err != nil {
		return fmt.Errorf("the VM's log as stderr: %w", err)
	}
	return nil
}

// rotate moves the current content to FILE.1 and empties the file.
func (l *vmLog) rotate() error {
	st, err := l.cur.Stat()
	if err != nil {
		return err
	}
	if err := l.old.Truncate(0); err != nil {
		return err
	}
	if _, err := io.Copy(io.NewOffsetWriter(l.old, 0), io.NewSectionReader(l.cur, 0, st.Size())); err != nil {
		return err
	}
	if err := l.cur.Truncate(0); err != nil {
		return err
	}
	l.size = 0
	return nil
}

// Close closes both files and returns the first error the log met.
func (l *vmLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	cerr := l.cur.Close()
	if err := l.old.Close(); cerr == nil {
		cerr = err
	}
	if l.err != nil {
		return l.err
	}
	return cerr
}
