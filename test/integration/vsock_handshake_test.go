package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Host programs that connect to glue's vsock socket and never send their
// CONNECT line take glue's 64 handshake slots: a 65th is closed at once.
// glue closes the silent ones after its handshake deadline (10 s,
// docs/vsock.md), and then a real client reaches the guest again.
func TestVsockHandshakeDeadline(t *testing.T) {
	t.Parallel()
	s, sock, _ := vsockVM(t, "mmio")
	silent := make([]net.Conn, 64)
	for i := range silent {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		silent[i] = c
	}
	// glue accepts in order, so the 65th finds every slot taken.
	extra, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("a 65th connection while 64 handshakes wait: read gave %v, want EOF (closed at once)", err)
	}
	start := time.Now()
	for i, c := range silent {
		c.SetReadDeadline(start.Add(time.Minute))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("silent connection %d: read gave %v, want EOF: glue never closed it", i, err)
		}
	}
	t.Logf("64 silent connections closed after %v", time.Since(start).Round(100*time.Millisecond))
	c, r := dialGuest(t, sock, 52)
	if _, err := c.Write([]byte("after the deadline\n")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "after the deadline\n" {
		t.Fatalf("echo after the silent ones were closed: %q, %v", got, err)
	}
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.output())
	}
	if !strings.Contains(s.output(), "sent no CONNECT line in time") {
		t.Errorf("no warning about the silent connections in glue's output:\n%s", s.output())
	}
}

// A guest that neither accepts nor refuses a host connection: glue
// closes it without an OK line after its deadline for the guest's answer
// (10 s, docs/vsock.md), instead of leaving the host program waiting.
func TestVsockUnansweredConnect(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	sock := filepath.Join(t.TempDir(), "v.sock")
	s := startGlue(t, "run", "-m", "64", "--transport", "mmio", "--vsock", "cid=7,socket="+sock,
		"-p", "glue.test=vsock glue.vsock.listen=52 glue.vsock.deaf=1 glue.vsock.timeout=60")
	s.waitFor("GLUE-READY vsock", time.Minute)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "CONNECT 52\n")
	c.SetReadDeadline(start.Add(time.Minute))
	got, err := io.ReadAll(c)
	if err != nil || len(got) != 0 {
		t.Fatalf("host program got %q, %v; want the connection closed without an answer", got, err)
	}
	t.Logf("closed without an answer after %v", time.Since(start).Round(100*time.Millisecond))
	s.waitFor("did not accept a host connection in time", 10*time.Second)
}
