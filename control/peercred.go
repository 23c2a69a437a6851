package control

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/internal/unixsock"
)

// peerCred returns the credentials the kernel recorded for the process at
// the other end of c when it connected (SO_PEERCRED): they cannot be forged
// by the peer.
func peerCred(c *unixsock.Conn) (*unix.Ucred, error) {
	cred, err := c.PeerCred()
	if err != nil {
		return nil, fmt.Errorf("control: peer credentials: %w", err)
	}
	return cred, nil
}

// peerAllowed is the access rule: the user the server runs as, and root.
// The 0700 directory already keeps others out; this holds even if someone
// passes the socket or loosens the directory.
func peerAllowed(peerUID, serverUID uint32) bool {
	return peerUID == serverUID || peerUID == 0
}
