package guestmem

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// PageSize is the granule Discard works in: the x86 base page, which is
// also what virtio-balloon's page frame numbers count.
const PageSize = pageSize

// Discard gives the host memory behind [addr, addr+n) back to the host: the
// guest reads zeros there afterwards, and the host allocates fresh pages
// only when the guest touches the range again. addr and n must be multiples
// of PageSize, and the whole range must lie inside one region: whatever a
// guest reports (virtio-balloon's page lists), nothing outside its RAM is
// ever touched. A range that is not is an error wrapping ErrOutOfRange, and
// nothing is discarded.
//
// Every region is private anonymous memory (New), for which MADV_DONTNEED
// is the advice that frees pages at once: RSS drops in the same call.
// (MADV_REMOVE would be needed for shared or file-backed memory, and a
// hugetlbfs backing could only drop whole huge pages; glue has neither.)
// Where the host backs a region with transparent huge pages, the kernel
// splits a huge page that the range covers only in part and frees the
// covered base pages; a huge page covered whole is freed whole.
func (m *Memory) Discard(addr Addr, n uint64) error {
	if uint64(addr)%pageSize != 0 || n%pageSize != 0 {
		return fmt.Errorf("guestmem: discard %#x+%#x: not page-aligned", addr, n)
	}
	b, err := m.Slice(addr, n)
	if err != nil {
		return fmt.Errorf("guestmem: discard: %w", err)
	}
	if n == 0 {
		return nil
	}
	if err := unix.Madvise(b, unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("guestmem: discard %#x+%#x: madvise: %w", addr, n, err)
	}
	return nil
}
