package main

import (
	"strings"
	"testing"
	"time"
)

// measure times init's first line and GLUE-DONE, kills the VMM there,
// and tells a stall (no GLUE-DONE by the deadline) from a VMM that ended
// early; both keep the last lines. A shell stands in for the VMM.
func TestMeasure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		script                 string
		stalled, exited, timed bool
		fails                  int
		last                   string
	}{
		{"boots", "echo GLUE-OK init mounts x; echo GLUE-FAIL init rtc no; echo GLUE-DONE init ok=1; exec sleep 60",
			false, false, true, 1, ""},
		{"stalls", "echo GLUE-OK init mounts x; echo stuck here; exec sleep 60", true, false, false, 0, "stuck here"},
		{"ends early", "echo GLUE-OK init mounts x; echo bye; exit 3", false, true, false, 0, "exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			b := measure([]string{"/bin/sh", "-c", tt.script}, nil, 2*time.Second)
			if took := time.Since(start); took > 30*time.Second {
				t.Errorf("measure took %v: the VMM was not killed", took)
			}
			if b.Stalled != tt.stalled || b.Exited != tt.exited || b.Fails != tt.fails {
				t.Errorf("stalled %v exited %v fails %d, want %v %v %d", b.Stalled, b.Exited, b.Fails, tt.stalled, tt.exited, tt.fails)
			}
			if b.InitSecs <= 0 {
				t.Errorf("init's first line not timed: %+v", b)
			}
			if (b.DoneSecs > 0) != tt.timed || b.DoneSecs < 0 {
				t.Errorf("GLUE-DONE at %v, want timed=%v", b.DoneSecs, tt.timed)
			}
			if got := strings.Join(b.Last, "\n"); !strings.Contains(got, tt.last) || (tt.last == "") != (len(b.Last) == 0) {
				t.Errorf("last lines %q, want them to hold %q", b.Last, tt.last)
			}
			if b.CPUSecs < 0 || b.MaxRSSKiB <= 0 {
				t.Errorf("no resource use of the VMM: %+v", b)
			}
		})
	}
}
