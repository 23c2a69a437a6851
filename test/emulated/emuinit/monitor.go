package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gluevmm/glue/test/procstat"
)

// monitorEvery is how often the machine's console gets a line on what ran:
// when a machine wedges, package emulated prints the console's last lines,
// and these say which processes had the one CPU and how much memory was
// left, which the tests' own output cannot.
const monitorEvery = time.Minute

// idleTicks is how few clock ticks (of the 100 a second, all processes
// together) make a monitor interval idle, and idleIntervals how many idle
// intervals in a row, with a glue running, make monitor ask each glue
// for its goroutines: nothing in a test waits that long doing nothing,
// so glue, its guest and the test are waiting on each other, and SIGQUIT
// (which glue does not catch) makes the Go runtime print every
// goroutine's stack on glue's stderr, into the failing test's log.
const (
	idleTicks     = 60
	idleIntervals = 2
)

// monitor writes a monitor line to w every monitorEvery, forever.
func monitor(w io.Writer) {
	last := cpuTicks()
	idle := 0
	for range time.Tick(monitorEvery) {
		now := cpuTicks()
		fmt.Fprintln(w, monitorLine(meminfo("MemAvailable"), last, now))
		glues := glueThreads(now)
		for _, l := range glues {
			fmt.Fprintln(w, l)
		}
		if ticksUsed(last, now) >= idleTicks || len(glues) == 0 {
			idle = 0
		} else if idle++; idle == idleIntervals {
			for pid, p := range now {
				if p.comm == "glue" && p.state != "Z" {
					fmt.Fprintf(w, "emuinit: idle for %d minutes with glue[%d] running: sending it SIGQUIT for its goroutines\n", idle, pid)
					syscall.Kill(pid, syscall.SIGQUIT)
				}
			}
		}
		last = now
	}
}

// ticksUsed returns the clock ticks all processes used between two samples.
func ticksUsed(before, after map[int]procTicks) uint64 {
	var sum uint64
	for pid, p := range after {
		if b := before[pid].ticks; p.ticks > b {
			sum += p.ticks - b
		}
	}
	return sum
}

// procTicks is a process's name, state letter and CPU time in clock ticks.
type procTicks struct {
	comm  string
	state string
	ticks uint64
}

// monitorLine says how much memory was available and which processes used
// the CPU between two cpuTicks samples, busiest first (at most five).
func monitorLine(memAvailable string, before, after map[int]procTicks) string {
	type use struct {
		pid   int
		comm  string
		ticks uint64
	}
	var top []use
	for pid, p := range after {
		if p.ticks > before[pid].ticks {
			top = append(top, use{pid, p.comm, p.ticks - before[pid].ticks})
		}
	}
	slices.SortFunc(top, func(a, b use) int { return cmp.Compare(b.ticks, a.ticks) })
	var b strings.Builder
	fmt.Fprintf(&b, "emuinit: MemAvailable %s, %d processes, CPU ticks since the last line:", memAvailable, len(after))
	for _, p := range top[:min(5, len(top))] {
		fmt.Fprintf(&b, " %s[%d] %d", p.comm, p.pid, p.ticks)
	}
	return b.String()
}

// glueThreads says, for every live glue process, where its threads wait
// in the kernel (their wchan, counted): a vCPU in kvm_vcpu_block is a
// halted guest, every thread in a futex wait a glue that waits on itself.
// Zombies are left out: a detached VM's process that ended is one until
// the reaper collects it.
func glueThreads(procs map[int]procTicks) []string {
	var lines []string
	for pid, p := range procs {
		if p.comm != "glue" || p.state == "Z" {
			continue
		}
		count := map[string]int{}
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*", pid))
		for _, task := range tasks {
			w := string(readFile(filepath.Join(task, "wchan")))
			if w == "" || w == "0" {
				w = "running"
			}
			count[w]++
		}
		lines = append(lines, fmt.Sprintf("emuinit: glue[%d] threads: %s", pid, formatCounts(count)))
	}
	slices.Sort(lines)
	return lines
}

// formatCounts writes count as "key×n" words, in key order.
func formatCounts(count map[string]int) string {
	var words []string
	for _, k := range slices.Sorted(maps.Keys(count)) {
		words = append(words, fmt.Sprintf("%s×%d", k, count[k]))
	}
	return strings.Join(words, " ")
}

// cpuTicks reads utime+stime of every process in /proc.
func cpuTicks() map[int]procTicks {
	procs := map[int]procTicks{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if s, err := procstat.Read(pid); err == nil {
			procs[pid] = procTicks{comm: s.Comm, state: string(s.State), ticks: uint64(s.UTime + s.STime)}
		}
	}
	return procs
}

// meminfo returns the value of key in /proc/meminfo ("?" if absent).
func meminfo(key string) string {
	for line := range strings.Lines(string(readFile("/proc/meminfo"))) {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// readFile returns path's contents, or nothing: a process that ended
// meanwhile has no files.
func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}
