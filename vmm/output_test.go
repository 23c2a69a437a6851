package vmm

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/ratelimit"
	"github.com/gluevmm/glue/ratelimit/ratelimittest"
)

// stalledConsole is a Config.Console whose Write never returns until the
// test ends: a terminal nobody reads.
type stalledConsole struct{ release chan struct{} }

func newStalledConsole(t *testing.T) stalledConsole {
	c := stalledConsole{release: make(chan struct{})}
	t.Cleanup(func() { close(c.release) })
	return c
}

func (c stalledConsole) Write(p []byte) (int, error) {
	<-c.release
	return len(p), nil
}

// within fails the test if f has not returned after a generous deadline:
// what it guards would otherwise hang forever.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s blocked", what)
	}
}

// The devices' writer takes three times its buffer from a console that
// never reads, dropping and counting what does not fit (it holds at most
// one buffer being written and one filling); closing it gives up on the
// console after GuestOutputFlushTimeout.
func TestGuestOutputNeverBlocks(t *testing.T) {
	t.Parallel()
	out := newGuestOutput(guestOutputConfig{console: newStalledConsole(t)})
	line := []byte("GLUE-COUNT 12345\n")
	written := 0
	within(t, "writing guest output", func() {
		for written < 3*GuestOutputBuffer {
			n, err := out.Write(line)
			if n != len(line) || err != nil {
				t.Errorf("Write = %d, %v", n, err)
				return
			}
			written += n
		}
	})
	if d := out.dropped(); d < uint64(written-2*GuestOutputBuffer) || d > uint64(written) {
		t.Errorf("dropped %d of %d bytes, want at least all past twice the %d-byte buffer", d, written, GuestOutputBuffer)
	}
	within(t, "closing guest output", func() { out.close(slog.New(slog.DiscardHandler)) })
}

// A VM whose Config.Console never reads still runs its guest to the end:
// the guest's vCPU never waits for the console.
func TestBuildConsoleStalled(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	tl := NewTimeline(time.Now())
	vm, err := Build(context.Background(), Config{CPUs: 1, MemMiB: 32, Cmdline: "glue.test=cmdline", Console: newStalledConsole(t), Timeline: tl})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "running the guest", func() {
		outcome, err := vm.Run(context.Background())
		if err != nil || outcome != OutcomeReset {
			t.Errorf("Run = %q, %v; want %q", outcome, err, OutcomeReset)
		}
	})
	if !slices.ContainsFunc(tl.Events(), func(e TimelineEvent) bool { return e.Phase == "guest marker GLUE-DONE" }) {
		t.Errorf("the guest never printed GLUE-DONE: %+v", tl.Events())
	}
	within(t, "closing the VM", func() { vm.Close() })
}

// A guest printing forever to a Config.Console that never reads can still
// be stopped, and its output past the buffer is counted as dropped.
func TestStopConsoleStalled(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	tl := NewTimeline(time.Now())
	vm, err := Build(context.Background(), Config{CPUs: 1, MemMiB: 32, Cmdline: "glue.test=counter", Console: newStalledConsole(t), Timeline: tl})
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan Outcome, 1)
	go func() {
		outcome, err := vm.Run(context.Background())
		if err != nil {
			t.Error(err)
		}
		ended <- outcome
	}()
	for !slices.ContainsFunc(tl.Events(), func(e TimelineEvent) bool { return e.Phase == "first guest output byte" }) {
		time.Sleep(10 * time.Millisecond)
	}
	vm.Stop(context.Background(), 0)
	within(t, "stopping the VM", func() {
		if o := <-ended; o != OutcomeStopped {
			t.Errorf("outcome %q, want %q", o, OutcomeStopped)
		}
	})
	within(t, "closing the VM", func() { vm.Close() })
}

// slowConsole takes its time over each write, as a terminal over a slow
// link does.
type slowConsole struct{ syncBuffer }

func (c *slowConsole) Write(p []byte) (int, error) {
	time.Sleep(50 * time.Millisecond)
	return c.syncBuffer.Write(p)
}

// When Run returns, the guest's last output has reached a slow
// Config.Console: nothing of it is still in the VM's buffer.
func TestRunDeliversOutput(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	var out slowConsole
	vm, err := Build(context.Background(), Config{CPUs: 1, MemMiB: 32, Cmdline: "glue.test=cmdline", Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if _, err := vm.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasSuffix(strings.TrimRight(got, "\r\n"), "GLUE-DONE") {
		t.Fatalf("after Run the console has:\n%s\nwant everything up to GLUE-DONE", got)
	}
}

// countingConsole counts what reaches the console.
type countingConsole struct{ n atomic.Uint64 }

func (c *countingConsole) Write(p []byte) (int, error) {
	c.n.Add(uint64(len(p)))
	return len(p), nil
}

// A guest writing 1 MB, in 64-byte writes 100 µs apart (0.66 s of
// simulated time), to a console limited to 64 KB/s with a 16 KB burst gets
// at most the burst, the bucket and the rate × time through; the rest is
// dropped and counted, and no write waits.
func TestGuestOutputRateLimit(t *testing.T) {
	t.Parallel()
	clock := ratelimittest.New()
	bucket := ratelimit.Bucket{Rate: 64000, OneTimeBurst: 16000}
	limit, err := ratelimit.New(ratelimit.Config{Bytes: bucket, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	dst := &countingConsole{}
	out := newGuestOutput(guestOutputConfig{console: dst, limit: limit})
	chunk := bytes.Repeat([]byte{'x'}, 64)
	const total = 1 << 20
	const step = 100 * time.Microsecond
	var elapsed time.Duration
	for written := 0; written < total; written += len(chunk) {
		if n, err := out.Write(chunk); n != len(chunk) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		clock.Advance(step)
		elapsed += step
	}
	out.close(slog.New(slog.DiscardHandler))
	got := dst.n.Load()
	bound := bucket.OneTimeBurst + bucket.Rate/10 + uint64(elapsed.Seconds()*float64(bucket.Rate))
	if got > bound || got < bound-bucket.Rate/10-uint64(len(chunk)) {
		t.Errorf("%d of %d bytes reached the console in %v; want burst + bucket + rate × time = %d", got, total, elapsed, bound)
	}
	if d := out.throttled(); d != total-got {
		t.Errorf("%d bytes counted as throttled, want %d", d, total-got)
	}
}
