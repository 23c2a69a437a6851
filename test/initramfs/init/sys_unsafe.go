package main

import (
	"syscall"
	"unsafe"
)

// The system calls the standard library does not wrap. The package syscall
// has no finit_module number, so modules go through init_module with the
// image in memory (the largest one this init loads is ~150 KiB).

func initModuleSyscall(image []byte, params string) error {
	if len(image) == 0 {
		return syscall.ENOEXEC
	}
	p, err := syscall.BytePtrFromString(params)
	if err != nil {
		return err
	}
	_, _, errno := syscall.Syscall(syscall.SYS_INIT_MODULE,
		uintptr(unsafe.Pointer(&image[0])), uintptr(len(image)), uintptr(unsafe.Pointer(p)))
	if errno != 0 {
		return errno
	}
	return nil
}

func ioctlIfreq(fd int, req uintptr, r *ifreq) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(r)))
	if errno != 0 {
		return errno
	}
	return nil
}

// noEcho turns a terminal's echo off (TCGETS, then TCSETS without ECHO).
func noEcho(fd int) error {
	var t syscall.Termios
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t))); errno != 0 {
		return errno
	}
	t.Lflag &^= syscall.ECHO
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCSETS, uintptr(unsafe.Pointer(&t))); errno != 0 {
		return errno
	}
	return nil
}

// drain waits until the terminal on fd has transmitted everything written
// to it (tcdrain); a file that is not a terminal has nothing to drain.
func drain(fd int) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), tcsbrk, 1); errno != 0 && errno != syscall.ENOTTY {
		return errno
	}
	return nil
}

// tcsbrk is TCSBRK, which package syscall does not name; with argument 1
// it is tcdrain.
const tcsbrk = 0x5409
