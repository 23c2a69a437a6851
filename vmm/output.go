package vmm

import (
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gluevmm/glue/console"
	"github.com/gluevmm/glue/ratelimit"
)

// GuestOutputBuffer is how many bytes of guest console output a VM queues
// while Config.Console is slower than the guest (plus the chunk being
// written to it); what does not fit is dropped and counted
// (VM.ConsoleOutputDropped), never waited for.
const GuestOutputBuffer = 1 << 20

// GuestOutputFlushTimeout bounds how long Close waits for the buffered
// output to reach a slow Config.Console.
const GuestOutputFlushTimeout = 2 * time.Second

// guestOutput is the guest's console output on its way to Config.Console.
// The console devices write it from vCPU threads and the event loop, which
// must never wait for the consumer, so it goes into a bounded buffer that
// one goroutine copies out (console.AsyncWriter). With a Timeline, the
// first byte and the first ready marker are marked on the vCPU's side of
// the buffer, when the guest wrote them. With Config.ConsoleLimit, what is
// over the limit is dropped before the buffer: a rate limit on output
// must not stall a vCPU either.
type guestOutput struct {
	io.Writer // what the devices write to
	buffer    *console.AsyncWriter
	limit     *throttledWriter // nil without a limit
	closeOnce sync.Once
}

// guestOutputConfig is where the output goes (nil: nowhere), the
// timeline to mark (may be nil) and the rate limit (nil: none).
type guestOutputConfig struct {
	console  io.Writer
	timeline *Timeline
	limit    *ratelimit.Limiter
}

func newGuestOutput(cfg guestOutputConfig) *guestOutput {
	dst := cfg.console
	if dst == nil {
		dst = io.Discard
	}
	buffer := console.NewAsyncWriter(dst, GuestOutputBuffer)
	o := &guestOutput{Writer: buffer, buffer: buffer}
	if cfg.limit != nil {
		o.limit = &throttledWriter{w: buffer, limit: cfg.limit}
		o.Writer = o.limit
	}
	if cfg.timeline != nil {
		o.Writer = &timelineWriter{w: o.Writer, t: cfg.timeline}
	}
	return o
}

func (o *guestOutput) dropped() uint64 { return o.buffer.Dropped() }

func (o *guestOutput) throttled() uint64 {
	if o.limit == nil {
		return 0
	}
	return o.limit.dropped.Load()
}

// throttledWriter passes on what its limiter allows now and drops and
// counts the rest. It never fails and never waits.
type throttledWriter struct {
	w       io.Writer
	limit   *ratelimit.Limiter
	dropped atomic.Uint64
}

func (t *throttledWriter) Write(p []byte) (int, error) {
	n := t.limit.Allow(uint64(len(p)))
	if n < uint64(len(p)) {
		t.dropped.Add(uint64(len(p)) - n)
	}
	if n > 0 {
		t.w.Write(p[:n]) // the buffer drops and counts on its own
	}
	return len(p), nil
}

// close delivers what is buffered, waiting at most GuestOutputFlushTimeout,
// and says how much output the consumer's slowness cost. Output written
// after it is dropped. Run calls it when the VM has stopped, Close again
// (which does nothing the second time).
func (o *guestOutput) close(log *slog.Logger) {
	o.closeOnce.Do(func() {
		o.buffer.Close(GuestOutputFlushTimeout)
		if n := o.buffer.Dropped(); n > 0 {
			log.Warn("guest console output dropped: the console could not keep up", "bytes", n)
		}
		if n := o.throttled(); n > 0 {
			log.Warn("guest console output dropped: over the console rate limit", "bytes", n)
		}
	})
}
