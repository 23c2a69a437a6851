//lint:file-ignore U1000 the handler's text and functions are used by sigsys_amd64.s, which staticcheck does not read

package sandbox

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The handler's text, read by sigsys_amd64.s.
var (
	sigsysPrefix    = []byte("glue: seccomp: blocked system call ")
	sigsysArgs      = []byte(" args")
	sigsysSuffix    = []byte(" (not in glue's allow-list: the process ends; see docs/security.md)\n")
	sigsysOpen      = [2]byte{' ', '('}
	sigsysClose     = [1]byte{')'}
	sigsysHexDigits = [16]byte{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'}
	// sigsysBuf is the handler's scratch space for one number. Two
	// threads trapping at once may mix digits; the first to exit ends the
	// process, so at most one line is garbled.
	sigsysBuf [24]byte
)

// Implemented in sigsys_amd64.s.
func sigsysHandler()
func sigsysRestorer()
func sigsysHandlerAddrs() (handler, restorer uintptr)

// kernelSigaction is the x86-64 kernel's struct sigaction.
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	saSiginfo  = 0x4
	saRestorer = 0x04000000
	saOnstack  = 0x08000000
)

// installSIGSYSHandler replaces the Go runtime's SIGSYS handler (which
// prints a goroutine dump without naming the call) with sigsysHandler.
// Every signal is blocked while it runs; SA_ONSTACK puts it on the
// thread's signal stack, which the Go runtime gives every thread.
func installSIGSYSHandler() error {
	handler, restorer := sigsysHandlerAddrs()
	act := kernelSigaction{
		handler:  handler,
		flags:    saSiginfo | saOnstack | saRestorer,
		restorer: restorer,
		mask:     ^uint64(0),
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSYS),
		uintptr(unsafe.Pointer(&act)), 0, unsafe.Sizeof(act.mask), 0, 0)
	if errno != 0 {
		return fmt.Errorf("sandbox: install SIGSYS handler: %w", errno)
	}
	return nil
}
