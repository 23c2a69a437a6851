package guestmem

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Virtio ring indices are 16-bit fields shared with a guest running on other
// CPUs. Go has no 16-bit atomics, so these accessors operate on the aligned
// 32-bit word that contains the field: Go's atomics are sequentially
// consistent, which gives the acquire (load) and release (store) ordering the
// virtio spec requires.

// LoadU16Acquire reads the little-endian 16-bit ring index at addr with
// acquire ordering. addr must be 2-byte aligned.
func (m *Memory) LoadU16Acquire(addr Addr) (uint16, error) {
	word, shift, err := m.word32(addr)
	if err != nil {
		return 0, err
	}
	return uint16(atomic.LoadUint32(word) >> shift), nil
}

// StoreU16Release writes the 16-bit ring index at addr with release ordering:
// every write to guest memory made before it is visible to the guest before
// the new index is. addr must be 2-byte aligned.
func (m *Memory) StoreU16Release(addr Addr, v uint16) error {
	word, shift, err := m.word32(addr)
	if err != nil {
		return err
	}
	mask := uint32(0xffff) << shift
	for {
		old := atomic.LoadUint32(word)
		if atomic.CompareAndSwapUint32(word, old, old&^mask|uint32(v)<<shift) {
			return nil
		}
	}
}

// word32 returns the aligned 32-bit word holding the 16-bit field at addr and
// the field's bit offset within it (x86 is little-endian).
func (m *Memory) word32(addr Addr) (*uint32, uint, error) {
	if addr%2 != 0 {
		return nil, 0, fmt.Errorf("guestmem: ring index at %#x is not 2-byte aligned", addr)
	}
	base := addr &^ 3
	b, err := m.Slice(base, 4)
	if err != nil {
		return nil, 0, err
	}
	return (*uint32)(unsafe.Pointer(&b[0])), uint(addr-base) * 8, nil
}
