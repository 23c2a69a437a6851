package control

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/internal/unixsock"
	"github.com/gluevmm/glue/test/hosttest"
)

func TestPeerAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		peer, server uint32
		want         bool
	}{
		{"same user", 1000, 1000, true},
		{"root client", 0, 1000, true},
		{"other user", 1001, 1000, false},
		{"root server, root client", 0, 0, true},
		{"root server, user client", 1000, 0, false},
		{"nobody", 65534, 1000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := peerAllowed(tc.peer, tc.server); got != tc.want {
				t.Fatalf("peerAllowed(%d, %d) = %v", tc.peer, tc.server, got)
			}
		})
	}
}

// TestPeerFromAnotherUserRefused hands the server one end of a socket pair
// created by a thread running as nobody: SO_PEERCRED then reports uid 65534.
func TestPeerFromAnotherUserRefused(t *testing.T) {
	t.Parallel()
	hosttest.Root(t, "creates a socket as another user")
	s, _ := startServer(t, "guarded", newFake(), nil)

	type pair struct {
		fds [2]int
		err error
	}
	made := make(chan pair, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine and takes
		// its changed credentials with it. A raw setresuid changes only
		// this thread (syscall.Setresuid would change them all).
		runtime.LockOSThread()
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 65534, 65534, 65534); e != 0 {
			made <- pair{err: e}
			return
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		made <- pair{fds, err}
	}()
	p := <-made
	if p.err != nil {
		t.Fatal(p.err)
	}
	serverEnd := fileConn(t, p.fds[0])
	clientEnd := fileConn(t, p.fds[1])
	defer clientEnd.Close()

	if cred, err := peerCred(serverEnd); err != nil || cred.Uid != 65534 {
		t.Fatalf("peer credentials %+v, %v; want uid 65534", cred, err)
	}
	s.admit(serverEnd, newFake())
	clientEnd.SetDeadline(time.Now().Add(10 * time.Second))
	r, err := readResponse(newReader(clientEnd))
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.Error == nil || r.Error.Code != CodePermissionDenied {
		t.Fatalf("reply %+v, want permission_denied", r)
	}
	if _, err := clientEnd.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection left open after the refusal")
	}
}

func fileConn(t *testing.T, fd int) *unixsock.Conn {
	t.Helper()
	c, err := unixsock.NewConn(fd, "socketpair")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
