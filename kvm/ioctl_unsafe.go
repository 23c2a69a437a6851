package kvm

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The only places package kvm turns Go pointers into ioctl arguments. Every
// other file passes typed values to these helpers.

// ioctl issues an ioctl whose argument is a plain integer (or nothing).
func ioctl(fd int, req uint, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// ioctlPtr issues an ioctl whose argument points at *arg, which must be one of
// the generated C layouts.
func ioctlPtr[T any](fd int, req uint, arg *T) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(arg)))
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
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
