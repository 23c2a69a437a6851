package vmm

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gluevmm/glue/console"
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
// the buffer, when the guest wrote them.
type guestOutput struct {
	io.Writer // what the devices write to
	buffer    *console.AsyncWriter
	closeOnce sync.Once
}

func newGuestOutput(dst io.Writer, tl *Timeline) *guestOutput {
	buffer := console.NewAsyncWriter(dst, GuestOutputBuffer)
	o := &guestOutput{Writer: buffer, buffer: buffer}
	if tl != nil {
		o.Writer = &timelineWriter{w: buffer, t: tl}
	}
	return o
}

func (o *guestOutput) dropped() uint64 { return o.buffer.Dropped() }

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
	})
}
