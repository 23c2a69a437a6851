package control

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred returns the credentials the kernel recorded for the process at
// the other end of c when it connected (SO_PEERCRED): they cannot be forged
// by the peer.
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("control: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("control: peer credentials: %w", err)
	}
	if cerr != nil {
		return nil, fmt.Errorf("control: peer credentials: %w", cerr)
	}
	return cred, nil
}

// peerAllowed is the access rule: the user the server runs as, and root.
// The 0700 directory already keeps others out; this holds even if someone
// passes the socket or loosens the directory.
func peerAllowed(peerUID, serverUID uint32) bool {
	return peerUID == serverUID || peerUID == 0
}
