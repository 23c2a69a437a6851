package tap

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrWouldBlock is returned by ReadFrame when no frame is waiting and by
// WriteFrame when the interface cannot take one now: wait for the fd to
// become readable (or writable) and try again. It wraps EAGAIN, so code
// written for any non-blocking fd (errors.Is(err, syscall.EAGAIN)) works
// with a Tap as it is.
var ErrWouldBlock = fmt.Errorf("tap: would block: %w", unix.EAGAIN)

// MaxReadLen is the longest read a tap can deliver: the header, an Ethernet
// header with a VLAN tag, and the largest MTU a tap takes (65535); GSO
// frames are limited to 64 KiB, which fits too.
const MaxReadLen = VnetHdrLen + 14 + 4 + 65535

// Fd returns the file descriptor, for an event loop to watch. It stays
// owned by the Tap.
func (t *Tap) Fd() int { return t.fd }

// Name returns the interface name, as the kernel has it.
func (t *Tap) Name() string { return t.name }

// ReadFrame reads one frame into buf: VnetHdrLen bytes of virtio-net header,
// then the Ethernet frame. A frame longer than buf is cut to fit and its
// rest dropped, and the kernel does not say so: make buf MaxReadLen bytes.
//
// Without offloads the header is all zeros, except that num_buffers (bytes
// 10-11, the one field beyond the legacy header) is zeroed by some kernels
// and left as it was in buf by others: the device sets it itself.
func (t *Tap) ReadFrame(buf []byte) (int, error) {
	return t.do("read", unix.Read, buf)
}

// WriteFrame sends one frame, VnetHdrLen bytes of virtio-net header followed
// by the Ethernet frame, into the host's network stack as if received on
// the interface. The interface must be up (else the kernel says EIO).
func (t *Tap) WriteFrame(frame []byte) (int, error) {
	return t.do("write", unix.Write, frame)
}

// do runs one non-blocking read or write, retrying interruptions and
// reporting "nothing now" as ErrWouldBlock.
func (t *Tap) do(op string, syscall func(int, []byte) (int, error), p []byte) (int, error) {
	if t.closed.Load() {
		return 0, fmt.Errorf("tap: %s %s: %w", op, t.name, os.ErrClosed)
	}
	for {
		n, err := syscall(t.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, ErrWouldBlock
		case err != nil:
			return 0, fmt.Errorf("tap: %s %s: %w", op, t.name, err)
		}
		return n, nil
	}
}

// SetOffload replaces the offloads chosen at Open with flags (TUN_F_*
// bits), for a device whose guest has negotiated checksum or segmentation
// offload.
func (t *Tap) SetOffload(flags int) error {
	if err := unix.IoctlSetInt(t.fd, unix.TUNSETOFFLOAD, flags); err != nil {
		return fmt.Errorf("tap: %s: set offloads %#x: %w", t.name, flags, err)
	}
	return nil
}

// MTU returns the interface's MTU. It asks by name through a socket, so it
// must run in the network namespace the tap lives in (glue's own, unless
// the caller moved its thread elsewhere).
func (t *Tap) MTU() (int, error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("tap: %s: mtu: %w", t.name, err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(t.name)
	if err != nil {
		return 0, fmt.Errorf("tap: %s: mtu: %w", t.name, err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, fmt.Errorf("tap: %s: mtu: %w", t.name, err)
	}
	return int(int32(ifr.Uint32())), nil
}

// Close releases the fd; a tap that Open created disappears with it. Remove
// the fd from any event loop first. Closing twice does nothing.
func (t *Tap) Close() error {
	if !t.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := unix.Close(t.fd); err != nil {
		return fmt.Errorf("tap: close %s: %w", t.name, err)
	}
	return nil
}
