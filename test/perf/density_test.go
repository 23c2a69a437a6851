package perf

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkDensity measures what many VMs cost together: for each N of
// -density it starts N VMs of one VMM at once, waits until every guest has
// printed GLUE-DONE (each then idles, halted, 512 MiB of RAM mapped), and
// sums their proportional set sizes (Pss in /proc/PID/smaps_rollup: a page
// shared by k processes counts 1/k in each, so the binary and its
// libraries are shared out between the VMs). Divided by N it is the host
// memory each VM costs in a set of N. The VMMs take turns within a round;
// the block is docs/performance.md's perf-density block.
func BenchmarkDensity(b *testing.B) {
	glue, qemu := vmms(b)
	order := vmmOrder(glue, qemu, peers(b)...)
	counts, err := densityCounts(*densityFlag)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	densityRows = nil
	for _, n := range counts {
		pss := newRounds(*nRounds)
		for r := range *nRounds {
			for _, v := range order {
				perVM, err := densitySet(v, n)
				if err != nil {
					b.Fatal(err)
				}
				pss.add(r, v.name, perVM)
			}
		}
		pss.pooled().report(b, fmt.Sprintf("pss-per-vm-of-%d-MiB", n), fmt.Sprintf("pss-%d-ratio", n))
		densityRows = append(densityRows, densityRow{n, pss})
	}
	densityTook = time.Since(start)
}

var densityFlag = flag.String("density", "1,10,50", "BenchmarkDensity: the numbers of VMs run at once, comma-separated")

// densityRow is one set size's PSS per VM, by VMM and round.
type densityRow struct {
	n   int
	pss rounds
}

var (
	densityRows []densityRow
	densityTook time.Duration
)

// The markers around the density block.
const (
	densityBegin = "<!-- perf-density:begin -->"
	densityEnd   = "<!-- perf-density:end -->"
)

func densityCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-density %q: want positive whole numbers, e.g. 1,10,50", s)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// densitySet runs n VMs of v at once and returns their summed PSS per VM
// in MiB, read while all n are alive and done booting.
func densitySet(v vmm, n int) (float64, error) {
	ready := make(chan int, n)     // a VM's PID, at its GLUE-DONE
	release := make(chan struct{}) // closed once the set is measured
	ended := make(chan error, n)   // each boot's end
	for range n {
		go func() {
			var pid int
			_, err := bootWith(v, guestCmdline("cmdline"), bootOpts{
				onStart: func(p int) { pid = p },
				onLine: func(l line) {
					if l.text == "GLUE-DONE" {
						ready <- pid
						<-release
					}
				},
			}, 5*time.Minute)
			ended <- err
		}()
	}
	var pids []int
	var err error
	endedEarly := 0
	for len(pids) < n && err == nil {
		select {
		case pid := <-ready:
			pids = append(pids, pid)
		case err = <-ended:
			endedEarly++
			if err == nil {
				err = fmt.Errorf("%s: a VM ended before the set was measured", v.name)
			}
		}
	}
	var totalKiB int64
	if err == nil {
		totalKiB, err = sumPss(pids)
	}
	close(release)
	for range n - endedEarly {
		if e := <-ended; err == nil {
			err = e
		}
	}
	if err != nil {
		return 0, err
	}
	return mib(totalKiB) / float64(n), nil
}

// sumPss adds up the Pss of the processes.
func sumPss(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			return 0, err
		}
		pss, err := kib(rollup, "Pss:")
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/smaps_rollup: %w", pid, err)
		}
		total += pss
	}
	return total, nil
}

// densityReport renders the block between the perf-density markers.
func densityReport(machine string, at time.Time) string {
	var b strings.Builder
	b.WriteString(measured(at, machine))
	fmt.Fprintf(&b, "Sets of N VMs of one VMM at once, guest `%s` (1 vCPU, %d MiB each, idle after `GLUE-DONE`), each VMM's set in turn, "+
		"in each of %d rounds. Peers: %s. The benchmark took %.1f minutes. "+
		"Each cell: the VMs' summed Pss (`/proc/PID/smaps_rollup`) divided by N, in MiB: median (min–max) over the rounds; "+
		"the ratios are those of the medians.\n\n",
		guestCmdline("cmdline"), guestMiB, *nRounds, peersLine(), densityTook.Minutes())
	var shown []struct{ name, title, short string }
	for _, c := range columns {
		for _, r := range densityRows {
			if len(r.pss.pooled()[c.name]) > 0 {
				shown = append(shown, c)
				break
			}
		}
	}
	b.WriteString("| VMs at once |")
	for _, c := range shown {
		b.WriteString(" " + c.title + " |")
	}
	for _, c := range shown[1:] {
		b.WriteString(" glue/" + c.short + " |")
	}
	b.WriteString("\n|---:|" + strings.Repeat("---:|", 2*len(shown)-1) + "\n")
	for _, r := range densityRows {
		all := r.pss.pooled()
		fmt.Fprintf(&b, "| %d |", r.n)
		for _, c := range shown {
			fmt.Fprintf(&b, " %s |", all[c.name].summary("%.2f"))
		}
		for _, c := range shown[1:] {
			fmt.Fprintf(&b, " %s |", ratio(all["glue"], all[c.name]))
		}
		b.WriteString("\n")
	}
	return b.String()
}
