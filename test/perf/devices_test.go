package perf

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The device benchmarks (BenchmarkVsock, BenchmarkBalloon,
// BenchmarkRateLimit) compare glue with a reference that is not another
// VMM: the host doing the same work without a VM (a Unix socket pair, a
// bare madvise loop) or the rate a limit was configured with. They fill
// their own generated block of docs/performance.md.
const deviceBenchmarks = 3

var devRuns = flag.Int("dev-runs", 2, "BenchmarkVsock, BenchmarkBalloon, BenchmarkRateLimit: runs per round (and of the reference)")

// configured is the sample key of a rate limit's configured rate, the
// reference of BenchmarkRateLimit's rows.
const configured = "configured"

// devRow is one row of the device block: glue's samples and the
// reference's, under key ref, described by refIs.
type devRow struct {
	row
	ref, refIs string
}

var (
	devRows   []devRow
	devSetups []string
	devTook   time.Duration
)

// The markers around the device block.
const (
	devicesBegin = "<!-- perf-devices:begin -->"
	devicesEnd   = "<!-- perf-devices:end -->"
)

// withArgs is v with extra arguments before the kernel's (-k): the device
// flags of one benchmark.
func withArgs(v vmm, extra ...string) vmm {
	args := v.args
	v.args = func(cmdline string, dev devices) []string {
		a := args(cmdline, dev)
		i := slices.Index(a, "-k")
		return slices.Concat(a[:i], extra, a[i:])
	}
	return v
}

// devicesReport renders the block between the perf-devices markers: the
// runs, one table of glue against each row's reference, and the verdicts.
func devicesReport(machine string, at time.Time) string {
	var b strings.Builder
	b.WriteString(measured(at, machine))
	fmt.Fprintf(&b, "Runs, in each of %d rounds: %s. The benchmarks took %.1f minutes. Each cell: median (min–max) over the runs of all rounds; "+
		"the ratio is that of the medians. A target is judged on each round's medians as in the tables above.\n\n",
		*nRounds, strings.Join(devSetups, "; "), devTook.Minutes())
	b.WriteString("| metric | glue | reference | reference is | glue/reference | target | verdict over the rounds |\n")
	b.WriteString("|---|---:|---:|---|---:|---|---|\n")
	var judged []row
	for _, r := range devRows {
		all := r.values.pooled()
		g, ref := all["glue"], all[r.ref]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", r.metric, g.summary(r.verb), ref.summary(r.verb),
			r.refIs, ratio(g, ref), r.target, judge(r.target, r.values).cell())
		judged = append(judged, r.row)
	}
	targetsByRound(&b, judged)
	return b.String()
}
