package main

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

func ioctl(fd int, req, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// ioctlBytes passes b, a C struct laid out by hand, to the request.
func ioctlBytes(fd int, req uintptr, b []byte) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&b[0])))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// addressOf is b's address, for KVM_SET_USER_MEMORY_REGION.
func addressOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }
