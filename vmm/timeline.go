package vmm

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"time"
)

// Timeline records when each phase of a boot was first reached, relative to
// a start time (glue's main, for `glue run --boot-timeline`). A nil
// *Timeline records nothing, so the hooks cost nothing when it is off.
type Timeline struct {
	start  time.Time
	mu     sync.Mutex
	events []TimelineEvent
	seen   map[string]bool
}

// TimelineEvent is one phase and when it was reached.
type TimelineEvent struct {
	Phase string
	At    time.Duration
}

// NewTimeline starts a timeline at start.
func NewTimeline(start time.Time) *Timeline {
	return &Timeline{start: start, seen: map[string]bool{}}
}

// Mark records phase now, unless it was recorded before.
func (t *Timeline) Mark(phase string) {
	if t == nil {
		return
	}
	t.record(phase, time.Since(t.start))
}

// MarkBefore records phase as a span of d that ended at the start (what
// a program did before it made the timeline, e.g. before main).
func (t *Timeline) MarkBefore(phase string, d time.Duration) {
	if t == nil {
		return
	}
	t.record(phase, -d)
}

// record adds phase at at, unless it was recorded before.
func (t *Timeline) record(phase string, at time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.seen[phase] {
		t.seen[phase] = true
		t.events = append(t.events, TimelineEvent{phase, at})
	}
}

// Events returns the phases in the order they were reached.
func (t *Timeline) Events() []TimelineEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]TimelineEvent(nil), t.events...)
}

// WriteTo prints the timeline: milliseconds since the start, and since the
// phase before.
func (t *Timeline) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	b.WriteString("boot timeline      ms    +ms  phase\n")
	var prev time.Duration
	for _, e := range t.Events() {
		span := e.At - prev
		if e.At < 0 { // a MarkBefore span, which ends at the start
			span = -e.At
		}
		fmt.Fprintf(&b, "              %8.2f %6.2f  %s\n", ms(e.At), ms(span), e.Phase)
		prev = max(e.At, 0)
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// readyMarkers are guest output lines that mean "booted": glue's own guest
// prints them (GLUE-READY for tests waiting on the host, GLUE-DONE at the
// end).
var readyMarkers = [][]byte{[]byte("GLUE-READY"), []byte("GLUE-DONE")}

// timelineWriter marks the first byte of guest output and the first ready
// marker on their way to the console.
type timelineWriter struct {
	w     io.Writer
	t     *Timeline
	mu    sync.Mutex
	tail  []byte // the end of the output so far, to find a marker split across writes
	ready bool
}

func (tw *timelineWriter) Write(p []byte) (int, error) {
	tw.t.Mark("first guest output byte")
	tw.mu.Lock()
	if !tw.ready {
		tw.tail = append(tw.tail, p...)
		for _, m := range readyMarkers {
			if bytes.Contains(tw.tail, m) {
				tw.ready = true
				tw.t.Mark("guest marker " + string(m))
				break
			}
		}
		if keep := len("GLUE-READY"); len(tw.tail) > keep {
			tw.tail = append(tw.tail[:0], tw.tail[len(tw.tail)-keep:]...)
		}
	}
	tw.mu.Unlock()
	return tw.w.Write(p)
}
