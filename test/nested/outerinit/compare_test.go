package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/nested/plan"
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
		{"garbled blkperf", "echo GLUE-OK init mounts x; echo GLUE-OK init blkperf write-mibs=fast; echo GLUE-DONE init ok=2; exec sleep 60",
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

// measure keeps the MiB/s of init's blkperf line.
func TestMeasureBlkperf(t *testing.T) {
	t.Parallel()
	b := measure([]string{"/bin/sh", "-c", "echo GLUE-OK init mounts x; echo GLUE-OK init blkperf write-mibs=12.5 read-mibs=40.0 mib=32; " +
		"echo GLUE-DONE init ok=2 failed=0; exec sleep 60"}, nil, 5*time.Second)
	if b.BlkWriteMiBs != 12.5 || b.BlkReadMiBs != 40 || b.Fails != 0 {
		t.Errorf("write %v read %v MiB/s, fails %d; want 12.5, 40, 0", b.BlkWriteMiBs, b.BlkReadMiBs, b.Fails)
	}
}

// A boot that reaches GLUE-DONE with failed checks keeps what failed,
// up to plan.FailLinesKept lines.
func TestMeasureFailLines(t *testing.T) {
	t.Parallel()
	b := measure([]string{"/bin/sh", "-c", "echo GLUE-OK init mounts x; for i in 1 2 3 4 5 6 7; do echo GLUE-FAIL init c$i bad; done; " +
		"echo GLUE-DONE init ok=1 failed=7; exec sleep 60"}, nil, 5*time.Second)
	if b.Fails != 7 || len(b.FailLines) != plan.FailLinesKept || b.FailLines[0] != "GLUE-FAIL init c1 bad" {
		t.Errorf("fails %d, lines %q; want 7 and the first %d", b.Fails, b.FailLines, plan.FailLinesKept)
	}
}

// Init's blkperf details parse into the two rates; anything else is an
// error, not a zero that a median would take.
func TestParseRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		details     string
		write, read float64
		ok          bool
	}{
		{"write-mibs=8.0 read-mibs=64.5 mib=32", 8, 64.5, true},
		{"read-mibs=64.5 mib=32 write-mibs=8.0", 8, 64.5, true},
		{"write-mibs=8.0 mib=32", 0, 0, false},
		{"write-mibs=8.0 read-mibs=64.5", 0, 0, false},
		{"write-mibs=0.0 read-mibs=64.5 mib=32", 0, 0, false},
		{"write-mibs=+Inf read-mibs=64.5 mib=32", 0, 0, false},
		{"write-mibs=8.0 read-mibs=x mib=32", 0, 0, false},
		{"write-mibs=8.0 read-mibs=64.5 mib=32 stray", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tt := range tests {
		r, err := parseRates("blkperf", tt.details, "write-mibs", "read-mibs", "mib")
		var w, rd float64
		if err == nil {
			w, rd = r[0], r[1]
		}
		if w != tt.write || rd != tt.read || (err == nil) != tt.ok {
			t.Errorf("parseRates(blkperf, %q) = %v, %v; want %v, %v (ok %v)", tt.details, r, err, tt.write, tt.read, tt.ok)
		}
	}
	// tcp's line also carries digests, which are not numbers.
	r, err := parseRates("tcp", "received=67108864 received-sha256=ab12 sent=262144 sent-sha256=cd34 ms=900 received-mibs=80.5 sent-mibs=2.5",
		"received-mibs", "sent-mibs")
	if err != nil || len(r) != 2 || r[0] != 80.5 || r[1] != 2.5 {
		t.Errorf("parseRates(tcp, ...) = %v, %v; want [80.5 2.5]", r, err)
	}
}

// measure keeps the MiB/s of init's tcp line.
func TestMeasureTCP(t *testing.T) {
	t.Parallel()
	b := measure([]string{"/bin/sh", "-c", "echo GLUE-OK init mounts x; echo GLUE-OK init tcp received=1 received-sha256=a sent=1 sent-sha256=b ms=9 received-mibs=70.0 sent-mibs=3.5; " +
		"echo GLUE-DONE init ok=2 failed=0; exec sleep 60"}, nil, 5*time.Second)
	if b.TCPInMiBs != 70 || b.TCPOutMiBs != 3.5 || b.Fails != 0 {
		t.Errorf("tcp in %v out %v MiB/s, fails %d; want 70, 3.5, 0", b.TCPInMiBs, b.TCPOutMiBs, b.Fails)
	}
}

// Each boot's disk is a fresh image of zeros of the size asked for,
// whatever an earlier boot wrote; no path is no disk.
func TestFreshDisk(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(path, []byte("written by an earlier boot"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := freshDisk(path, 2); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 2<<20 || !bytes.Equal(b, make([]byte, 2<<20)) {
		t.Errorf("disk of %d bytes, want 2 MiB of zeros", len(b))
	}
	if err := freshDisk("", 2); err != nil {
		t.Errorf("no disk: %v", err)
	}
}
