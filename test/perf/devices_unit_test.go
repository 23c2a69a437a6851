package perf

import (
	"strings"
	"testing"
	"time"
)

// The device benchmarks put their flags before the kernel's, so glue
// parses them as run's.
func TestWithArgs(t *testing.T) {
	t.Parallel()
	v := withArgs(glueVMM("glue", "g.elf", "/r", mmio), "--vsock", "cid=7")
	got := strings.Join(v.args("x", devices{}), " ")
	if !strings.Contains(got, " --vsock cid=7 -k g.elf -p x") {
		t.Errorf("args: %s", got)
	}
}

// The device block compares glue with each row's own reference and
// judges the rate limiter's ±10 % on every round.
func TestDevicesReport(t *testing.T) {
	limit, pair := newRounds(3), newRounds(3)
	for r, x := range []float64{1.95, 2.05, 2.1} {
		limit.add(r, "glue", x)
		limit.add(r, configured, 2)
		pair.add(r, "glue", 1)
		pair.add(r, hostName, 4)
	}
	saved := devRows
	t.Cleanup(func() { devRows = saved })
	devRows = []devRow{
		{row{"vsock (MiB/s)", "%.1f", pair, nil}, hostName, "a socket pair"},
		{row{"disk bps (MiB/s)", "%.2f", limit, withinTenPercent}, configured, "the configured rate"},
	}
	got := devicesReport("m", time.Unix(0, 0))
	for _, want := range []string{
		"| vsock (MiB/s) | 1.0 (1.0–1.0) | 4.0 (4.0–4.0) | a socket pair | 0.250 | – | – |",
		"| disk bps (MiB/s) | 2.05 (1.95–2.10) | 2.00 (2.00–2.00) | the configured rate | 1.025 | ≥ 0.9× configured, ≤ 1.1× configured | met ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
	if strings.Count(got, "glue/configured") != 2 {
		t.Errorf("the ±10 %% target's quantity is not shown once in the table and once by round:\n%s", got)
	}
	limit.add(2, "glue", 3) // round 3's median: 2.55, over 1.1×
	if got := devicesReport("m", time.Unix(0, 0)); !strings.Contains(got, "not reproducible") {
		t.Errorf("a round off by 27 %%: not reported as not reproducible:\n%s", got)
	}
}
