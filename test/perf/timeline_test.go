package perf

import (
	"bufio"
	"cmp"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkBootTimeline breaks glue's start-up into its phases with
// `glue run --boot-timeline` (ms since glue's main; the process start
// before main is in the start-up rows): KVM setup, memory, devices, kernel
// load, vCPU start, first guest output, the guest's end marker.
func BenchmarkBootTimeline(b *testing.B) {
	glue, _ := vmms(b)
	byPhase := map[string]rounds{}
	var order []string
	for r := range *nRounds {
		for range *boots {
			// The guest resets at its end (not glue.end=halt as elsewhere):
			// glue prints the timeline when the VM ends.
			out, err := exec.Command(glue.path, withTimeline(glue).args("glue.test=cmdline", devices{})...).CombinedOutput()
			if err != nil {
				b.Fatalf("glue --boot-timeline: %v\n%s", err, out)
			}
			for phase, at := range parseTimeline(string(out)) {
				if byPhase[phase] == nil {
					byPhase[phase] = newRounds(*nRounds)
					order = append(order, phase)
				}
				byPhase[phase].add(r, glue.name, at)
			}
		}
	}
	for _, phase := range timelineOrder(order, byPhase) {
		record(row{"glue boot phase: " + phase + " (ms since main)", "%.2f", byPhase[phase], nil})
	}
	setup(fmt.Sprintf("boot timeline: %d runs of `glue run --boot-timeline`", *boots))
}

// withTimeline is glue (v, whose arguments begin with "run") with
// --boot-timeline: it prints the timeline on stderr when the VM ends.
func withTimeline(v vmm) vmm {
	args := v.args
	v.args = func(cmdline string, dev devices) []string {
		return append([]string{"run", "--boot-timeline"}, args(cmdline, dev)[1:]...)
	}
	return v
}

// parseTimeline reads the lines `glue run --boot-timeline` prints:
// "<ms> <+ms> <phase>" after a header.
func parseTimeline(out string) map[string]float64 {
	phases := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "boot timeline") {
			in = true
			continue
		}
		f := strings.Fields(line)
		if !in || len(f) < 3 {
			continue
		}
		at, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		phases[strings.Join(f[2:], " ")] = at
	}
	return phases
}

// timelineOrder sorts phases by their median time.
func timelineOrder(phases []string, byPhase map[string]rounds) []string {
	sorted := slices.Clone(phases)
	slices.SortStableFunc(sorted, func(a, b string) int {
		return cmp.Compare(byPhase[a].pooled()["glue"].median(), byPhase[b].pooled()["glue"].median())
	})
	return sorted
}
