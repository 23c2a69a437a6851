package perf

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkStartup times process start → first byte of guest output, and
// → GLUE-DONE of the cmdline test (a whole tiny boot), and reads the
// VMM's memory use at that point.
func BenchmarkStartup(b *testing.B) {
	glue, qemu := vmms(b)
	cmdline := guestCmdline("cmdline")
	n := *nRounds
	first, done, cpu := newRounds(n), newRounds(n), newRounds(n)
	peak, guest, private, file := newRounds(n), newRounds(n), newRounds(n), newRounds(n)
	creations := newRounds(n)
	interleave(b, *boots, vmmOrder(glue, qemu, peers(b)...), func(r int, v vmm) {
		tr, err := boot(v, cmdline, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		first.add(r, v.name, ms(tr.firstByte))
		done.add(r, v.name, ms(tr.end.at))
		cpu.add(r, v.name, ms(tr.cpu))
		if tr.cpu > 0 {
			creations.add(r, v.name, 1/tr.cpu.Seconds())
		}
		m := tr.mem
		peak.add(r, v.name, mib(m.peakKiB))
		file.add(r, v.name, mib(m.fileKiB))
		if m.guestKiB >= 0 {
			guest.add(r, v.name, mib(m.guestKiB))
			private.add(r, v.name, mib(m.anonKiB-m.guestKiB))
		}
	})
	first.pooled().report(b, "first-byte-ms", "first-byte-ratio")
	done.pooled().report(b, "done-ms", "done-ratio")
	peak.pooled().report(b, "rss-MiB", "rss-ratio")
	record(row{"start → first guest byte (ms)", "%.1f", first, firstByteTarget})
	record(row{"start → `GLUE-DONE` (ms)", "%.1f", done, doneTarget})
	record(row{"VMM CPU time, user+sys, until killed (ms)", "%.1f", cpu, atMostKvmtool})
	record(row{"VM creations per second per core (1 s / VMM CPU per VM; Firecracker specifies 5)", "%.0f", creations, firecrackerRate})
	record(row{"peak RSS, VmHWM (MiB)", "%.1f", peak, fiveMiB})
	record(row{"… guest RAM resident (MiB)", "%.1f", guest, nil})
	record(row{"… other private memory (MiB)", "%.2f", private, halfMiB})
	record(row{"… file-backed: binary, libraries (MiB)", "%.1f", file, nil})
	setup(fmt.Sprintf("start-up and memory: %d boots per VMM, guest `%s`", *boots, cmdline))
}

// The issues' targets.
var (
	quarterOfQEMU = target{{ref: "qemu", atMost: true, factor: 0.25}}
	// Issue 11: start-up at most kvmtool's; where kvmtool is not there,
	// glue/bare at most the issue's kvmtool/bare (10.7 ms / 9.3 ms).
	firstByteTarget = target{quarterOfQEMU[0], {ref: kvmtoolName, atMost: true, factor: 1,
		alt: &bound{ref: bareName, atMost: true, factor: issueKvmtoolOverBare}}}
	doneTarget    = target{quarterOfQEMU[0], {ref: kvmtoolName, atMost: true, factor: 1}}
	atMostKvmtool = target{{ref: kvmtoolName, atMost: true, factor: 1}}
	halfMiB       = target{{atMost: true, factor: 0.5, unit: "MiB"}}
	// Firecracker's specification: 5 VM creations per core per second.
	firecrackerRate = target{{factor: 5, unit: "per s"}}
	exitsTarget     = target{{ref: "qemu", factor: 1}, {ref: bareName, factor: 0.95}}
	// Issue 11 asks 0.95× the bare harness of MMIO exits too; no target
	// against QEMU was set for them.
	mmioExitsTarget = target{{ref: bareName, factor: 0.95}}
	fiveMiB         = target{{atMost: true, factor: 5, unit: "MiB"}}
	// issueKvmtoolOverBare is kvmtool's start-up over the bare harness's
	// as issue 11 measured them, 10.7 ms / 9.3 ms, rounded up.
	issueKvmtoolOverBare = 1.15
	atLeastQEMU          = target{{ref: "qemu", factor: 1}}
	atMostQEMU           = target{{ref: "qemu", atMost: true, factor: 1}}
	blockSeq             = target{{ref: hostName, factor: 0.8}, {ref: "qemu", factor: 1}}
)

// BenchmarkExits measures exit round trips of both kinds in one boot: the
// guest does N outb to port 0x80, then N one-byte writes to an address
// in the MMIO hole that no VMM maps, each stretch between two lines,
// timed on the host as those lines arrive.
func BenchmarkExits(b *testing.B) {
	glue, qemu := vmms(b)
	n := *exitCount
	cmdline := guestCmdline(fmt.Sprintf("exits,mmio-exits glue.exits=%d", n))
	kinds := []exitKind{
		{test: "exits", name: "port-I/O", metric: "", target: exitsTarget},
		{test: "mmio-exits", name: "MMIO", metric: "mmio-", target: mmioExitsTarget},
	}
	for i := range kinds {
		kinds[i].rate, kinds[i].cpu, kinds[i].ticks = newRounds(*nRounds), newRounds(*nRounds), newRounds(*nRounds)
	}
	peak := newRounds(*nRounds)
	var tscHz []tscRun
	runs := map[string]int{}
	interleave(b, *exitRuns, vmmOrder(glue, qemu, peers(b)...), func(r int, v vmm) {
		tr, err := boot(v, cmdline, 10*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		runs[v.name]++
		for _, k := range kinds {
			perSec, cpuPerExit, ticks, hz := k.stretch(b, tr, v.name, n)
			k.rate.add(r, v.name, perSec)
			k.cpu.add(r, v.name, cpuPerExit)
			k.ticks.add(r, v.name, ticks)
			b.Logf("%s round %d run %d, %s: %.0f exits/s, %.1f µs CPU/exit, %.0f TSC ticks/exit", v.name, r+1, runs[v.name], k.name, perSec, cpuPerExit, ticks)
			tscHz = append(tscHz, tscRun{v.name + " " + k.name, runs[v.name], hz})
		}
		peak.add(r, v.name, mib(tr.mem.peakKiB))
	})
	clocks := checkClocks(b, tscHz)
	for _, k := range kinds {
		k.rate.pooled().report(b, k.metric+"exits/s", k.metric+"exits-ratio")
		k.cpu.pooled().report(b, k.metric+"cpu-µs/exit", "")
		k.ticks.pooled().report(b, k.metric+"tsc/exit", "")
		record(row{fmt.Sprintf("%s exits/s (N=%d)", k.name, n), "%.0f", k.rate, k.target})
		record(row{fmt.Sprintf("VMM CPU time per %s exit, user+sys (µs)", k.name), "%.1f", k.cpu, nil})
		record(row{fmt.Sprintf("guest TSC ticks per %s exit", k.name), "%.0f", k.ticks, nil})
	}
	record(row{"peak RSS after the exits run (MiB)", "%.1f", peak, fiveMiB})
	setup(fmt.Sprintf("exits: %d runs per VMM, guest `%s`, %s", *exitRuns, cmdline, clocks))
}

// exitKind is one of the exits run's two timed stretches, the guest test
// that makes it, and its results.
type exitKind struct {
	test, name, metric string // the guest test; what the rows and metrics call it
	target             target
	rate, cpu, ticks   rounds
}

// stretch reads k's stretch of a run of n exits: exits per host second,
// VMM CPU µs per exit, guest TSC ticks per exit, and the TSC rate the
// stretch implies.
func (k exitKind) stretch(b *testing.B, tr *trace, vmmName string, n int) (perSec, cpuPerExit, ticks, hz float64) {
	start, started := tr.find("GLUE-START " + k.test + " ")
	ok, found := tr.find("GLUE-OK " + k.test + " ")
	if !started || !found {
		b.Fatalf("%s: no GLUE-START and GLUE-OK %s lines:\n%s", vmmName, k.test, tr.output())
	}
	tsc, err := strconv.ParseFloat(field(ok.text, "tsc"), 64)
	if err != nil {
		b.Fatalf("%s: %q: no tsc=", vmmName, ok.text)
	}
	elapsed := (ok.at - start.at).Seconds()
	return float64(n) / elapsed, float64((ok.cpu - start.cpu).Microseconds()) / float64(n), tsc / float64(n), tsc / elapsed
}

// tscRun is the TSC rate one timed stretch of a run implies: guest TSC
// ticks over host seconds between the two lines around it.
type tscRun struct {
	what string // the VMM, and the stretch if a run has several
	run  int
	hz   float64
}

// checkClocks warns about runs whose host-timed interval disagrees with the
// guest's TSC: the TSC runs at a constant rate, so a run that implies a
// different one had a line delivered late (or early) by the VMM or the
// host, and its rate is off by as much. It returns what the results
// say about it.
func checkClocks(b *testing.B, runs []tscRun) string {
	all := sample{}
	for _, r := range runs {
		all = append(all, r.hz)
	}
	med := all.median()
	off := 0
	for _, r := range runs {
		if dev := r.hz/med - 1; dev > 0.1 || dev < -0.1 {
			off++
			b.Logf("%s run %d: host and guest clocks disagree by %+.0f%% (TSC %.2f GHz vs median %.2f GHz): output lines delivered late?",
				r.what, r.run, 100*dev, r.hz/1e9, med/1e9)
		}
	}
	return fmt.Sprintf("%d of %d timed stretches with host and guest clocks more than 10 %% apart", off, len(runs))
}

// interleave runs fn for each VMM of order runs times in every round,
// see interleaveRound; one untimed boot of each comes first.
func interleave(b *testing.B, runs int, order []vmm, fn func(round int, v vmm)) {
	b.Helper()
	warmUp(b, order)
	for r := range *nRounds {
		interleaveRound(r, runs, order, fn)
	}
}

// vmmOrder lists glue, QEMU if present, and the other peers: the VMMs a
// benchmark interleaves.
func vmmOrder(glue vmm, qemu *vmm, others ...vmm) []vmm {
	order := []vmm{glue}
	if qemu != nil {
		order = append(order, *qemu)
	}
	return append(order, others...)
}

// warmUp boots each VMM once, untimed, to bring the binaries and their
// libraries into the page cache, and returns the VMMs to interleave.
func warmUp(b *testing.B, order []vmm) []vmm {
	b.Helper()
	for _, v := range order {
		if _, err := boot(v, guestCmdline("cmdline"), time.Minute); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	return order
}

// interleaveRound runs fn runs times for each VMM (or other contender, as
// BenchmarkExtraction's decoders), alternating which goes first, so a
// burst of load from the other users of this host lands on both.
func interleaveRound[T any](round, runs int, order []T, fn func(round int, v T)) {
	for i := range runs {
		for j := range order {
			fn(round, order[(i+j)%len(order)])
		}
	}
}

// samples holds one metric's values per VMM name.
type samples map[string]sample

// report adds glue-<unit>, qemu-<unit> and host-<unit> (medians, of those
// measured) to the benchmark line and, if ratio is set and both ran,
// ratio = glue/QEMU.
func (s samples) report(b *testing.B, unit, ratio string) {
	b.ReportMetric(0, "ns/op") // wall time per op means nothing here
	for _, name := range []string{"glue", "qemu", kvmtoolName, bareName, bareGoName, hostName} {
		if len(s[name]) > 0 {
			b.ReportMetric(s[name].median(), name+"-"+unit)
		}
	}
	if ratio == "" || len(s["glue"]) == 0 {
		return
	}
	for _, ref := range []string{"qemu", kvmtoolName, bareName, bareGoName} {
		if len(s[ref]) > 0 && s[ref].median() != 0 {
			name := ratio // glue/QEMU keeps its old name
			if ref != "qemu" {
				name = ref + "-" + ratio
			}
			b.ReportMetric(s["glue"].median()/s[ref].median(), name)
		}
	}
}

// field returns the value of key=value in a marker line.
func field(text, key string) string {
	for _, f := range strings.Fields(text) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func mib(kib int64) float64 { return float64(kib) / 1024 }
