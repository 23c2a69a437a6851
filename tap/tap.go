package tap

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// VnetHdrLen is the length of the virtio-net header in front of every frame:
// struct virtio_net_hdr_v1 (linux/virtio_net.h).
const VnetHdrLen = 12

// cloneDevice is the tun/tap clone device (linux/Documentation/networking/tuntap.rst).
const cloneDevice = "/dev/net/tun"

// Options tune Open. The zero value is what glue's virtio-net device uses.
type Options struct {
	// Offloads are TUN_F_* bits (unix.TUN_F_CSUM, unix.TUN_F_TSO4, ...) for
	// TUNSETOFFLOAD: the kinds of unfinished frames (partial checksum, GSO)
	// the kernel may hand to ReadFrame. Zero means plain frames only.
	Offloads int
}

// Tap is an open TAP interface.
type Tap struct {
	fd     int
	name   string
	closed atomic.Bool
}

// Open attaches to the TAP interface name, creating it if it does not
// exist; an empty name lets the kernel choose one ("tap0", "tap1", ...),
// which Name returns.
func Open(name string, opts Options) (*Tap, error) {
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("tap: open %q: %w", name, err)
	}
	shown := name
	if shown == "" {
		shown = "tap%d"
	}
	fd, err := unix.Open(cloneDevice, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tap: open %s: %w", shown, openError(err, shown))
	}
	t := &Tap{fd: fd}
	if err := t.attach(name, opts); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap: open %s: %w", shown, err)
	}
	return t, nil
}

// attach binds the fd to the interface (TUNSETIFF) and sets the frame
// format.
func (t *Tap) attach(name string, opts Options) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	// IFF_ONE_QUEUE is left out: the kernel has ignored it since 3.8.
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(t.fd, unix.TUNSETIFF, ifr); err != nil {
		return setIffError(err, name)
	}
	t.name = ifr.Name()
	// The kernel's default is the 10-byte legacy header.
	if err := unix.IoctlSetPointerInt(t.fd, unix.TUNSETVNETHDRSZ, VnetHdrLen); err != nil {
		return fmt.Errorf("set vnet header size %d: %w", VnetHdrLen, err)
	}
	if err := unix.IoctlSetInt(t.fd, unix.TUNSETOFFLOAD, opts.Offloads); err != nil {
		return fmt.Errorf("set offloads %#x: %w", opts.Offloads, err)
	}
	return nil
}

// openError and setIffError say what to do about the errors people meet.
func openError(err error, name string) error {
	switch {
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("%s missing: load the tun module (modprobe tun): %w", cloneDevice, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return permissionError(err, name)
	}
	return fmt.Errorf("open %s: %w", cloneDevice, err)
}

func setIffError(err error, name string) error {
	if name == "" {
		name = "tap%d"
	}
	switch {
	case errors.Is(err, unix.EPERM):
		return permissionError(err, name)
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("tap %s is in use by another process: %w", name, err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%s exists and is not a single-queue tap: %w", name, err)
	}
	return fmt.Errorf("TUNSETIFF: %w", err)
}

func permissionError(err error, name string) error {
	return fmt.Errorf("need CAP_NET_ADMIN or a pre-created tap owned by you (ip tuntap add dev %s mode tap user $USER): %w", name, err)
}

// validName applies the kernel's rules for interface names
// (dev_valid_name in net/core/dev.c) so that a bad name gets a clear error
// instead of EINVAL. The empty name asks the kernel to choose.
func validName(name string) error {
	switch {
	case len(name) > unix.IFNAMSIZ-1:
		return fmt.Errorf("interface name is %d bytes long, the limit is %d", len(name), unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return errors.New(`interface name cannot be "." or ".."`)
	case strings.ContainsAny(name, "/: \t\n\v\f\r\x00"):
		return errors.New("interface name cannot contain '/', ':', NUL or white space")
	}
	// A "%d" asks the kernel to number the interface; any other '%' is
	// refused (dev_alloc_name).
	if _, rest, ok := strings.Cut(name, "%"); ok && (!strings.HasPrefix(rest, "d") || strings.Contains(rest, "%")) {
		return errors.New(`interface name may contain '%' only as one "%d"`)
	}
	return nil
}
