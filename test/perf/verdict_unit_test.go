package perf

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// threeRounds builds rounds from per-round glue, QEMU and host values (one
// run each); a negative value leaves that VMM out of the round.
func threeRounds(vals ...[3]float64) rounds {
	r := newRounds(len(vals))
	for i, v := range vals {
		for j, name := range []string{"glue", "qemu", hostName} {
			if v[j] >= 0 {
				r.add(i, name, v[j])
			}
		}
	}
	return r
}

func TestJudge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target target
		rounds rounds
		want   outcome
		cell   string
	}{
		{"no target", nil, threeRounds([3]float64{1, 2, -1}), noTarget, "–"},
		{"met in every round", quarterOfQEMU,
			threeRounds([3]float64{20, 100, -1}, [3]float64{24, 100, -1}, [3]float64{21, 100, -1}),
			met, "met (glue/QEMU 0.200–0.240)"},
		{"equal to the bound is met", quarterOfQEMU,
			threeRounds([3]float64{25, 100, -1}, [3]float64{25, 100, -1}, [3]float64{25, 100, -1}),
			met, "met (glue/QEMU 0.250–0.250)"},
		{"met in no round", quarterOfQEMU,
			threeRounds([3]float64{30, 100, -1}, [3]float64{26, 100, -1}, [3]float64{40, 100, -1}),
			notMet, "**not met** (glue/QEMU 0.260–0.400)"},
		{"met in some rounds", quarterOfQEMU,
			threeRounds([3]float64{20, 100, -1}, [3]float64{30, 100, -1}, [3]float64{24, 100, -1}),
			notReproducible, "not reproducible (glue/QEMU 0.200–0.300)"},
		{"met in one round of three", quarterOfQEMU,
			threeRounds([3]float64{30, 100, -1}, [3]float64{20, 100, -1}, [3]float64{26, 100, -1}),
			notReproducible, "not reproducible (glue/QEMU 0.200–0.300)"},
		{"at least: below in one round", atLeastQEMU,
			threeRounds([3]float64{110, 100, -1}, [3]float64{95, 100, -1}, [3]float64{100, 100, -1}),
			notReproducible, "not reproducible (glue/QEMU 0.950–1.10)"},
		{"at least: above in all", atLeastQEMU,
			threeRounds([3]float64{110, 100, -1}, [3]float64{101, 100, -1}, [3]float64{100, 100, -1}),
			met, "met (glue/QEMU 1.00–1.10)"},
		{"absolute bound", fiveMiB,
			threeRounds([3]float64{8.9, 40, -1}, [3]float64{8.8, 41, -1}, [3]float64{9, 40, -1}),
			notMet, "**not met** (glue (MiB) 8.80–9.00)"},
		{"absolute bound needs no QEMU", fiveMiB,
			threeRounds([3]float64{4, -1, -1}, [3]float64{5, -1, -1}, [3]float64{4.5, -1, -1}),
			met, "met (glue (MiB) 4.00–5.00)"},
		{"two bounds: one fails everywhere", blockSeq,
			threeRounds([3]float64{150, 140, 5000}, [3]float64{160, 150, 5000}, [3]float64{170, 160, 5000}),
			notMet, "**not met** (glue/host 0.030–0.034, glue/QEMU 1.06–1.07)"},
		{"two bounds: both hold in two rounds of three", blockSeq,
			threeRounds([3]float64{90, 80, 100}, [3]float64{85, 90, 100}, [3]float64{95, 90, 100}),
			notReproducible, "not reproducible (glue/host 0.850–0.950, glue/QEMU 0.944–1.12)"},
		{"too few rounds", quarterOfQEMU,
			threeRounds([3]float64{20, 100, -1}, [3]float64{20, 100, -1}),
			unjudged, "no verdict (glue/QEMU 0.200–0.200)"},
		{"QEMU missing in a round", quarterOfQEMU,
			threeRounds([3]float64{20, 100, -1}, [3]float64{20, -1, -1}, [3]float64{20, 100, -1}),
			unjudged, "no verdict"},
		{"QEMU's median is zero", atMostQEMU,
			threeRounds([3]float64{0, 0, -1}, [3]float64{0, 0, -1}, [3]float64{0, 0, -1}),
			unjudged, "no verdict"},
		{"glue missing", quarterOfQEMU,
			threeRounds([3]float64{-1, 100, -1}, [3]float64{-1, 100, -1}, [3]float64{-1, 100, -1}),
			unjudged, "no verdict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := judge(tc.target, tc.rounds)
			if v.outcome != tc.want {
				t.Errorf("outcome = %v, want %v", v.outcome, tc.want)
			}
			if got := v.cell(); got != tc.cell {
				t.Errorf("cell = %q, want %q", got, tc.cell)
			}
		})
	}
}

// Each round is judged on its own medians, not on the pooled runs.
func TestJudgeUsesEachRoundsMedian(t *testing.T) {
	t.Parallel()
	r := newRounds(3)
	for i := range 3 {
		for _, g := range []float64{10, 20, 90} { // median 20: ≤ ¼ of 100
			r.add(i, "glue", g)
		}
		r.add(i, "qemu", 100)
	}
	v := judge(quarterOfQEMU, r)
	if v.outcome != met || v.perRound() != "glue/QEMU 0.200, 0.200, 0.200" {
		t.Errorf("judge = %v, %q; want met on medians 0.2", v.outcome, v.perRound())
	}
}

func TestTargetString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target target
		want   string
	}{
		{nil, "–"},
		{quarterOfQEMU, "≤ 0.25× QEMU"},
		{atLeastQEMU, "≥ QEMU"},
		{atMostQEMU, "≤ QEMU"},
		{fiveMiB, "≤ 5 MiB"},
		{blockSeq, "≥ 0.8× host, ≥ QEMU"},
		{firstByteTarget, "≤ 0.25× QEMU, ≤ kvmtool (without kvmtool: ≤ 1.15× bare)"},
		{exitsTarget, "≥ QEMU, ≥ 0.95× bare"},
		{firecrackerRate, "≥ 5 per s"},
	} {
		if got := tc.target.String(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.target, got, tc.want)
		}
	}
}

func TestPooled(t *testing.T) {
	t.Parallel()
	r := threeRounds([3]float64{1, 4, -1}, [3]float64{2, 5, -1}, [3]float64{3, 6, 7})
	p := r.pooled()
	if !slices.Equal(p["glue"], sample{1, 2, 3}) || !slices.Equal(p["qemu"], sample{4, 5, 6}) || !slices.Equal(p[hostName], sample{7}) {
		t.Errorf("pooled = %v", p)
	}
}

