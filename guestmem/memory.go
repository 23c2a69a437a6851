package guestmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/sys/unix"
)

// Addr is a guest-physical address.
type Addr uint64

// Span is a guest-physical address range to be backed by RAM.
type Span struct {
	Base Addr
	Size uint64
}

// End returns the first address past the span (Base+Size). Callers must have
// validated that it does not overflow; New does.
func (s Span) End() Addr { return s.Base + Addr(s.Size) }

// Region is one contiguous, host-mapped piece of guest RAM.
type Region struct {
	Span
	host []byte
}

// Host returns the host mapping backing the region. It exists for KVM's
// memory-slot registration; device code must use Memory's checked accessors.
func (r *Region) Host() []byte { return r.host }

// Memory is the guest's RAM: a sorted set of non-overlapping regions.
type Memory struct {
	regions []*Region
}

// ErrOutOfRange is returned (wrapped) for any access not entirely inside one
// RAM region, including ranges whose end overflows 64 bits.
var ErrOutOfRange = errors.New("guest address range outside RAM")

const pageSize = 4096

// New maps anonymous memory for each span, excluded from core dumps
// (MADV_DONTDUMP). Spans must be page-aligned,
// non-empty, non-overlapping and must not wrap the 64-bit address space.
func New(spans []Span) (*Memory, error) {
	if len(spans) == 0 {
		return nil, errors.New("guestmem: no memory spans")
	}
	sorted := append([]Span(nil), spans...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Base < sorted[j].Base })
	for i, s := range sorted {
		if s.Size == 0 || s.Base%pageSize != 0 || s.Size%pageSize != 0 {
			return nil, fmt.Errorf("guestmem: span %#x+%#x: must be non-empty and page-aligned", s.Base, s.Size)
		}
		if uint64(s.Base)+s.Size < uint64(s.Base) {
			return nil, fmt.Errorf("guestmem: span %#x+%#x wraps the address space", s.Base, s.Size)
		}
		if i > 0 && sorted[i-1].End() > s.Base {
			return nil, fmt.Errorf("guestmem: spans %#x and %#x overlap", sorted[i-1].Base, s.Base)
		}
	}
	m := &Memory{}
	for _, s := range sorted {
		host, err := unix.Mmap(-1, 0, int(s.Size), unix.PROT_READ|unix.PROT_WRITE,
			unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("guestmem: map %d MiB at %#x: %w", s.Size>>20, s.Base, err)
		}
		// The guest's memory is the guest's data: never in a core dump.
		if err := unix.Madvise(host, unix.MADV_DONTDUMP); err != nil {
			unix.Munmap(host)
			m.Close()
			return nil, fmt.Errorf("guestmem: exclude %d MiB at %#x from core dumps: %w", s.Size>>20, s.Base, err)
		}
		m.regions = append(m.regions, &Region{Span: s, host: host})
	}
	return m, nil
}

// Close unmaps all regions. The Memory must not be used afterwards.
func (m *Memory) Close() error {
	var errs []error
	for _, r := range m.regions {
		if err := unix.Munmap(r.host); err != nil {
			errs = append(errs, err)
		}
		r.host = nil
	}
	m.regions = nil
	return errors.Join(errs...)
}

// Regions returns the RAM regions in ascending address order.
func (m *Memory) Regions() []*Region { return m.regions }

// Size returns the total RAM in bytes.
func (m *Memory) Size() uint64 {
	var n uint64
	for _, r := range m.regions {
		n += r.Size
	}
	return n
}

// Slice returns the host bytes backing [addr, addr+n). The whole range must
// lie inside one region. The slice aliases guest memory: the guest may change
// it at any time, so read each field once into a local copy.
func (m *Memory) Slice(addr Addr, n uint64) ([]byte, error) {
	end := uint64(addr) + n
	if end < uint64(addr) {
		return nil, fmt.Errorf("%w: %#x+%#x overflows", ErrOutOfRange, addr, n)
	}
	for _, r := range m.regions {
		if addr >= r.Base && Addr(end) <= r.End() {
			off := uint64(addr - r.Base)
			return r.host[off : off+n : off+n], nil
		}
	}
	return nil, fmt.Errorf("%w: %#x+%#x", ErrOutOfRange, addr, n)
}

// Contains reports whether [addr, addr+n) lies inside one region.
func (m *Memory) Contains(addr Addr, n uint64) bool {
	_, err := m.Slice(addr, n)
	return err == nil
}

// ReadAt copies len(p) bytes at addr into p.
func (m *Memory) ReadAt(p []byte, addr Addr) error {
	b, err := m.Slice(addr, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(p, b)
	return nil
}

// WriteAt copies p into guest memory at addr.
func (m *Memory) WriteAt(p []byte, addr Addr) error {
	b, err := m.Slice(addr, uint64(len(p)))
	if err != nil {
		return err
	}
	copy(b, p)
	return nil
}

// Zero clears [addr, addr+n). The whole pages in the range are not
// written but given back to the host (as Discard does), so they read as
// zeros and cost nothing until the guest touches them: clearing a kernel's
// bss, most of which a guest may never use, would otherwise fault in and
// keep resident every page of it.
func (m *Memory) Zero(addr Addr, n uint64) error {
	b, err := m.Slice(addr, n)
	if err != nil {
		return err
	}
	head := min(n, (pageSize-uint64(addr)%pageSize)%pageSize)
	body := (n - head) &^ (pageSize - 1)
	clear(b[:head])
	clear(b[head+body:])
	if body > 0 && unix.Madvise(b[head:head+body], unix.MADV_DONTNEED) != nil {
		clear(b[head : head+body])
	}
	return nil
}

// ReadU16 reads a little-endian uint16 at addr.
func (m *Memory) ReadU16(addr Addr) (uint16, error) {
	b, err := m.Slice(addr, 2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(b), nil
}

// ReadU32 reads a little-endian uint32 at addr.
func (m *Memory) ReadU32(addr Addr) (uint32, error) {
	b, err := m.Slice(addr, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// ReadU64 reads a little-endian uint64 at addr.
func (m *Memory) ReadU64(addr Addr) (uint64, error) {
	b, err := m.Slice(addr, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// WriteU16 writes v little-endian at addr.
func (m *Memory) WriteU16(addr Addr, v uint16) error {
	b, err := m.Slice(addr, 2)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint16(b, v)
	return nil
}

// WriteU32 writes v little-endian at addr.
func (m *Memory) WriteU32(addr Addr, v uint32) error {
	b, err := m.Slice(addr, 4)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b, v)
	return nil
}

// WriteU64 writes v little-endian at addr.
func (m *Memory) WriteU64(addr Addr, v uint64) error {
	b, err := m.Slice(addr, 8)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(b, v)
	return nil
}
