package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestVsock64's sizes: 16 MiB each way over 64 connections. Connection 0
// is the slow peer and carries more than every buffer on its path can
// hold (glue's 64 KiB per connection, the guest's 16 KiB ring, a Unix
// socket's few hundred KiB each side), so that its sender really has to
// stop while its reader does not read; the other 63 share the rest.
const (
	vsockConns     = 64 // the figure, and the own guest's MAXC
	vsockTotal     = 16 << 20
	vsockSlowBytes = vsockTotal - (vsockConns-1)*vsockFastBytes
	vsockFastBytes = 224 << 10
	// vsockStall bounds the wait for the 63 while connection 0 does not
	// read: far beyond what they need, so only a stall reaches it.
	vsockStall = 3 * time.Minute
)

// vsockBytes is what connection idx carries each way.
func vsockBytes(idx int) int {
	if idx == 0 {
		return vsockSlowBytes
	}
	return vsockFastBytes
}

// vsockPattern is the guest's pattern() (guest/src/vsock.c): byte off of
// its send connection idx.
func vsockPattern(idx int, off uint64) byte {
	return byte(off ^ off>>8 ^ off>>16 ^ uint64(idx*37+1))
}

// The own guest and 64 host programs at once, 16 MiB each way, every byte
// checked: the guest opens 64 connections to a host listener and sends
// its pattern on each; then 64 host programs connect to the guest's echo
// port and stream their own random data while reading the echo. In each
// direction connection 0 reads nothing until the other 63 have finished,
// so a slow peer that held up the others would hang them: that shows as
// a failure after vsockStall, not as a timing. Towards the guest,
// connection 0's writer must also have stopped before the others start:
// glue buffering without bound would let it finish.
func TestVsock64(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"pci", "mmio"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			requireKVM(t)
			sock := filepath.Join(t.TempDir(), "v.sock")
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock + "_6000", Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			start := time.Now()
			recv := make(chan error, 1)
			go func() { recv <- receivePatterns(ln) }()
			s := startGlue(t, "run", "-m", "64", "--transport", transport, "--vsock", "cid=9,socket="+sock, "-p",
				fmt.Sprintf("glue.test=vsock glue.vsock.send=6000 glue.vsock.sconns=%d glue.vsock.bytes=%d glue.vsock.bytes0=%d glue.vsock.listen=52 glue.vsock.conns=%d glue.vsock.timeout=60",
					vsockConns, vsockFastBytes, vsockSlowBytes, vsockConns))
			select {
			case err := <-recv:
				if err != nil {
					t.Fatalf("guest to host: %v", err)
				}
			case <-s.done:
				t.Fatalf("glue ended before the guest's connections were checked:\n%s", s.output())
			}
			t.Logf("guest to host: %d connections, %d MiB, checked in %v", vsockConns, vsockTotal>>20, time.Since(start).Round(time.Millisecond))
			s.waitFor("GLUE-READY vsock", time.Minute)
			start = time.Now()
			if err := echoMany(t, sock); err != nil {
				t.Fatalf("host to guest and back: %v", err)
			}
			t.Logf("host to guest and back: %d connections, %d MiB each way, checked in %v", vsockConns, vsockTotal>>20, time.Since(start).Round(time.Millisecond))
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("exit %d", code)
			}
			m := markers(t, s.output())["vsock"]
			for k, want := range map[string]string{"conns": strconv.Itoa(vsockConns), "sent": strconv.Itoa(vsockTotal),
				"echoed": strconv.Itoa(2 * vsockTotal), "transport": transport} {
				if got := field(m, k); got != want {
					t.Errorf("GLUE-OK vsock %s=%s, want %s (%s)", k, got, want, m)
				}
			}
		})
	}
}

// fastPeers tracks connections 1..63 of one direction, which the slow
// connection 0 waits for.
type fastPeers struct {
	mu       sync.Mutex
	finished [vsockConns]bool
	left     int
	all      chan struct{} // closed when every one has finished
}

func newFastPeers() *fastPeers {
	return &fastPeers{left: vsockConns - 1, all: make(chan struct{})}
}

func (f *fastPeers) done(idx int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.finished[idx] {
		f.finished[idx] = true
		if f.left--; f.left == 0 {
			close(f.all)
		}
	}
}

