package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// The vsock check's ports; test/scenario spells the same ones. The host
// listens on vsockHostPort (glue's Unix socket PATH_5300) before the VM
// starts; init listens on vsockEchoPort for the host's CONNECT.
const (
	vsockHostPort = 5300
	vsockEchoPort = 5301
)

// vsockCheck drives Linux's vsock over glue's virtio-vsock both ways: it
// reads the guest's CID from /dev/vsock, connects to the host (CID 2) and
// sends glue.hw.vsock.up KiB of the counter stream, which the host checks
// byte for byte, then listens on vsockEchoPort, tells the host
// (GLUE-READY init vsock) and echoes the one connection it accepts until
// the host shuts its side down.
func vsockCheck(r *report, params map[string]string) {
	kib, err := strconv.Atoi(paramOr(params, "glue.hw.vsock.up", "256"))
	if err != nil || kib <= 0 {
		r.fail("vsock", "glue.hw.vsock.up=%q: want KiB", params["glue.hw.vsock.up"])
		return
	}
	var cid uint32
	// The transport registers when virtio_vsock probes glue's device.
	err = waitFor(10*time.Second, func() error {
		f, err := os.Open("/dev/vsock")
		if err != nil {
			return err
		}
		defer f.Close()
		if cid, err = unix.IoctlGetUint32(int(f.Fd()), unix.IOCTL_VM_SOCKETS_GET_LOCAL_CID); err == nil && cid == unix.VMADDR_CID_ANY {
			err = errors.New("no vsock transport: local CID is VMADDR_CID_ANY")
		}
		return err
	})
	if err != nil {
		r.fail("vsock", "local CID: %v", err)
		return
	}
	up := int64(kib) << 10
	sentSHA, err := vsockSend(up)
	if err != nil {
		r.fail("vsock", "to the host: %v", err)
		return
	}
	peer, echoed, err := vsockEcho(r)
	if err != nil {
		r.fail("vsock", "echo: %v", err)
		return
	}
	r.pass("vsock", fmt.Sprintf("cid=%d sent=%d sent-sha256=%s peer=%s echoed=%d", cid, up, sentSHA, peer, echoed))
}

// vsockSend connects to the host's vsockHostPort and sends n bytes of the
// counter stream, then closes.
func vsockSend(n int64) (string, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	f := os.NewFile(uintptr(fd), "vsock")
	defer f.Close()
	if err := unix.Connect(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_HOST, Port: vsockHostPort}); err != nil {
		return "", fmt.Errorf("connect to %d:%d: %w", unix.VMADDR_CID_HOST, vsockHostPort, err)
	}
	h := sha256.New()
	if m, err := io.Copy(io.MultiWriter(f, h), &counterStream{left: n}); err != nil {
		return "", fmt.Errorf("sent %d of %d bytes: %w", m, n, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// vsockAcceptWait bounds the wait for the host's CONNECT.
const vsockAcceptWait = time.Minute

// vsockEcho listens on vsockEchoPort, accepts one connection and writes
// back what it reads until EOF; it returns the peer ("CID:PORT") and the
// bytes echoed.
func vsockEcho(r *report) (string, int64, error) {
	ln, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "", 0, err
	}
	defer unix.Close(ln)
	if err := unix.Bind(ln, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: vsockEchoPort}); err != nil {
		return "", 0, fmt.Errorf("bind port %d: %w", vsockEchoPort, err)
	}
	if err := unix.Listen(ln, 1); err != nil {
		return "", 0, err
	}
	r.line("GLUE-READY init vsock")
	var pfd = []unix.PollFd{{Fd: int32(ln), Events: unix.POLLIN}}
	if n, err := unix.Poll(pfd, int(vsockAcceptWait.Milliseconds())); err != nil || n == 0 {
		return "", 0, fmt.Errorf("no connection on port %d within %v (poll: %v)", vsockEchoPort, vsockAcceptWait, err)
	}
	fd, sa, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
	if err != nil {
		return "", 0, fmt.Errorf("accept: %w", err)
	}
	conn := os.NewFile(uintptr(fd), "vsock-echo")
	defer conn.Close()
	peer := "?"
	if vm, ok := sa.(*unix.SockaddrVM); ok {
		peer = fmt.Sprintf("%d:%d", vm.CID, vm.Port)
	}
	n, err := io.Copy(conn, conn)
	return peer, n, err
}
