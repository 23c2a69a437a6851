//go:build !glue_no_vsock && !glue_minimal

package vmm

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/virtio/vsock"
)

// virtio-vsock: Config.Vsock, in Firecracker's hybrid model (no vhost):
// the guest's connections to port P go to the Unix socket "<Socket>_P"; a
// host program connects to Socket and writes "CONNECT P\n" to reach the
// guest's port P (vsock_host.go). Build tag glue_no_vsock leaves this
// file, vsock_host.go and virtio/vsock out of glue;
// device_vsock_missing.go takes its place.

const vsockLinked = true

// maxPortSuffix is the longest "_P" a guest's port adds to the socket path.
const maxPortSuffix = len("_4294967295")

// checkVsock checks v's CID and that every socket path it implies fits
// in sun_path.
func checkVsock(v Vsock) error {
	if err := vsock.CheckCID(uint64(v.CID)); err != nil {
		return err
	}
	if v.Socket == "" {
		return errors.New("vsock: no socket path")
	}
	if len(v.Socket)+maxPortSuffix > len(unix.RawSockaddrUnix{}.Path)-1 {
		return fmt.Errorf("vsock: socket path %s too long for a Unix socket with a port suffix (at most %d bytes)", v.Socket, len(unix.RawSockaddrUnix{}.Path)-1-maxPortSuffix)
	}
	return nil
}

// newVsock listens on v.Socket and makes the device, its host side driven
// by loop.
func newVsock(loop *eventloop.Loop, v Vsock, log *slog.Logger) (virtioDevice, error) {
	log = log.With("vsock_cid", v.CID)
	h := &vsockHost{loop: loop, path: v.Socket, log: log, lfd: -1}
	dev, err := vsock.New(vsock.Config{CID: v.CID, Backend: h, Log: log})
	if err != nil {
		return virtioDevice{}, &ConfigError{Field: FieldVsock, Err: err}
	}
	h.dev = dev
	if err := h.listen(); err != nil {
		return virtioDevice{}, &ConfigError{Field: FieldVsock, Err: err}
	}
	return virtioDevice{dev: dev, backend: h}, nil
}

// listen makes the socket host programs connect to. A socket file left by
// a VM of the same name that is gone is replaced (the control socket's
// lock says the name is ours); any other file there is not.
func (h *vsockHost) listen() error {
	if st, err := os.Lstat(h.path); err == nil {
		if st.Mode().Type() != os.ModeSocket {
			return fmt.Errorf("vsock: %s exists and is not a socket", h.path)
		}
		os.Remove(h.path)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("vsock: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: h.path}); err != nil {
		unix.Close(fd)
		return fmt.Errorf("vsock: listen on %s: %w", h.path, err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		unix.Close(fd)
		os.Remove(h.path)
		return fmt.Errorf("vsock: listen on %s: %w", h.path, err)
	}
	if err := h.loop.Add(fd, unix.EPOLLIN, func(uint32) { h.accept() }); err != nil {
		unix.Close(fd)
		os.Remove(h.path)
		return err
	}
	h.lfd = fd
	return nil
}

// Close stops listening and removes the socket file. Connections end with
// the process (the device's Reset closes them when the driver resets).
func (h *vsockHost) Close() error {
	if h.lfd < 0 {
		return nil
	}
	err := errors.Join(h.loop.Remove(h.lfd), unix.Close(h.lfd))
	h.lfd = -1
	// Not os.Remove: when the unlink fails (a jailed VM may not write to
	// the socket's directory) it tries rmdir, which the seccomp filter
	// punishes by ending the process. The jail's host side removes it.
	unix.Unlink(h.path)
	return err
}
