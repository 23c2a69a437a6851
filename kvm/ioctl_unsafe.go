package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The only places package kvm turns Go pointers into ioctl arguments. Every
// other file passes typed values to these helpers.

// ioctl issues an ioctl whose argument is a plain integer (or nothing).
func ioctl(fd int, req uint, arg uintptr) (int, error) {
	return retryInterrupted(func() (uintptr, unix.Errno) {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
		return r, errno
	})
}

// ioctlPtr issues an ioctl whose argument points at *arg, which must be one of
// the generated C layouts.
func ioctlPtr[T any](fd int, req uint, arg *T) (int, error) {
	return retryInterrupted(func() (uintptr, unix.Errno) {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(arg)))
		return r, errno
	})
}

// runIoctl issues KVM_RUN once: its EINTR is an exit the caller handles
// (immediate_exit, or a signal meant to stop the vCPU), never retried.
func runIoctl(fd int) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(KVM_RUN), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// retryInterrupted makes call until it is not interrupted. The Go runtime
// preempts goroutines with SIGURG, and a signal that arrives during, for
// example, KVM_CREATE_VM's MMU notifier registration makes the kernel
// return EINTR before it did anything; QEMU retries the same way.
func retryInterrupted(call func() (uintptr, unix.Errno)) (int, error) {
	for {
		r, errno := call()
		switch errno {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		}
		return int(r), errno
	}
}

// flexBuffer is a C struct made of a header H followed by a flexible array
// of E (struct kvm_msrs, kvm_cpuid2, kvm_irq_routing). It is backed by
// []uint64 so the header and the entries are 8-byte aligned, as the kernel's
// layouts require.
type flexBuffer[H, E any] struct {
	words   []uint64
	Header  *H
	Entries []E
}

func newFlexBuffer[H, E any](n int) *flexBuffer[H, E] {
	var h H
	var e E
	headerSize := unsafe.Sizeof(h)
	size := headerSize + uintptr(n)*unsafe.Sizeof(e)
	words := make([]uint64, (size+7)/8)
	base := unsafe.Pointer(&words[0])
	return &flexBuffer[H, E]{
		words:   words,
		Header:  (*H)(base),
		Entries: unsafe.Slice((*E)(unsafe.Add(base, headerSize)), n),
	}
}

// ioctl issues req with the buffer as its argument.
func (b *flexBuffer[H, E]) ioctl(fd int, req uint) (int, error) {
	return ioctlPtr(fd, req, &b.words[0])
}

// hostAddr is the host virtual address of mem's first byte, for
// kvm_userspace_memory_region.userspace_addr; 0 for an empty slice.
func hostAddr(mem []byte) uint64 {
	if len(mem) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&mem[0])))
}
