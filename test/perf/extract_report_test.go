package perf

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// extractRow is one payload's row of the extraction block: its decoders'
// wall times (ms), by decoder and round.
type extractRow struct {
	payload payloadInfo
	row
}

// extractResult is what one BenchmarkExtraction measured, for its block.
type extractResult struct {
	set          extraction
	rows         []extractRow
	rounds, runs int // rounds, and runs of each decoder per round
	took         time.Duration
}

// extractRun is the last BenchmarkExtraction's result; nil if none ran.
var extractRun *extractResult

// The markers around the extraction block.
const (
	extractBegin = "<!-- perf-extract:begin -->"
	extractEnd   = "<!-- perf-extract:end -->"
)

// extractTool is the sample key of the command-line tool a payload's
// glue is compared with.
func extractTool(format string) string {
	if format == "zstd" {
		return zstdTool
	}
	return xzTool
}

// extractReport renders the block between the perf-extract markers: the
// inputs, one row per payload, and the verdicts.
func extractReport(machine string, at time.Time, res extractResult) string {
	var b strings.Builder
	b.WriteString(measured(at, machine))
	var inputs []string
	for _, r := range res.rows {
		p := r.payload
		inputs = append(inputs, fmt.Sprintf("%s, %s: %.2f MB → %.2f MB", p.format, p.what, float64(p.stream)/1e6, float64(p.size)/1e6))
	}
	fmt.Fprintf(&b, "Input: `%s` (%s). Payloads: %s. In each of %d rounds, %d runs of each decoder, interleaved, taking turns at going first. "+
		"Decoders: glue in the benchmark process; %s. The benchmark took %.1f minutes. Each cell: wall time in ms, median (min–max) over the runs of all rounds; "+
		"the ratios are those of the medians. A target is judged on each round's medians as in the tables above.\n\n",
		filepath.Base(res.set.kernel), hosttest.KernelEnv, strings.Join(inputs, "; "), res.rounds, res.runs, strings.Join(res.set.notes, "; "), res.took.Minutes())
	b.WriteString("| payload | glue `loader.ExtractVmlinux` | tool | the tool | kernel lib/xz | glue/tool | glue/kernel lib/xz | target | verdict over the rounds |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---|---|\n")
	var judged []row
	for _, r := range res.rows {
		all := r.values.pooled()
		tool := extractTool(r.payload.format)
		g := all["glue"]
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %s | %s | %s | %s | %s |\n", r.payload.format, g.summary(r.verb), tool,
			all[tool].summary(r.verb), all[kernelXZName].summary(r.verb), ratio(g, all[tool]), ratio(g, all[kernelXZName]),
			r.target, judge(r.target, r.values).cell())
		judged = append(judged, r.row)
	}
	targetsByRound(&b, judged)
	return b.String()
}
