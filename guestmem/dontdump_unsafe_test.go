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
		start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&r.host[0])))
		flags, ok := vmFlags(string(smaps), start)
		if !ok {
			t.Fatalf("region %#x: no mapping starting %s in smaps", r.Base, start)
		}
		if !strings.Contains(" "+flags+" ", " dd ") {
			t.Errorf("region %#x: VmFlags %q lack dd", r.Base, flags)
		}
	}
}

// vmFlags returns the VmFlags of the smaps entry whose range starts with
// start ("7f12...-").
func vmFlags(smaps, start string) (string, bool) {
	in := false
	for _, line := range strings.Split(smaps, "\n") {
		if strings.HasPrefix(line, start) {
			in = true
		}
		if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.TrimSpace(flags), true
		}
	}
	return "", false
}
