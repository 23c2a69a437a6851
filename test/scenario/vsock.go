package scenario

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The vsock check: the guest's CID, the ports (init's vsock.go spells
// the same), and how much goes each way.
const (
	VsockCID      = 3
	VsockHostPort = 5300 // the guest connects to the host's port; glue connects to PATH_5300
	VsockEchoPort = 5301 // the host's CONNECT reaches init's echo here
	VsockUpKiB    = 256  // guest to host
	VsockEchoKiB  = 256  // host to guest and back
	// vsockHostPorts is where glue numbers its host ends (docs/vsock.md).
	vsockHostPorts = 1 << 30
)

// VsockResult is the host's side of the vsock check.
type VsockResult struct {
	// FromGuest is how many bytes the guest's connection to
	// VsockHostPort brought, and Mismatch the offset of the first one
	// that is not init's counter stream (-1: none).
	FromGuest int64
	Mismatch  int64
	// HostPort is the port glue's "OK" line named for the CONNECT, and
	// Echoed how many of the VsockEchoKiB sent came back as sent.
	HostPort int
	Echoed   int64
	Err      string `json:",omitempty"`
}

// vsockHost is the host's side: a listener on PATH_VsockHostPort, which
// must exist before the guest connects, and the CONNECT to PATH once init
// asks for it.
type vsockHost struct {
	path     string
	ln       net.Listener
	received chan receivedStream
	echo     chan vsockEchoResult
}

type receivedStream struct {
	n, mismatch int64
	err         error
}

type vsockEchoResult struct {
	port   int
	echoed int64
	err    error
}

// vsockSocket is glue's socket=PATH for scenario name.
func vsockSocket(env Env, name string) string {
	return filepath.Join(env.WorkDir, name+".vsock")
}

func listenVsock(path string) (*vsockHost, error) {
	ln, err := net.Listen("unix", path+"_"+strconv.Itoa(VsockHostPort))
	if err != nil {
		return nil, fmt.Errorf("vsock: %w", err)
	}
	h := &vsockHost{path: path, ln: ln, received: make(chan receivedStream, 1), echo: make(chan vsockEchoResult, 1)}
	go func() { h.received <- receiveGuestStream(ln, VsockUpKiB<<10) }()
	return h, nil
}

// receiveGuestStream accepts one connection and compares what it brings,
// up to want bytes and one more, with init's counter stream.
func receiveGuestStream(ln net.Listener, want int64) receivedStream {
	conn, err := ln.Accept()
	if err != nil {
		return receivedStream{mismatch: -1, err: fmt.Errorf("accept: %w", err)}
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(3 * time.Minute))
	got, err := io.ReadAll(io.LimitReader(conn, want+1))
	expect, _ := io.ReadAll(&guestStream{left: want})
	return receivedStream{n: int64(len(got)), mismatch: firstDifference(got, expect), err: err}
}

// connectEcho connects to glue's socket, asks for the guest's echo port,
// sends n bytes of the host's stream and reads them back.
func (h *vsockHost) connectEcho(n int64) {
	h.echo <- func() vsockEchoResult {
		c, err := net.Dial("unix", h.path)
		if err != nil {
			return vsockEchoResult{err: err}
		}
		conn := c.(*net.UnixConn)
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(3 * time.Minute))
		fmt.Fprintf(conn, "CONNECT %d\n", VsockEchoPort)
		rd := bufio.NewReader(conn)
		line, err := rd.ReadString('\n')
		port, perr := strconv.Atoi(strings.TrimPrefix(strings.TrimSuffix(line, "\n"), "OK "))
		if err != nil || perr != nil || !strings.HasPrefix(line, "OK ") {
			return vsockEchoResult{err: fmt.Errorf("CONNECT %d: answer %q (%v)", VsockEchoPort, line, err)}
		}
		sent, _ := io.ReadAll(io.LimitReader(&offsetStream{}, n))
		written := make(chan error, 1)
		go func() {
			_, err := conn.Write(sent)
			if err == nil {
				err = conn.CloseWrite()
			}
			written <- err
		}()
		back, err := io.ReadAll(io.LimitReader(rd, n+1))
		if werr := <-written; err == nil {
			err = werr
		}
		echoed := int64(len(back))
		if d := firstDifference(back, sent); d >= 0 {
			echoed = d
		}
		return vsockEchoResult{port: port, echoed: echoed, err: err}
	}()
}

// close ends the listener and returns what both directions showed;
// echoed says whether init asked for the echo.
func (h *vsockHost) close(echoed bool) *VsockResult {
	h.ln.Close()
	in := <-h.received
	res := &VsockResult{FromGuest: in.n, Mismatch: in.mismatch}
	var errs []string
	if in.err != nil {
		errs = append(errs, "from the guest: "+in.err.Error())
	}
	if echoed {
		e := <-h.echo
		res.HostPort, res.Echoed = e.port, e.echoed
		if e.err != nil {
			errs = append(errs, "echo: "+e.err.Error())
		}
	}
	res.Err = strings.Join(errs, "; ")
	return res
}

// firstDifference is the offset of the first byte where got and want
// differ, counting a length difference; -1 when they are the same.
func firstDifference(got, want []byte) int64 {
	for i := 0; i < min(len(got), len(want)); i++ {
		if got[i] != want[i] {
			return int64(i)
		}
	}
	if len(got) != len(want) {
		return int64(min(len(got), len(want)))
	}
	return -1
}

// guestStream is init's counterStream (tcp.go): every 8 bytes hold their
// offset, little-endian, inverted; left bytes in all.
type guestStream struct{ off, left int64 }

func (s *guestStream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	var w [8]byte
	n := min(int64(len(p)), s.left)
	for i := int64(0); i < n; i++ {
		o := s.off + i
		binary.LittleEndian.PutUint64(w[:], ^uint64(o&^7))
		p[i] = w[o&7]
	}
	s.off += n
	s.left -= n
	return int(n), nil
}
