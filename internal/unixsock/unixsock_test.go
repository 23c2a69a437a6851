package unixsock_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/internal/unixsock"
)

func listen(t *testing.T) (*unixsock.Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := unixsock.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

// pair returns the two ends of one connection through a listener.
func pair(t *testing.T) (client, server *unixsock.Conn) {
	t.Helper()
	l, path := listen(t)
	client, err := unixsock.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestRoundTripAndHalfClose(t *testing.T) {
	t.Parallel()
	client, server := pair(t)
	server.SetDeadline(time.Now().Add(10 * time.Second))
	client.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if err := client.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "ping" {
		t.Fatalf("server read %q, %v; want ping, then EOF", got, err)
	}
	// The half-closed side still reads.
	if _, err := server.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	server.Close()
	if got, err := io.ReadAll(client); err != nil || string(got) != "pong" {
		t.Fatalf("client read %q, %v; want pong, then EOF", got, err)
	}
}

func TestPeerCred(t *testing.T) {
	t.Parallel()
	client, server := pair(t)
	for name, c := range map[string]*unixsock.Conn{"server": server, "client": client} {
		cred, err := c.PeerCred()
		if err != nil {
			t.Fatal(err)
		}
		if int(cred.Uid) != os.Geteuid() || int(cred.Pid) != os.Getpid() {
			t.Errorf("%s's peer %+v, want uid %d pid %d", name, cred, os.Geteuid(), os.Getpid())
		}
	}
}

func TestReadDeadline(t *testing.T) {
	t.Parallel()
	_, server := pair(t)
	server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err := server.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("read returned after %v", d)
	}
}

func TestWriteDeadline(t *testing.T) {
	t.Parallel()
	client, _ := pair(t)
	client.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	// Nobody reads: the socket buffer fills and the write waits.
	_, err := client.Write(make([]byte, 64<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline: %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestCloseEndsAccept(t *testing.T) {
	t.Parallel()
	l, _ := listen(t)
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // Accept waits in the poller
	l.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Accept after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a waiting Accept")
	}
}

func TestCloseEndsRead(t *testing.T) {
	t.Parallel()
	_, server := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := server.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	server.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end a waiting Read")
	}
}

func TestDialErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := unixsock.Dial(filepath.Join(dir, "none.sock")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("dial a missing socket: %v, want ENOENT", err)
	}
	// Bound, but its listener is gone: a stale socket file.
	stale := filepath.Join(dir, "stale.sock")
	l, err := unixsock.Listen(stale)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := unixsock.Dial(stale); !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("dial a stale socket: %v, want ECONNREFUSED", err)
	}
	if _, err := unixsock.Listen(stale); !errors.Is(err, unix.EADDRINUSE) {
		t.Errorf("listen on an existing path: %v, want EADDRINUSE", err)
	}
}

func TestNewConn(t *testing.T) {
	t.Parallel()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := unixsock.NewConn(fds[0], "a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := unixsock.NewConn(fds[1], "b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Blocking descriptors would not honor the deadline.
	a.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := a.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a socketpair end: %v, want os.ErrDeadlineExceeded", err)
	}
}
