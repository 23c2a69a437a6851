package machineinit

import (
	"syscall"
	"unsafe"
)

// The system calls the standard library does not wrap.

// initModule loads a module image with no parameters. The package
// syscall has no finit_module number; the images are a few hundred KiB.
func initModule(image []byte) error {
	if len(image) == 0 {
		return syscall.ENOEXEC
	}
	params := []byte{0}
	_, _, errno := syscall.Syscall(syscall.SYS_INIT_MODULE,
		uintptr(unsafe.Pointer(&image[0])), uintptr(len(image)), uintptr(unsafe.Pointer(&params[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

// termios gets (TCGETS) or sets (TCSETS) a terminal's attributes.
func termios(fd, req uintptr, t *syscall.Termios) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(t)))
	if errno != 0 {
		return errno
	}
	return nil
}
