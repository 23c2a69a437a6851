//go:build (!glue_no_blk || !glue_no_net) && !glue_minimal

package vmm

import (
	"sync/atomic"

	"github.com/gluevmm/glue/eventloop"
)

// queueWake is how a rate-limited device's timer gets a queue notified
// again: on the event loop (so nothing runs while the VM is paused or
// after it stopped) and through the transport (so a device its driver
// disabled is not run), as if the driver had kicked. The device comes
// before its transport, so addVirtio binds the transport later.
type queueWake struct {
	loop   *eventloop.Loop
	notify atomic.Pointer[func(queue int) (more bool)]
}

func newQueueWake(loop *eventloop.Loop) *queueWake { return &queueWake{loop: loop} }

// bind is the device's virtioDevice.onTransport.
func (w *queueWake) bind(notify func(queue int) (more bool)) { w.notify.Store(&notify) }

// wake is the devices' callback, called on a timer's goroutine.
func (w *queueWake) wake(queue int) { w.loop.Submit(func() { w.run(queue) }) }

// run notifies queue, a bounded batch at a time, behind other work.
func (w *queueWake) run(queue int) {
	if n := w.notify.Load(); n != nil && (*n)(queue) {
		w.loop.Submit(func() { w.run(queue) })
	}
}