// wait blocks connection 0 until the other 63 have finished, or fails
// naming those that did not.
func (f *fastPeers) wait() error {
	select {
	case <-f.all:
		return nil
	case <-time.After(vsockStall):
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var late []int
	for i := 1; i < vsockConns; i++ {
		if !f.finished[i] {
			late = append(late, i)
		}
	}
	return fmt.Errorf("connections %v did not finish within %v while connection 0 was not reading: one slow peer stalls the others", late, vsockStall)
}

// receivePatterns accepts the guest's 64 connections and checks each
// one's bytes against vsockPattern. A connection is told by its first
// byte (idx*37+1 differs for each idx below 256); connection 0 reads only
// that byte until the other 63 have been read to their end.
func receivePatterns(ln *net.UnixListener) error {
	ln.SetDeadline(time.Now().Add(2 * vsockStall)) // a guest that never connects fails, not hangs
	var mu sync.Mutex
	seen := map[int]bool{}
	fast := newFastPeers()
	errs := make(chan error, vsockConns)
	for range vsockConns {
		c, err := ln.AcceptUnix()
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		c.SetDeadline(time.Now().Add(2 * vsockStall))
		go func() {
			defer c.Close()
			var first [1]byte
			if _, err := io.ReadFull(c, first[:]); err != nil {
				errs <- fmt.Errorf("a connection sent nothing: %v", err)
				return
			}
			idx := -1
			for k := range vsockConns {
				if vsockPattern(k, 0) == first[0] {
					idx = k
				}
			}
			mu.Lock()
			dup := idx < 0 || seen[idx]
			seen[idx] = true
			mu.Unlock()
			if dup {
				errs <- fmt.Errorf("first byte %#x: no connection or a repeated one", first[0])
				return
			}
			if idx == 0 {
				if err := fast.wait(); err != nil {
					errs <- err
					return
				}
			}
			if err := checkPattern(c, idx); err != nil {
				errs <- err
				return
			}
			if idx != 0 {
				fast.done(idx)
			}
			errs <- nil
		}()
	}
	for range vsockConns {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// checkPattern reads connection idx after its first byte to its end and
// compares every byte with vsockPattern.
func checkPattern(c io.Reader, idx int) error {
	r := bufio.NewReaderSize(c, 64<<10)
	off := uint64(1)
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != vsockPattern(idx, off) {
				return fmt.Errorf("connection %d: byte %d is %#x, want %#x", idx, off, b, vsockPattern(idx, off))
			}
			off++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("connection %d: %v after %d bytes", idx, err, off)
		}
	}
	if off != uint64(vsockBytes(idx)) {
		return fmt.Errorf("connection %d: %d bytes, want %d", idx, off, vsockBytes(idx))
	}
	return nil
}

// echoMany connects 64 host programs to the guest's echo port at once;
// each writes its own random data while reading the echo. Program 0
// writes first and reads nothing: once its writer has stopped (more than
// the path can buffer waits behind its unread echo), the other 63 run
// and must all get their whole echo while 0 stays stalled; then 0 reads.
func echoMany(t *testing.T, sock string) error {
	type conn struct {
		c       *net.UnixConn
		r       *bufio.Reader
		payload []byte
	}
	conns := make([]conn, vsockConns)
	for i := range conns {
		c, r := dialGuest(t, sock, 52)
		c.SetDeadline(time.Now().Add(2 * vsockStall))
		conns[i] = conn{c, r, make([]byte, vsockBytes(i))}
		rand.Read(conns[i].payload)
	}
	errs := make(chan error, 2*vsockConns)
	write := func(cn conn, written *atomic.Int64) {
		var err error
		for p := cn.payload; len(p) > 0 && err == nil; {
			var n int
			n, err = cn.c.Write(p[:min(len(p), 64<<10)])
			written.Add(int64(n))
			p = p[n:]
		}
		if err == nil {
			err = cn.c.CloseWrite()
		}
		errs <- err
	}
	readEcho := func(i int, cn conn) error {
		got, err := io.ReadAll(cn.r)
		switch {
		case err != nil:
			return fmt.Errorf("connection %d: %v after %d bytes", i, err, len(got))
		case !bytes.Equal(got, cn.payload):
			return fmt.Errorf("connection %d: echo of %d bytes differs from the %d sent", i, len(got), len(cn.payload))
		}
		return nil
	}
	var slowWritten atomic.Int64
	go write(conns[0], &slowWritten)
	stalled := settled(func() string { return strconv.FormatInt(slowWritten.Load(), 10) })
	if stalled == strconv.Itoa(len(conns[0].payload)) {
		return fmt.Errorf("connection 0 wrote all %s bytes while nothing read its echo: something on the way buffered without bound", stalled)
	}
	t.Logf("connection 0 stalled after %s of %d bytes", stalled, len(conns[0].payload))
	fast := newFastPeers()
	for i, cn := range conns[1:] {
		go write(cn, new(atomic.Int64))
		go func() {
			err := readEcho(i+1, cn)
			if err == nil {
				fast.done(i + 1)
			}
			errs <- err
		}()
	}
	go func() {
		if err := fast.wait(); err != nil {
			errs <- err
			return
		}
		errs <- readEcho(0, conns[0])
	}()
	for range 2 * vsockConns {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}
