// Package bus dispatches port-I/O and MMIO exits to devices by address range.
//
// A Bus maps non-overlapping [base, base+size) ranges to Devices. An access
// that no device claims is not an error for the guest: reads return all ones
// (as on real hardware with nothing decoding the address) and writes are
// dropped; the caller is told so it can log the access at debug level.
package bus

import (
	"fmt"
	"sort"
	"sync"
)

// Device is a register file on a bus. offset is relative to the base the
// device was registered at; len(data) is the access width (1, 2, 4 or 8).
// Read fills data; Write consumes it. Devices do their own locking.
type Device interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

type mapping struct {
	base, size uint64
	dev        Device
}

// Bus is safe for concurrent use: vCPU threads dispatch while the VMM may
// still be registering devices.
type Bus struct {
	mu       sync.RWMutex
	mappings []mapping // sorted by base, non-overlapping
}

// Insert registers dev at [base, base+size).
func (b *Bus) Insert(base, size uint64, dev Device) error {
	if size == 0 || base+size < base {
		return fmt.Errorf("bus: invalid range %#x+%#x", base, size)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	i := sort.Search(len(b.mappings), func(i int) bool { return b.mappings[i].base >= base })
	if i > 0 && b.mappings[i-1].base+b.mappings[i-1].size > base {
		return fmt.Errorf("bus: range %#x+%#x overlaps %#x", base, size, b.mappings[i-1].base)
	}
	if i < len(b.mappings) && base+size > b.mappings[i].base {
		return fmt.Errorf("bus: range %#x+%#x overlaps %#x", base, size, b.mappings[i].base)
	}
	b.mappings = append(b.mappings, mapping{})
	copy(b.mappings[i+1:], b.mappings[i:])
	b.mappings[i] = mapping{base: base, size: size, dev: dev}
	return nil
}

// Move re-registers the device at oldBase at newBase, with the same size,
// in one step: no access sees it at both places or at neither. It fails,
// leaving the bus unchanged, when nothing is at oldBase or the new range is
// invalid or overlaps another device.
func (b *Bus) Move(oldBase, newBase uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := sort.Search(len(b.mappings), func(i int) bool { return b.mappings[i].base >= oldBase })
	if i == len(b.mappings) || b.mappings[i].base != oldBase {
		return fmt.Errorf("bus: move %#x: no device there", oldBase)
	}
	m := b.mappings[i]
	rest := append(append([]mapping(nil), b.mappings[:i]...), b.mappings[i+1:]...)
	moved := &Bus{mappings: rest}
	if err := moved.Insert(newBase, m.size, m.dev); err != nil {
		return fmt.Errorf("bus: move %#x: %w", oldBase, err)
	}
	b.mappings = moved.mappings
	return nil
}

// find returns the device whose range holds the whole access.
func (b *Bus) find(addr uint64, n int) (Device, uint64, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	i := sort.Search(len(b.mappings), func(i int) bool { return b.mappings[i].base > addr }) - 1
	if i < 0 {
		return nil, 0, false
	}
	m := b.mappings[i]
	off := addr - m.base
	if off >= m.size || uint64(n) > m.size-off {
		return nil, 0, false
	}
	return m.dev, off, true
}

// Read dispatches a read. It reports false, after filling data with 0xff,
// when no device claims the whole access.
func (b *Bus) Read(addr uint64, data []byte) bool {
	dev, off, ok := b.find(addr, len(data))
	if !ok {
		for i := range data {
			data[i] = 0xff
		}
		return false
	}
	dev.Read(off, data)
	return true
}

// Write dispatches a write. It reports false when no device claims the whole
// access; the write is then dropped.
func (b *Bus) Write(addr uint64, data []byte) bool {
	dev, off, ok := b.find(addr, len(data))
	if !ok {
		return false
	}
	dev.Write(off, data)
	return true
}
