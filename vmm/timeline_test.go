package vmm

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/kvm/kvmtest"
)

func TestTimelineMarksOncePerPhase(t *testing.T) {
	t.Parallel()
	tl := NewTimeline(time.Now())
	tl.Mark("a")
	tl.Mark("b")
	tl.Mark("a")
	ev := tl.Events()
	if len(ev) != 2 || ev[0].Phase != "a" || ev[1].Phase != "b" || ev[1].At < ev[0].At {
		t.Fatalf("events %+v", ev)
	}
	var nilTimeline *Timeline
	nilTimeline.Mark("ignored") // must not panic
}

// A span before the start prints as negative milliseconds with its length
// as the step, and the first phase after it counts from the start.
func TestTimelineWritesTheSpanBeforeTheStart(t *testing.T) {
	t.Parallel()
	tl := &Timeline{seen: map[string]bool{}}
	tl.MarkBefore("before", 2500*time.Microsecond)
	tl.events = append(tl.events, TimelineEvent{"first", 1 * time.Millisecond}, TimelineEvent{"second", 4 * time.Millisecond})
	var out bytes.Buffer
	tl.WriteTo(&out)
	want := "boot timeline      ms    +ms  phase\n" +
		"                 -2.50   2.50  before\n" +
		"                  1.00   1.00  first\n" +
		"                  4.00   3.00  second\n"
	if out.String() != want {
		t.Fatalf("timeline\n%s\nwant\n%s", out.String(), want)
	}
}

func TestTimelineWriterFindsSplitMarker(t *testing.T) {
	t.Parallel()
	tl := NewTimeline(time.Now())
	var out bytes.Buffer
	w := &timelineWriter{w: &out, t: tl}
	for _, chunk := range []string{"hello\nGLUE-D", "ONE\n"} {
		w.Write([]byte(chunk))
	}
	var phases []string
	for _, e := range tl.Events() {
		phases = append(phases, e.Phase)
	}
	if got := strings.Join(phases, ","); got != "first guest output byte,guest marker GLUE-DONE" {
		t.Fatalf("phases %s", got)
	}
	if out.String() != "hello\nGLUE-DONE\n" {
		t.Fatalf("output %q", out.String())
	}
}

// A real boot reaches every phase, in order.
func TestTimelineBoot(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	tl := NewTimeline(time.Now())
	vm, err := Build(context.Background(), Config{CPUs: 1, MemMiB: 32, Cmdline: "glue.test=cmdline", Timeline: tl})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	if _, err := vm.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var phases []string
	for _, e := range tl.Events() {
		phases = append(phases, e.Phase)
	}
	want := "vmm.Build,open /dev/kvm,create VM,map guest memory,create interrupt controllers,create devices,write ACPI tables,load kernel,create vCPUs,start vCPUs,first guest output byte,guest marker GLUE-DONE"
	if got := strings.Join(phases, ","); got != want {
		t.Fatalf("phases\n%s\nwant\n%s", got, want)
	}
}
