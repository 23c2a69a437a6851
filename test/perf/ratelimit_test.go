package perf

import (
	"fmt"
	"testing"
	"time"
)

// limitCase is one disk rate limit and the blk-bench run under it.
type limitCase struct {
	opt     string  // the --disk option
	rate    float64 // configured, bytes or requests per second
	ops     bool    // the limit counts requests
	mib     int     // glue.blk.mib
	randOps int     // glue.blk.iops
}

// Each phase lasts 2 s or more at the limit, so the bucket, a tenth of a
// second's worth and full at the start, adds at most 5 %; and the limits
// lie below what the guest does unlimited (about 1500 random 4 KiB reads
// per second on this host), so the limit, not the guest, sets the pace.
var limitCases = []limitCase{
	{"bps=2Mi", 2 << 20, false, 4, 1024},
	{"iops=200", 200, true, 32, 400},
}

// withinTenPercent is issue 13's target for a limited device: its rate
// within ±10 % of the configured one.
var withinTenPercent = target{{ref: configured, factor: 0.9}, {ref: configured, atMost: true, factor: 1.1}}

// BenchmarkRateLimit runs the own guest's blk-bench on a disk with each
// of limitCases and reports, per phase, the rate achieved (host-timed
// between the phase's GLUE-START and GLUE-OK lines) next to the rate
// configured; the target, issue 13's, is within ±10 % of it.
func BenchmarkRateLimit(b *testing.B) {
	start := time.Now()
	glue, _ := vmms(b)
	img := blockImage(b)
	n := *nRounds
	var rowsOut []devRow
	var cmdlines []string
	got := make([][3]rounds, len(limitCases))
	for c := range limitCases {
		for p := range got[c] {
			got[c][p] = newRounds(n)
		}
	}
	for r := range n {
		for i := range *devRuns {
			for c, lc := range limitCases { // interleaved: each case in each run
				cmdline := guestCmdline(fmt.Sprintf("blk-bench glue.blk.mib=%d glue.blk.iops=%d", lc.mib, lc.randOps))
				if r == 0 && i == 0 {
					cmdlines = append(cmdlines, fmt.Sprintf("`%s` on `--disk IMG,%s`", cmdline, lc.opt))
				}
				// glueVMM adds -d IMG only for devices.disk; the limit
				// needs the option on the same flag.
				tr, err := bootWith(withArgs(glue, "--disk", img+","+lc.opt), cmdline, bootOpts{}, 3*time.Minute)
				if err != nil {
					b.Fatal(err)
				}
				msg := fmt.Sprintf("round %d run %d, %s:", r+1, i+1, lc.opt)
				for p, name := range blkPhases {
					ph, err := blkPhase(tr, name)
					if err != nil {
						b.Fatalf("%v\n%s", err, tr.output())
					}
					amount := float64(ph.reqs)
					if !lc.ops {
						amount = float64(ph.reqs * ph.req)
						if ph.req != 4096 { // sequential: the last request may be short
							amount = float64(lc.mib << 20)
						}
					}
					got[c][p].add(r, "glue", amount/ph.secs)
					got[c][p].add(r, configured, lc.rate)
					msg += fmt.Sprintf(" %s %.3f×", name, amount/ph.secs/lc.rate)
				}
				b.Log(msg)
			}
		}
	}
	for c, lc := range limitCases {
		unit, verb, scale := "requests/s", "%.1f", 1.0
		if !lc.ops {
			unit, verb, scale = "MiB/s", "%.2f", 1.0/(1<<20)
		}
		for p, name := range blkPhases {
			vals := got[c][p]
			if scale != 1 {
				vals = scaled(vals, scale)
			}
			rowsOut = append(rowsOut, devRow{row{fmt.Sprintf("disk `%s`, guest's %s (%s)", lc.opt, name, unit), verb, vals, withinTenPercent},
				configured, "the configured rate"})
		}
	}
	devRows = append(devRows, rowsOut...)
	devSetups = append(devSetups, fmt.Sprintf("rate limits: %d runs of each of %v, interleaved", *devRuns, cmdlines))
	devTook += time.Since(start)
}

// scaled is r with every value multiplied by k (bytes to MiB).
func scaled(r rounds, k float64) rounds {
	out := newRounds(len(r))
	for i, s := range r {
		for name, xs := range s {
			for _, x := range xs {
				out.add(i, name, x*k)
			}
		}
	}
	return out
}
