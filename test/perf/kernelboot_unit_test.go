package perf

import (
	"strings"
	"testing"
	"time"
)

// The kernel-boot block gives each image's median and range, the
// difference of the pooled medians, and the difference round by round.
func TestKernelBootReport(t *testing.T) {
	t.Parallel()
	times := newRounds(minRounds)
	for r, bz := range []float64{19.5, 19.0, 20.0} {
		times.add(r, bzImageName, bz)
		times.add(r, vmlinuxName, 18.75+0.25*float64(r))
	}
	res := kernelBootResult{kernel: "/boot/vmlinuz-test", times: times, runs: 1, took: 2 * time.Minute}
	got := kernelBootReport("test machine", time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), res)
	for _, want := range []string{
		"Measured 2026-12-07 00:00 UTC on: test machine.",
		"Input: `vmlinuz-test` (GLUE_TEST_KERNEL)",
		"`glue run -c 1 -m 512 --transport mmio -k IMAGE -p \"console=ttyS0 earlyprintk=serial\"`",
		"In each of 3 rounds, 1 boot(s) of each image",
		"| bzImage | 19.50 (19.00–20.00) | 0.50 |",
		"| vmlinux | 19.00 (18.75–19.25) | – |",
		"bzImage − vmlinux, round by round (s): 0.75, 0.00, 0.75.",
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
