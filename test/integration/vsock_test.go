package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// vsockVM starts the own guest with a vsock device on transport: it
// connects to host port 5555 (a listener here gets its line on the
// returned channel), then listens on port 52 and echoes.
func vsockVM(t *testing.T, transport string) (s *session, sock string, line <-chan string) {
	t.Helper()
	requireKVM(t)
	sock = filepath.Join(t.TempDir(), "v.sock")
	lines := listenForLine(t, sock+"_5555")
	s = startGlue(t, "run", "-m", "64", "--transport", transport, "--vsock", "cid=7,socket="+sock,
		"-p", "glue.test=vsock glue.vsock.connect=5555 glue.vsock.listen=52 glue.vsock.timeout=60")
	s.waitFor("GLUE-READY vsock", time.Minute)
	return s, sock, lines
}

// listenForLine listens on the Unix socket path and returns a channel
// that gets what the first connection there sends before it closes (or
// what went wrong).
func listenForLine(t *testing.T, path string) <-chan string {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	lines := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			lines <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		if err != nil {
			lines <- "read: " + err.Error()
			return
		}
		lines <- string(b)
	}()
	return lines
}

// dialGuest connects a host program to the guest's port through glue's
// socket and reads glue's OK line.
func dialGuest(t *testing.T, sock string, port int) (*net.UnixConn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %d\n", port)
	r := bufio.NewReader(c)
	ok, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(ok, "OK ") {
		t.Fatalf("answer to CONNECT: %q, %v", ok, err)
	}
	if _, err := strconv.ParseUint(strings.TrimSpace(ok[3:]), 10, 32); err != nil {
		t.Fatalf("answer to CONNECT: %q: no port", ok)
	}
	return c.(*net.UnixConn), r
}

// The own guest and host programs talk over vsock both ways: the guest
// connects to a host Unix socket and sends a line; a host program connects
// to the guest's port and gets back, byte for byte, what it sent.
func TestVsock(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"pci", "mmio"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			s, sock, line := vsockVM(t, transport)
			select {
			case got := <-line:
				if got != "GLUE-VSOCK hello from cid 7\n" {
					t.Fatalf("the guest's line: %q", got)
				}
			case <-time.After(time.Minute):
				t.Fatal("no line from the guest")
			}
			c, r := dialGuest(t, sock, 52)
			payload := make([]byte, 256<<10)
			rand.Read(payload)
			go func() {
				c.Write(payload)
				c.CloseWrite()
			}()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("echo of %d bytes differs from the %d sent", len(got), len(payload))
			}
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("exit %d", code)
			}
			m := markers(t, s.output())["vsock"]
			for k, want := range map[string]string{"cid": "7", "line": "28", "conns": "1", "echoed": strconv.Itoa(len(payload) + 28), "transport": transport} {
				if got := field(m, k); got != want {
					t.Errorf("GLUE-OK vsock %s=%s, want %s (%s)", k, got, want, m)
				}
			}
		})
	}
}

// A host program that stops reading stops the guest's sender through
// credit: what it can write is bounded by the buffers on the way (glue's
// and the guest's credit, the sockets'), not by what it offers, and glue's
// memory stays flat. Reading again gets every byte back.
func TestVsockSlowReader(t *testing.T) {
	t.Parallel()
	s, sock, _ := vsockVM(t, "pci")
	c, r := dialGuest(t, sock, 52)
	pid := s.cmd.Process.Pid
	rssBefore := vmRSS(t, pid)
	payload := make([]byte, 2<<20)
	rand.Read(payload)
	written := make(chan int, 1)
	go func() {
		n := 0
		for n < len(payload) {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			m, err := c.Write(payload[n:min(len(payload), n+64<<10)])
			n += m
			if err != nil {
				break
			}
		}
		written <- n
	}()
	n := <-written // stalled: nobody reads the echo
	rssStalled := vmRSS(t, pid)
	// Glue keeps at most 64 KiB per connection, the guest 16 KiB; the
	// rest sits in the two Unix sockets' buffers (each way).
	if n >= len(payload)/2 {
		t.Fatalf("the host wrote %d of %d bytes without reading: no backpressure", n, len(payload))
	}
	if grown := int64(rssStalled) - int64(rssBefore); grown > 8<<20 {
		t.Fatalf("glue's RSS grew by %d KiB while the reader was stalled", grown>>10)
	}
	t.Logf("stalled after %d KiB written; glue's VmRSS %d -> %d KiB", n>>10, rssBefore>>10, rssStalled>>10)
	go func() {
		c.SetWriteDeadline(time.Time{})
		c.Write(payload[n:])
		c.CloseWrite()
	}()
	// Bounded, so that a stall fails here with the guest's output rather
	// than hanging the package.
	c.SetReadDeadline(time.Now().Add(hosttest.Timeout(2 * time.Minute)))
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading the echo after %d of %d bytes: %v", len(got), len(payload), err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo of %d bytes differs from the %d sent", len(got), len(payload))
	}
	if code := s.wait(2 * time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	m := markers(t, s.output())["vsock"]
	if waits, _ := strconv.Atoi(field(m, "credit_waits")); waits == 0 {
		t.Fatalf("the guest never waited for credit: %s", m)
	}
}
