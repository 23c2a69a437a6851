package main

import (
	"strings"
	"testing"
)

func TestMonitorLineBusiestFirst(t *testing.T) {
	before := map[int]procTicks{1: {"init", "S", 5}, 2: {"glue", "R", 100}, 3: {"idle", "S", 7}}
	after := map[int]procTicks{1: {"init", "S", 6}, 2: {"glue", "R", 400}, 3: {"idle", "S", 7}, 4: {"new", "R", 50}}
	got := monitorLine("5 kB", before, after)
	want := "emuinit: MemAvailable 5 kB, 4 processes, CPU ticks since the last line: glue[2] 300 new[4] 50 init[1] 1"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestFormatCounts(t *testing.T) {
	if got, want := formatCounts(map[string]int{"kvm_vcpu_block": 1, "futex_do_wait": 5}), "futex_do_wait×5 kvm_vcpu_block×1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A detached VM's glue that ended and is not reaped yet: no line.
func TestGlueThreadsLeavesOutZombies(t *testing.T) {
	procs := map[int]procTicks{1 << 30: {"glue", "Z", 9}, 1<<30 + 1: {"glue", "S", 9}, 1<<30 + 2: {"go", "S", 9}}
	got := glueThreads(procs)
	if len(got) != 1 || !strings.HasPrefix(got[0], "emuinit: glue[1073741825] threads:") {
		t.Fatalf("glueThreads: %q, want the one live glue", got)
	}
}
