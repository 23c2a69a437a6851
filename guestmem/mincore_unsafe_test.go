package guestmem

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// resident counts the pages of b the host has memory for (mincore(2),
// which x/sys/unix does not wrap).
func resident(t *testing.T, b []byte) int {
	t.Helper()
	vec := make([]byte, (len(b)+pageSize-1)/pageSize)
	_, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// On a region the host backs with a transparent huge page, a discard of
// one base page inside it frees that page (the kernel splits the huge
// page) and keeps the other 511.
func TestDiscardInsideHugePage(t *testing.T) {
	t.Parallel()
	const huge = 2 << 20
	m := newTestMemory(t, Span{Base: 0, Size: 2 * huge})
	host := m.Regions()[0].Host()
	// Where the host has no transparent huge pages the same holds of base
	// pages; the log says which case ran.
	hugeErr := syscall.Madvise(host, syscall.MADV_HUGEPAGE)
	// The first 2 MiB-aligned huge page inside the mapping.
	off := (huge - int(uintptr(unsafe.Pointer(&host[0])))%huge) % huge
	page := host[off : off+huge]
	for i := 0; i < huge; i += pageSize {
		page[i] = 0xaa
	}
	t.Logf("MADV_HUGEPAGE: %v; AnonHugePages: %d kB", hugeErr, anonHuge(t, host))
	if err := m.Discard(Addr(off+huge/2), pageSize); err != nil {
		t.Fatal(err)
	}
	if got := resident(t, page); got != huge/pageSize-1 {
		t.Fatalf("%d base pages resident after discarding one of %d", got, huge/pageSize)
	}
	if page[huge/2] != 0 || page[huge/2-pageSize] != 0xaa || page[huge/2+pageSize] != 0xaa {
		t.Fatal("the discarded page kept its contents, or a neighbour lost them")
	}
}

// smapsOf returns the /proc/self/smaps entry of the mapping b starts.
func smapsOf(t *testing.T, b []byte) string {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&b[0])))
	_, entry, ok := strings.Cut(string(smaps), "\n"+start)
	if !ok {
		t.Fatalf("no mapping at %s in smaps", start)
	}
	if i := strings.Index(entry, "VmFlags:"); i >= 0 {
		entry = entry[:i]
	}
	return entry
}

// anonHuge is the AnonHugePages of b's mapping, in kB.
func anonHuge(t *testing.T, b []byte) int {
	t.Helper()
	for _, line := range strings.Split(smapsOf(t, b), "\n") {
		if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
