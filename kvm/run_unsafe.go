package kvm

import (
	"sync/atomic"
	"unsafe"
)

// Typed views of the kvm_run area a vCPU fd maps. The kernel writes it during
// KVM_RUN; between runs it belongs to the goroutine that calls Run.

// exitPayload overlays T, one of the generated kvm_run union members, on the
// exit union. Every T is at most runExitSize bytes (checked by a test), and
// the union is 8-byte aligned inside the page-aligned mapping.
func exitPayload[T any](run []byte) *T {
	return (*T)(unsafe.Pointer(&run[runExitOffset]))
}

// immediateExitWord is the aligned 32-bit word of kvm_run holding
// immediate_exit, and the bit shift of immediate_exit within it. Go has no
// 8-bit atomics, and the kernel only reads this byte and its neighbours
// (request_interrupt_window, padding1), so a compare-and-swap of the word
// stores the byte atomically without disturbing them.
func immediateExitWord(run []byte) (*uint32, uint) {
	const wordOffset = runImmediateExitOffset &^ 3
	return (*uint32)(unsafe.Pointer(&run[wordOffset])), (runImmediateExitOffset - wordOffset) * 8
}

func storeImmediateExit(run []byte, v uint8) {
	word, shift := immediateExitWord(run)
	for {
		old := atomic.LoadUint32(word)
		updated := old&^(0xff<<shift) | uint32(v)<<shift
		if old == updated || atomic.CompareAndSwapUint32(word, old, updated) {
			return
		}
	}
}

func loadImmediateExit(run []byte) uint8 {
	word, shift := immediateExitWord(run)
	return uint8(atomic.LoadUint32(word) >> shift)
}
