package perf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The benchmarks' arithmetic and parsing, checked without KVM.

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   sample
		want float64
	}{
		{"empty", nil, 0},
		{"odd", sample{3, 1, 2}, 2},
		{"even", sample{4, 1, 3, 2}, 2.5},
	} {
		if got := tc.in.median(); got != tc.want {
			t.Errorf("%s: median(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
	if got := (sample{3, 1, 2}).summary("%.0f"); got != "2 (1–3)" {
		t.Errorf("summary = %q", got)
	}
}

func TestGuestRSS(t *testing.T) {
	t.Parallel()
	const smaps = `00400000-0065b000 r-xp 00000000 08:01 1 /glue
Size:               2412 kB
Rss:                2220 kB
7f2a22400000-7f2a42400000 rw-p 00000000 00:00 0
Size:             524288 kB
Rss:                1384 kB
`
	if got := guestRSS([]byte(smaps), 512<<10); got != 1384 {
		t.Errorf("guest RSS = %d KiB, want 1384", got)
	}
	if got := guestRSS([]byte(smaps), 256<<10); got != -1 {
		t.Errorf("no mapping of that size: got %d, want -1", got)
	}
	twice := smaps + strings.SplitN(smaps, "\n", 4)[3]
	if got := guestRSS([]byte(twice), 512<<10); got != -1 {
		t.Errorf("two candidate mappings: got %d, want -1", got)
	}
	if got, err := kib([]byte("VmPeak:\t 1 kB\nVmHWM:\t    7784 kB\n"), "VmHWM:"); err != nil || got != 7784 {
		t.Errorf("kib = %d, %v; want 7784", got, err)
	}
}

func TestRewriteDoc(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "performance.md")
	doc := "# Perf\n\nintro\n" + beginMarker + "\nold table\n" + endMarker + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewriteDoc(path, "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Perf\n\nintro\n" + beginMarker + "\nnew table\n" + endMarker + "\n\nafter\n"
	if string(got) != want {
		t.Errorf("rewritten doc:\n%s\nwant:\n%s", got, want)
	}
	if err := os.WriteFile(path, []byte("no markers\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rewriteDoc(path, "x"); err == nil {
		t.Error("rewriteDoc without markers: no error")
	}
}

func TestProcCPU(t *testing.T) {
	t.Parallel()
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := procCPU(-1); err == nil {
		t.Error("procCPU of no process: no error")
	}
}
