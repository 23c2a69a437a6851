package perf

import (
	"strings"
	"testing"
	"time"
)

// The kernel-boot block gives each image's medians and ranges, the
// differences of the pooled medians, and the differences round by round.
func TestKernelBootReport(t *testing.T) {
	t.Parallel()
	line, vcpus := newRounds(minRounds), newRounds(minRounds)
	for r, bz := range []float64{19.5, 19.0, 20.0} {
		line.add(r, bzImageName, bz)
		line.add(r, vmlinuxName, 18.75+0.25*float64(r))
		vcpus.add(r, bzImageName, 600+10*float64(r))
		vcpus.add(r, vmlinuxName, 3.5)
	}
	res := kernelBootResult{kernel: "/boot/vmlinuz-test", firstLine: line, vcpus: vcpus, runs: 1, took: 2 * time.Minute}
	got := kernelBootReport("test machine", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), res)
	for _, want := range []string{
		"Measured 2026-12-07 00:00 UTC on: test machine.",
		"Input: `vmlinuz-test` (GLUE_TEST_KERNEL)",
		"`glue run --boot-timeline -c 1 -m 512 --transport mmio -k IMAGE -p \"console=ttyS0 earlyprintk=serial\"`",
		"glue's `start vCPUs` phase",
		"In each of 3 rounds, 1 boot(s) of each image",
		"| bzImage | 610.0 (600.0–620.0) | 19.50 (19.00–20.00) |",
		"| vmlinux | 3.5 (3.5–3.5) | 19.00 (18.75–19.25) |",
		"| bzImage − vmlinux | 606.5 | 0.50 |",
		"vCPUs started 596.5, 606.5, 616.5 ms; first kernel line 0.75, 0.00, 0.75 s.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the block lacks %q:\n%s", want, got)
		}
	}
}

// A boot ends at the guest's GLUE-DONE line, or at the first line that
// contains bootOpts.until, wherever in the line (a kernel prefixes its
// lines with a timestamp).
func TestBootEnds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		until, text string
		want        bool
	}{
		{"", "GLUE-DONE", true},
		{"", "GLUE-OK exits", false},
		{"", "[    0.000000] Linux version 6.1.0", false},
		{firstKernelLine, "[    0.000000] Linux version 6.1.0", true},
		{firstKernelLine, "GLUE-DONE", false},
	} {
		if got := (bootOpts{until: c.until}).ends(c.text); got != c.want {
			t.Errorf("until %q, line %q: ends = %v, want %v", c.until, c.text, got, c.want)
		}
	}
}
