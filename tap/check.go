package tap

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// CheckName reports whether Open would accept name as an interface name, by
// the kernel's rules, without opening anything. A VMM calls it to refuse a
// bad name before it creates anything.
func CheckName(name string) error {
	if err := validName(name); err != nil {
		return fmt.Errorf("tap: %q: %w", name, err)
	}
	return nil
}

// Exists reports whether the calling thread's network namespace has an
// interface named name (if_nametoindex: ioctl SIOCGIFINDEX, on a socket
// made for the question). Open creates a missing tap, so a VMM asks first
// to say it did. It reports false when the kernel cannot tell either.
func Exists(name string) bool {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return false // too long for an interface name: none has it
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	return unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr) == nil
}
