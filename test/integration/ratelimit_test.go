package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The rate-limit tests count, they do not time: what got through a limit
// of rate per second with a bucket of a tenth of it and a one-time burst
// is at most burst + rate/10 + rate × T, with T the whole run of glue as
// the test saw it, which is longer than any stretch the guest spent on
// the I/O, so a slow or loaded machine only makes the bound looser. How
// close a limited device comes to its rate is a figure they log (and
// docs/security.md quotes), not a condition.

// limitBound is burst + bucket + rate × elapsed.
func limitBound(rate, burst uint64, elapsed time.Duration) uint64 {
	return burst + max(rate/10, 1) + uint64(elapsed.Seconds()*float64(rate))
}

// A guest writing 1 MiB to a console limited to 64 KB/s with a 16 KB
// burst: the output is at most the bound, the guest still finishes, and
// glue says how much it dropped.
func TestRateLimitConsole(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	const rate, burst = 64000, 16000
	start := time.Now()
	res := runGlue(t, nil, "run", "--console", "virtio,bps=64K,bps-burst=16K", "-m", "64",
		"-p", "glue.test=console-flood glue.flood.kib=1024")
	elapsed := time.Since(start)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	// Anywhere in a line: the flood's last granted bytes need not end one.
	if !strings.Contains(res.stdout, "GLUE-OK console-flood kib=1024 ") {
		t.Fatalf("no GLUE-OK console-flood kib=1024\nstderr:\n%s", res.stderr)
	}
	got := uint64(len(res.stdout))
	if bound := limitBound(rate, burst, elapsed); got > bound {
		t.Fatalf("%d bytes of output in %v; the limit allows at most %d", got, elapsed, bound)
	}
	dropped := logValue(t, res.stderr, "over the console rate limit", "bytes")
	if dropped+got < 1<<20 {
		t.Fatalf("%d bytes out and %d counted as dropped: less than the guest's 1 MiB", got, dropped)
	}
	t.Logf("1 MiB flood: %d bytes out in %v (bound %d), %d dropped", got, elapsed.Round(time.Millisecond), limitBound(rate, burst, elapsed), dropped)
}

// waitLine waits for a whole line starting with prefix and returns the rest
// of it.
func waitLine(s *session, prefix string) string {
	s.t.Helper()
	for {
		out := s.waitFor(prefix, 2*time.Minute)
		rest := out[strings.Index(out, prefix)+len(prefix):]
		if line, _, ok := strings.Cut(rest, "\n"); ok {
			return line
		}
		time.Sleep(10 * time.Millisecond) // the rest of the line is on its way
	}
}

// The serial console under a limit of 10 B/s: the guest's few hundred
// bytes of test lines get at most the bound out, and the rest is counted.
func TestRateLimitSerial(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	const rate = 10
	start := time.Now()
	res := runGlue(t, nil, "run", "--console", "serial,bps=10", "-m", "64", "-p", "glue.test=cmdline,mem,cpus,cmdline,mem,cpus")
	elapsed := time.Since(start)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	got := uint64(len(res.stdout))
	if bound := limitBound(rate, 0, elapsed); got > bound {
		t.Fatalf("%d bytes of output in %v; the limit allows at most %d", got, elapsed, bound)
	}
	if dropped := logValue(t, res.stderr, "over the console rate limit", "bytes"); dropped+got < 300 {
		t.Fatalf("%d bytes out and %d dropped: less than the guest's test lines", got, dropped)
	}
}

// logValue returns the number after key= in the log line containing msg.
func logValue(t *testing.T, log, msg, key string) uint64 {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, key+"="); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				return n
			}
		}
	}
	t.Fatalf("no log line %q with %s=\n%s", msg, key, log)
	return 0
}

