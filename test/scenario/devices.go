package scenario

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/tap"
	"github.com/gluevmm/glue/test/initramfs"
)

// rootImageMiB is the size of the ext4 image Run makes when Env has none.
const rootImageMiB = 32

// copyRootImage copies env.RootImage, or a fresh image made with
// mkfs.ext4, to a disk of its own for scenario name.
func copyRootImage(ctx context.Context, env Env, name string) (string, error) {
	disk := filepath.Join(env.WorkDir, name+".ext4")
	if env.RootImage == "" {
		return disk, initramfs.RootfsImage(ctx, disk, rootImageMiB, env.Token)
	}
	b, err := os.ReadFile(env.RootImage)
	if err != nil {
		return "", err
	}
	return disk, os.WriteFile(disk, b, 0o644)
}

// fsck runs e2fsck -n -f on image: its exit status (0: clean, -1: it did
// not run) and what it said.
func fsck(env Env, image string) (int, string) {
	e2fsck := env.Fsck
	if e2fsck == "" {
		var err error
		if e2fsck, err = exec.LookPath("e2fsck"); err != nil {
			e2fsck = "/usr/sbin/e2fsck"
		}
	}
	out, err := exec.Command(e2fsck, "-n", "-f", image).CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		return exitErr.ExitCode(), string(out)
	case err != nil:
		return -1, err.Error()
	}
	return 0, string(out)
}

// fileSHA256 is the hex SHA-256 of a file, or the error.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err.Error()
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TCPServer is the host's side of init's tcp check on the tap NetTap: it
// sends TCPMiB to the guest and receives TCPUpKiB, hashing both. Run
// serves a Net scenario's boots with one; the nested comparison starts
// one per boot of either VMM.
type TCPServer struct {
	ln    net.Listener
	conns chan net.Conn // the accepted connection, for close
	done  chan TCPResult
}

// ServeTCP creates NetTap (persistent, so that it keeps its address
// until glue attaches), gives it NetHost and listens there.
func ServeTCP() (*TCPServer, error) {
	if err := createTap(NetTap, netip.MustParsePrefix(NetHost+"/24")); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(NetHost, strconv.Itoa(TCPPort)))
	if err != nil {
		deleteTap(NetTap)
		return nil, err
	}
	t := &TCPServer{ln: ln, conns: make(chan net.Conn, 1), done: make(chan TCPResult, 1)}
	go func() { t.done <- transfer(ln, t.conns, TCPMiB<<20, TCPUpKiB<<10) }()
	return t, nil
}

// Close ends the server, and a transfer the guest left unfinished, and
// returns what it did.
func (t *TCPServer) Close() TCPResult {
	t.ln.Close()
	res := t.closeConn()
	if err := deleteTap(NetTap); err != nil && res.Err == "" {
		res.Err = err.Error()
	}
	return res
}

// closeConn closes the accepted connection, if any, and waits for the
// transfer to end.
func (t *TCPServer) closeConn() TCPResult {
	select {
	case conn := <-t.conns:
		conn.Close()
	case res := <-t.done:
		return res
	}
	return <-t.done
}

// transfer serves one connection, which it also sends to conns: out
// bytes out, then in bytes in.
func transfer(ln net.Listener, conns chan<- net.Conn, out, in int64) TCPResult {
	var res TCPResult
	conn, err := ln.Accept()
	if err != nil {
		res.Err = fmt.Sprintf("accept: %v", err)
		return res
	}
	conns <- conn
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	sent := sha256.New()
	res.Sent, err = io.Copy(io.MultiWriter(conn, sent), io.LimitReader(&offsetStream{}, out))
	res.SentSHA = hex.EncodeToString(sent.Sum(nil))
	if err != nil {
		res.Err = fmt.Sprintf("send: %v", err)
		return res
	}
	received := sha256.New()
	res.Received, err = io.CopyN(received, conn, in)
	res.ReceivedSHA = hex.EncodeToString(received.Sum(nil))
	if err != nil {
		res.Err = fmt.Sprintf("receive: %v", err)
	}
	return res
}

// offsetStream is an endless stream in which every 8 bytes hold their
// offset, little-endian: a piece out of place changes the digest. Reads
// must be multiples of 8 bytes long (io.Copy's are).
type offsetStream struct{ off uint64 }

func (s *offsetStream) Read(p []byte) (int, error) {
	n := len(p) &^ 7
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], s.off)
		s.off += 8
	}
	return n, nil
}

// createTap creates the persistent tap name with addr, up.
func createTap(name string, addr netip.Prefix) error {
	t, err := tap.Open(name, tap.Options{})
	if err != nil {
		return fmt.Errorf("create tap %s: %w", name, err)
	}
	err = unix.IoctlSetInt(t.Fd(), unix.TUNSETPERSIST, 1)
	t.Close()
	if err != nil {
		return fmt.Errorf("tap %s: TUNSETPERSIST: %w", name, err)
	}
	if err := configureInterface(name, addr); err != nil {
		deleteTap(name)
		return fmt.Errorf("tap %s: %w", name, err)
	}
	return nil
}

// deleteTap removes a persistent tap.
func deleteTap(name string) error {
	t, err := tap.Open(name, tap.Options{})
	if err != nil {
		return fmt.Errorf("delete tap %s: %w", name, err)
	}
	defer t.Close()
	if err := unix.IoctlSetInt(t.Fd(), unix.TUNSETPERSIST, 0); err != nil {
		return fmt.Errorf("delete tap %s: TUNSETPERSIST: %w", name, err)
	}
	return nil
}

// configureInterface gives an interface its IPv4 address and netmask and
// brings it up, as ifconfig does.
func configureInterface(name string, addr netip.Prefix) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	mask, _ := netip.AddrFromSlice(net.CIDRMask(addr.Bits(), 32))
	for _, a := range []struct {
		req uint
		ip  netip.Addr
	}{{unix.SIOCSIFADDR, addr.Addr()}, {unix.SIOCSIFNETMASK, mask}} {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		if err := ifr.SetInet4Addr(a.ip.AsSlice()); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(fd, a.req, ifr); err != nil {
			return fmt.Errorf("set %s: %w", a.ip, err)
		}
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS: %w", err)
	}
	return nil
}
