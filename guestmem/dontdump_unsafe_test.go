package guestmem

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// Every region is excluded from core dumps: its mapping in
// /proc/self/smaps carries the "dd" VmFlag (MADV_DONTDUMP).
func TestRegionsExcludedFromCoreDumps(t *testing.T) {
	t.Parallel()
	m := newTestMemory(t, Span{Base: 0, Size: 1 << 20}, Span{Base: 1 << 32, Size: 2 << 20})
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.regions {
		addr := uintptr(unsafe.Pointer(&r.host[0]))
		flags, ok := vmFlags(string(smaps), addr)
		if !ok {
			t.Fatalf("region %#x: no mapping holds %#x in smaps", r.Base, addr)
		}
		if !strings.Contains(" "+flags+" ", " dd ") {
			t.Errorf("region %#x: VmFlags %q lack dd", r.Base, flags)
		}
	}
}

// vmFlags returns the VmFlags of the smaps entry whose range holds addr.
// The region need not start the entry: the kernel merges adjacent
// mappings with the same flags, such as another parallel test's region.
func vmFlags(smaps string, addr uintptr) (string, bool) {
	in := false
	for _, line := range strings.Split(smaps, "\n") {
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = lo <= addr && addr < hi
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.TrimSpace(flags), true
		}
	}
	return "", false
}