func TestRatio(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b sample
		want string
	}{
		{"medians", sample{3, 1, 5}, sample{2}, "1.500"},
		{"missing", sample{3}, nil, "–"},
		{"zero denominator", sample{3}, sample{0}, "–"},
	} {
		if got := ratio(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: ratio = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The table's verdict column and the list of targets below it come from
// the same judgement, with the per-round figures it rests on.
func TestReportVerdicts(t *testing.T) {
	rows, setups = []row{
		{"start (ms)", "%.1f", threeRounds([3]float64{20, 100, -1}, [3]float64{30, 100, -1}, [3]float64{24, 100, -1}), quarterOfQEMU},
		{"rss (MiB)", "%.1f", threeRounds([3]float64{9, 40, -1}, [3]float64{9, 40, -1}, [3]float64{9, 40, -1}), fiveMiB},
		{"cpu (ms)", "%.1f", threeRounds([3]float64{1, 2, -1}, [3]float64{1, 2, -1}, [3]float64{1, 2, -1}), nil},
	}, []string{"x: 1 run"}
	t.Cleanup(func() { rows, setups = nil, nil })
	got := report("a machine", time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), 90*time.Second, 3)
	for _, want := range []string{
		"Measured 2026-12-03 09:00 UTC on: a machine.",
		"Runs, in each of 3 rounds: x: 1 run;",
		"The benchmarks took 1.5 minutes.",
		"| metric | glue | kvmtool | bare C | bare Go | QEMU microvm | host | glue/kvmtool | glue/bare | glue/bare Go | glue/QEMU | glue/host | target | verdict over the rounds |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n",
		"| start (ms) | 24.0 (20.0–30.0) | – | – | – | 100.0 (100.0–100.0) | – | – | – | – | 0.240 | – | ≤ 0.25× QEMU | not reproducible (glue/QEMU 0.200–0.300) |",
		"| rss (MiB) | 9.0 (9.0–9.0) | – | – | – | 40.0 (40.0–40.0) | – | – | – | – | 0.225 | – | ≤ 5 MiB | **not met** (glue (MiB) 9.00–9.00) |",
		"| cpu (ms) | 1.0 (1.0–1.0) | – | – | – | 2.0 (2.0–2.0) | – | – | – | – | 0.500 | – | – | – |",
		"- start (ms), target ≤ 0.25× QEMU: **not reproducible**; glue/QEMU 0.200, 0.300, 0.240.\n",
		"- rss (MiB), target ≤ 5 MiB: **not met**; glue (MiB) 9.00, 9.00, 9.00.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "- cpu (ms)") {
		t.Errorf("report lists a row without a target among the targets:\n%s", got)
	}
}

// roundsOf builds rounds from per-VMM values, one run per round each.
func roundsOf(vals map[string][]float64) rounds {
	n := 0
	for _, v := range vals {
		n = max(n, len(v))
	}
	r := newRounds(n)
	for name, v := range vals {
		for i, x := range v {
			r.add(i, name, x)
		}
	}
	return r
}

// Issue 11's targets: against kvmtool, or the bare harness where kvmtool
// was not measured; against the bare harness's exit rate; absolute ones.
func TestPeerTargets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target target
		vals   map[string][]float64
		want   outcome
		cell   string
	}{
		{"start-up at most kvmtool's", firstByteTarget,
			map[string][]float64{"glue": {9, 9, 10}, "qemu": {50, 50, 50}, kvmtoolName: {10, 10, 10}, bareName: {2, 2, 2}},
			met, "met (glue/QEMU 0.180–0.200, glue/kvmtool 0.900–1.00)"},
		{"start-up above kvmtool's", firstByteTarget,
			map[string][]float64{"glue": {11, 12, 11}, "qemu": {50, 50, 50}, kvmtoolName: {10, 10, 10}, bareName: {11, 12, 11}},
			notMet, "**not met** (glue/QEMU 0.220–0.240, glue/kvmtool 1.10–1.20)"},
		{"without kvmtool: glue/bare against the issue's kvmtool/bare", firstByteTarget,
			map[string][]float64{"glue": {11, 11, 11}, "qemu": {50, 50, 50}, bareName: {10, 10, 10}},
			met, "met (glue/QEMU 0.220–0.220, glue/bare 1.10–1.10)"},
		{"without kvmtool: too slow against bare", firstByteTarget,
			map[string][]float64{"glue": {12, 12, 12}, "qemu": {50, 50, 50}, bareName: {10, 10, 10}},
			notMet, "**not met** (glue/QEMU 0.240–0.240, glue/bare 1.20–1.20)"},
		{"kvmtool in some rounds only: no fallback", firstByteTarget,
			map[string][]float64{"glue": {9, 9, 9}, "qemu": {50, 50, 50}, kvmtoolName: {10}, bareName: {9, 9, 9}},
			unjudged, "no verdict"},
		{"no fallback for GLUE-DONE", doneTarget,
			map[string][]float64{"glue": {9, 9, 9}, "qemu": {50, 50, 50}, bareName: {9, 9, 9}},
			unjudged, "no verdict"},
		{"CPU per VM against kvmtool", atMostKvmtool,
			map[string][]float64{"glue": {5, 6, 5}, kvmtoolName: {5.5, 5.5, 5.5}, bareName: {1, 1, 1}, "qemu": {1, 1, 1}},
			notReproducible, "not reproducible (glue/kvmtool 0.909–1.09)"},
		{"exits against bare", exitsTarget,
			map[string][]float64{"glue": {96, 95, 97}, "qemu": {90, 90, 90}, bareName: {100, 100, 100}, kvmtoolName: {1, 1, 1}},
			met, "met (glue/QEMU 1.06–1.08, glue/bare 0.950–0.970)"},
		{"exits below 0.95× bare", exitsTarget,
			map[string][]float64{"glue": {94, 94, 94}, "qemu": {90, 90, 90}, bareName: {100, 100, 100}},
			notMet, "**not met** (glue/QEMU 1.04–1.04, glue/bare 0.940–0.940)"},
		{"private memory", halfMiB,
			map[string][]float64{"glue": {0.4, 0.5, 0.45}, bareName: {9, 9, 9}},
			met, "met (glue (MiB) 0.400–0.500)"},
		{"private memory over 0.5 MiB", halfMiB,
			map[string][]float64{"glue": {0.6, 3, 0.51}, bareName: {0.05, 0.05, 0.05}},
			notMet, "**not met** (glue (MiB) 0.510–3.00)"},
		{"creations per second", firecrackerRate,
			map[string][]float64{"glue": {28, 4, 30}, kvmtoolName: {1, 1, 1}},
			notReproducible, "not reproducible (glue (per s) 4.00–30.0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := judge(tc.target, roundsOf(tc.vals))
			if v.outcome != tc.want || v.cell() != tc.cell {
				t.Errorf("judge = %v, %q; want %v, %q", v.outcome, v.cell(), tc.want, tc.cell)
			}
		})
	}
}

