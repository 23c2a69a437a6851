package main

import "testing"

func TestParseStat(t *testing.T) {
	p, ok := parseStat([]byte("1234 (glue (x) run) S 1 2 3 4 5 6 7 8 9 10 250 17 0 0 20 0 3 0 100 0 0\n"))
	if !ok || p.comm != "glue (x) run" || p.ticks != 267 {
		t.Fatalf("parseStat: %+v %v, want comm \"glue (x) run\", 267 ticks", p, ok)
	}
	for _, bad := range []string{"", "1234 glue S 1", "1 (a) S 1 2 3 4 5 6 7 8 9 10 x 17"} {
		if _, ok := parseStat([]byte(bad)); ok {
			t.Errorf("parseStat(%q) accepted", bad)
		}
	}
}

func TestMonitorLineBusiestFirst(t *testing.T) {
	before := map[int]procTicks{1: {"init", 5}, 2: {"glue", 100}, 3: {"idle", 7}}
	after := map[int]procTicks{1: {"init", 6}, 2: {"glue", 400}, 3: {"idle", 7}, 4: {"new", 50}}
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
