package console

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// smallPipe returns a pipe whose buffer holds one page, so that a test can
// fill it.
func smallPipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	withFd(t, w, func(fd int) {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, os.Getpagesize()); err != nil {
			t.Fatal(err)
		}
	})
	return r, w
}

// withFd calls f with f's descriptor, leaving it non-blocking (f.Fd would
// make it blocking).
func withFd(t *testing.T, file *os.File, f func(fd int)) {
	t.Helper()
	rc, err := file.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(fd uintptr) { f(int(fd)) }); err != nil {
		t.Fatal(err)
	}
}

// fill writes to w until the pipe is full and returns how much it took.
func fill(t *testing.T, w *os.File) int {
	t.Helper()
	var n int
	withFd(t, w, func(fd int) {
		for {
			m, err := unix.Write(fd, make([]byte, 512))
			if err == unix.EAGAIN {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n += m
		}
	})
	return n
}

func TestAsyncWriterWritesDirectlyToAReadyPipe(t *testing.T) {
	t.Parallel()
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	w := NewAsyncWriter(pw, 1<<20)
	defer w.Close(time.Second)
	for range 100 {
		w.Write([]byte("line\n"))
	}
	if got := w.Direct(); got != 500 {
		t.Fatalf("%d of 500 bytes written on the caller's thread, want all: the pipe was ready", got)
	}
	got := make([]byte, 500)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if want := bytes.Repeat([]byte("line\n"), 100); !bytes.Equal(got, want) {
		t.Fatalf("read %q", got)
	}
}

// A full pipe is not written from the caller's thread: Write returns, and
// what does not fit the buffer is dropped, as with any slow consumer.
func TestAsyncWriterNeverBlocksOnAFullPipe(t *testing.T) {
	t.Parallel()
	_, pw := smallPipe(t)
	fill(t, pw)
	w := NewAsyncWriter(pw, 16)
	finished := make(chan struct{})
	go func() {
		for range 100 {
			w.Write([]byte("0123456789"))
		}
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatal("Write blocked on a full pipe")
	}
	if w.Direct() != 0 || w.Dropped() == 0 {
		t.Fatalf("direct %d, dropped %d: want nothing written directly and the overflow dropped", w.Direct(), w.Dropped())
	}
	pw.Close() // releases the copier
}

// gatedFile holds its first Write until released: the copier stalls in
// the middle of a chunk.
type gatedFile struct {
	*os.File
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (g *gatedFile) Write(p []byte) (int, error) {
	if g.calls.Add(1) == 1 {
		close(g.entered)
		<-g.release
	}
	return g.File.Write(p)
}

func (g *gatedFile) SyscallConn() (syscall.RawConn, error) { return g.File.SyscallConn() }

// While the copier writes a queued chunk, a new write waits its turn even
// when the pipe has become ready: output keeps its order.
func TestAsyncWriterKeepsOrderBehindTheCopier(t *testing.T) {
	t.Parallel()
	r, pw := smallPipe(t)
	filled := fill(t, pw)
	dst := &gatedFile{File: pw, entered: make(chan struct{}), release: make(chan struct{})}
	w := NewAsyncWriter(dst, 1<<20)
	w.Write([]byte("A")) // the pipe is full: queued, and the copier stalls
	<-dst.entered
	if _, err := io.ReadFull(r, make([]byte, filled)); err != nil { // now it is ready
		t.Fatal(err)
	}
	w.Write([]byte("B"))
	close(dst.release)
	got := make([]byte, 2)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != "AB" {
		t.Fatalf("read %q, want \"AB\": a direct write overtook the copier", got)
	}
	w.Close(time.Second)
}

// memoryDst is an in-memory destination that says whether it never waits.
type memoryDst struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	never bool
}

func (m *memoryDst) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.Write(p)
}

func (m *memoryDst) NeverWaits() bool { return m.never }

func (m *memoryDst) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.String()
}

// A destination that never waits is written on the caller's thread
// whatever the size, so the bytes are there when Write returns; one that
// may wait (and has no descriptor to ask) goes through the copier.
func TestAsyncWriterWritesDirectlyToADestinationThatNeverWaits(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte("x"), 4*directWriteMax)
	never := &memoryDst{never: true}
	w := NewAsyncWriter(never, 1<<20)
	w.Write([]byte("hello"))
	w.Write(big)
	if got, want := w.Direct(), uint64(5+len(big)); got != want {
		t.Errorf("%d of %d bytes written on the caller's thread", got, want)
	}
	if got := never.String(); got != "hello"+string(big) {
		t.Errorf("the destination holds %d bytes when Write has returned, want %d", len(got), 5+len(big))
	}
	w.Close(time.Second)

	may := &memoryDst{never: false}
	w = NewAsyncWriter(may, 1<<20)
	w.Write([]byte("hello"))
	w.Close(time.Second)
	if w.Direct() != 0 || may.String() != "hello" {
		t.Errorf("a destination that may wait: direct %d, got %q; want 0 and everything through the copier", w.Direct(), may.String())
	}

	w = NewAsyncWriter(io.Discard, 1<<20)
	w.Write(big)
	if w.Direct() != uint64(len(big)) {
		t.Errorf("io.Discard: %d of %d bytes written directly", w.Direct(), len(big))
	}
	w.Close(time.Second)
}

// A regular file is written directly without asking poll(2), which would
// only say it is ready; a pipe is asked before each write.
func TestAsyncWriterDoesNotPollARegularFile(t *testing.T) {
	t.Parallel()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	go io.Copy(io.Discard, r)
	for _, tc := range []struct {
		name      string
		dst       *os.File
		wantPolls int
	}{{"regular file", file, 0}, {"pipe", pw, 100}} {
		w := NewAsyncWriter(tc.dst, 1<<20)
		polls := 0
		poll := w.pollFd
		w.pollFd = func(fd uintptr) { polls++; poll(fd) }
		for range 100 {
			w.Write([]byte("line\n"))
		}
		w.Close(time.Second)
		if polls != tc.wantPolls || w.Direct() != 500 {
			t.Errorf("%s: %d polls and %d of 500 bytes written directly, want %d polls and all", tc.name, polls, w.Direct(), tc.wantPolls)
		}
	}
	if got, _ := os.ReadFile(file.Name()); string(got) != strings.Repeat("line\n", 100) {
		t.Errorf("the file holds %q", got)
	}
}