// Each peer's figures land in its own column, and each ratio divides
// glue's median by that column's.
func TestReportPeerColumns(t *testing.T) {
	vals := map[string][]float64{"glue": {10, 10, 10}, kvmtoolName: {20, 20, 20}, bareName: {40, 40, 40}, bareGoName: {16, 16, 16}, "qemu": {80, 80, 80}, hostName: {5, 5, 5}}
	rows, setups, peerNotes = []row{{"start (ms)", "%.0f", roundsOf(vals), nil}}, []string{"x: 1 run"}, []string{"kvmtool: not measured, a reason"}
	t.Cleanup(func() { rows, setups, peerNotes = nil, nil, nil })
	got := report("m", time.Unix(0, 0), time.Minute, 3)
	want := "| start (ms) | 10 (10–10) | 20 (20–20) | 40 (40–40) | 16 (16–16) | 80 (80–80) | 5 (5–5) | 0.500 | 0.250 | 0.625 | 0.125 | 2.000 | – | – |"
	if !strings.Contains(got, want) {
		t.Errorf("report lacks %q:\n%s", want, got)
	}
	if !strings.Contains(got, "Peers: kvmtool: not measured, a reason.") {
		t.Errorf("report does not say why a peer is missing:\n%s", got)
	}
}

func TestFigure(t *testing.T) {
	t.Parallel()
	for x, want := range map[float64]string{0.2374: "0.237", 1.074: "1.07", 34.66: "34.7", 615.3: "615", -0.5: "-0.500"} {
		if got := figure(x); got != want {
			t.Errorf("figure(%v) = %q, want %q", x, got, want)
		}
	}
}

// The transports' block puts glue on PCI, glue on MMIO and QEMU on PCI in
// their columns, with glue PCI's ratio to each, and judges the targets
// against QEMU on PCI.
func TestTransportReport(t *testing.T) {
	r := threeRounds([3]float64{100, 50, -1}, [3]float64{120, 50, -1}, [3]float64{110, 50, -1})
	for i, mmio := range []float64{200, 200, 220} {
		r.add(i, glueMMIO, mmio)
	}
	transportRows, transportSetup, transportTook = []row{{"write (MiB/s)", "%.0f", r, atLeastQEMU}}, "x: 2 runs", 3*time.Minute
	t.Cleanup(func() { transportRows, transportSetup, transportTook = nil, "", 0 })
	got := transportReport("a machine", time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	for _, want := range []string{
		"Measured 2026-12-03 09:00 UTC on: a machine.",
		"Runs: x: 2 runs. The benchmark took 3.0 minutes.",
		"| metric | glue, virtio-pci | glue, virtio-mmio | QEMU microvm, virtio-pci | glue pci/mmio | glue/QEMU, pci |",
		"| write (MiB/s) | 110 (100–120) | 200 (200–220) | 50 (50–50) | 0.550 | 2.200 | ≥ QEMU | met (glue/QEMU 2.00–2.40) |",
		"- write (MiB/s), target ≥ QEMU: **met**; glue/QEMU 2.00, 2.40, 2.20.\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("transport report lacks %q:\n%s", want, got)
		}
	}
}

// -update-doc may rewrite the transports' block after BenchmarkTransports
// alone, but the main block only after every other benchmark ran.
func TestGeneratedBlocks(t *testing.T) {
	one := []row{{"x", "%.0f", threeRounds([3]float64{1, 1, -1}, [3]float64{1, 1, -1}, [3]float64{1, 1, -1}), nil}}
	t.Cleanup(func() { rows, setups, transportRows = nil, nil, nil })
	for _, tc := range []struct {
		name       string
		main, pci  bool
		setupLines int
		want       map[string]bool // begin marker → complete
	}{
		{"transports alone", false, true, 0, map[string]bool{transportBegin: true}},
		{"some main benchmarks", true, false, 2, map[string]bool{beginMarker: false}},
		{"everything", true, true, mainBenchmarks, map[string]bool{beginMarker: true, transportBegin: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, setups, transportRows = nil, make([]string, tc.setupLines), nil
			if tc.main {
				rows = one
			}
			if tc.pci {
				transportRows = one
			}
			got := map[string]bool{}
			for _, blk := range generatedBlocks("m", time.Now(), time.Minute) {
				got[blk.begin] = blk.complete
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("blocks (begin marker → complete) = %v, want %v", got, tc.want)
			}
		})
	}
}