// The guest's block benchmark on a limited disk: the bytes (or requests)
// it moved are at most the bound over the whole run; each phase's rate
// is logged against the configured one.
func TestRateLimitBlock(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	for _, tc := range []struct {
		name    string
		opts    string // --disk options
		rate    uint64 // bytes or requests per second
		mib     int    // glue.blk.mib
		randOps int    // glue.blk.iops
		ops     bool   // the limit counts requests
	}{
		{"bandwidth", "bps=2Mi", 2 << 20, 4, 100, false},
		{"operations", "iops=25", 25, 1, 300, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := diskImage(t, 64)
			start := time.Now()
			s := startGlue(t, "run", "--disk", img+","+tc.opts, "-m", "64",
				"-p", fmt.Sprintf("glue.test=blk-bench glue.blk.mib=%d glue.blk.iops=%d", tc.mib, tc.randOps))
			var moved uint64
			for _, phase := range []string{"blk-seq-write", "blk-seq-read", "blk-rand-read"} {
				waitLine(s, "GLUE-START "+phase+" ")
				t0 := time.Now()
				details := waitLine(s, "GLUE-OK "+phase+" ")
				secs := time.Since(t0).Seconds()
				var bytes, reqs uint64
				if n, err := strconv.ParseUint(field(details, "ops"), 10, 64); err == nil {
					bytes, reqs = n*4096, n
				} else {
					req, err := strconv.ParseUint(field(details, "req"), 10, 64)
					if err != nil || req == 0 {
						t.Fatalf("%s: %q", phase, details)
					}
					bytes = uint64(tc.mib) << 20
					reqs = (bytes + req - 1) / req
				}
				amount := map[bool]uint64{false: bytes, true: reqs}[tc.ops]
				moved += amount
				t.Logf("%s: %.1f per s against a limit of %d (%.3f of it)", phase, float64(amount)/secs, tc.rate, float64(amount)/secs/float64(tc.rate))
			}
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("exit %d", code)
			}
			elapsed := time.Since(start)
			if bound := limitBound(tc.rate, 0, elapsed); moved > bound {
				t.Fatalf("moved %d in %v; the limit allows at most %d", moved, elapsed, bound)
			}
		})
	}
}

// A host pinging a guest whose receive or transmit side is limited to
// 10 KB/s: echo requests (or replies) are deferred, none lost (all
// answered), and the bytes that went the limited way while ping ran fit
// what the limit lets through in that time (a bucket at the start plus
// rate × time holds for any stretch).
func TestRateLimitNet(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	const rate, pings, payload = 10000, 20, 1000
	for _, tc := range []struct{ name, opts string }{
		{"receive", "rx-bps=10K"},
		{"transmit", "tx-bps=10K"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns := newNetns(t)
			ns.tap(t, "tap0", "192.0.2.1/24")
			s := startProcess(t, "ip", "netns", "exec", string(ns), glueBin, "run", "--net", "tap=tap0,"+tc.opts, "-m", "64",
				"-p", fmt.Sprintf("glue.test=net glue.ip=192.0.2.2 glue.net.pings=%d", pings))
			s.waitFor("GLUE-READY net", time.Minute)
			ns.run(t, "ping", "-c", "1", "-W", "10", "192.0.2.2") // ARP resolved before the timed stretch
			start := time.Now()
			out := ns.run(t, "ping", "-c", fmt.Sprint(pings-1), "-i", "0.01", "-s", fmt.Sprint(payload), "-w", "60", "192.0.2.2")
			elapsed := time.Since(start)
			if !strings.Contains(out, fmt.Sprintf("%d received", pings-1)) {
				t.Fatalf("echo replies lost:\n%s", out)
			}
			s.waitFor("GLUE-OK net ", time.Minute)
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("exit %d", code)
			}
			const frame = 14 + 20 + 8 + payload // Ethernet, IPv4, ICMP headers and the payload
			if got, bound := uint64((pings-1)*frame), limitBound(rate, 0, elapsed); got > bound {
				t.Fatalf("%d bytes of echo frames in %v; the limit allows at most %d", got, elapsed, bound)
			}
			t.Logf("%d echo frames of %d bytes in %v: %.0f B/s against a limit of %d", pings-1, frame, elapsed.Round(time.Millisecond),
				float64((pings-1)*frame)/elapsed.Seconds(), rate)
		})
	}
}
