package perf

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDensityCounts(t *testing.T) {
	t.Parallel()
	if got, err := densityCounts("1, 10,50"); err != nil || !slices.Equal(got, []int{1, 10, 50}) {
		t.Errorf("densityCounts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "1,,2", "ten"} {
		if _, err := densityCounts(bad); err == nil {
			t.Errorf("densityCounts(%q) accepted", bad)
		}
	}
}

// The block has a column per VMM that ran, glue first, and the ratios of
// glue to each, row by row.
func TestDensityReport(t *testing.T) {
	set := func(glue, qemu float64) rounds {
		r := newRounds(1)
		r.add(0, "glue", glue)
		r.add(0, "qemu", qemu)
		return r
	}
	densityRows = []densityRow{{1, set(9, 40)}, {50, set(2, 20)}}
	t.Cleanup(func() { densityRows = nil })
	got := densityReport("m", time.Now())
	for _, want := range []string{
		"| VMs at once | glue | QEMU microvm | glue/QEMU |\n|---:|---:|---:|---:|\n",
		"| 1 | 9.00 (9.00–9.00) | 40.00 (40.00–40.00) | 0.225 |\n",
		"| 50 | 2.00 (2.00–2.00) | 20.00 (20.00–20.00) | 0.100 |\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("density report lacks %q:\n%s", want, got)
		}
	}
}
