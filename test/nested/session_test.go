package nested

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/nested/plan"
)

// After a wedge a fresh machine retries the attempt that wedged, or goes
// on with the next scenario when that was the last attempt; the
// comparison goes on at the boot that wedged, which already counts.
func TestNextPlan(t *testing.T) {
	t.Parallel()
	names := []string{"a", "b", "c"}
	ok := &Attempt{Number: 1, Ended: true}
	wedged := func(n int) *Attempt { return &Attempt{Number: n, Ended: true, Wedged: true} }
	tests := []struct {
		name      string
		attempts  map[string][]*Attempt
		want      []string
		attempt   map[string]int
		more      bool
		comparedN int
	}{
		{"first boot", nil, names, map[string]int{}, true, 0},
		{"wedged in b", map[string][]*Attempt{"a": {ok}, "b": {wedged(1)}}, []string{"b", "c"}, map[string]int{"b": 2}, true, 0},
		{"b wedged twice", map[string][]*Attempt{"a": {ok}, "b": {wedged(1), wedged(2)}}, []string{"c"}, map[string]int{}, true, 0},
		{"a retried, then c wedged", map[string][]*Attempt{"a": {wedged(1), ok}, "b": {ok}, "c": {wedged(1)}},
			[]string{"c"}, map[string]int{"c": 2}, true, 0},
		{"last wedged twice", map[string][]*Attempt{"a": {ok}, "b": {ok}, "c": {wedged(1), wedged(2)}}, []string{}, map[string]int{}, false, 0},
		{"all done", map[string][]*Attempt{"a": {ok}, "b": {ok}, "c": {ok}}, names, map[string]int{}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := NewOutcome()
			for k, v := range tt.attempts {
				o.Attempts[k] = v
			}
			p, more := nextPlan(plan.Plan{Scenarios: names}, o)
			if more != tt.more || (more && (!reflect.DeepEqual(p.Scenarios, tt.want) || !reflect.DeepEqual(p.Attempt, tt.attempt))) {
				t.Errorf("nextPlan: %v %v more=%v, want %v %v more=%v", p.Scenarios, p.Attempt, more, tt.want, tt.attempt, tt.more)
			}
		})
	}
	o := NewOutcome()
	o.Compared = make([]plan.Boot, 3)
	p, more := nextPlan(plan.Plan{Compare: &plan.Compare{Boots: 2}}, o)
	if !more || p.Compare.From != 3 {
		t.Errorf("comparison after 3 boots: from %d more=%v, want from 3", p.Compare.From, more)
	}
	if o.Compared = make([]plan.Boot, 4); func() bool { _, more := nextPlan(plan.Plan{Compare: &plan.Compare{Boots: 2}}, o); return more }() {
		t.Error("comparison with all 4 boots done wants more")
	}
}

// The comparison alternates which VMM boots first, round by round.
func TestSlot(t *testing.T) {
	t.Parallel()
	var got []string
	for k := range 6 {
		round, vmm := plan.Slot(k)
		got = append(got, string(rune('0'+round))+vmm)
	}
	if want := []string{"1glue", "1qemu", "2qemu", "2glue", "3glue", "3qemu"}; !reflect.DeepEqual(got, want) {
		t.Errorf("slots %v, want %v", got, want)
	}
}

// fakeQEMU stands in for QEMU: its first machine fails in scenario a
// (a marker, then what $FIRST says: silence, a triple fault that ends
// it, or a kernel panic on its console), the second retries a and runs b.
const fakeQEMU = `#!/bin/sh
all="$*"
while [ $# -gt 0 ]; do
	[ "$1" = -D ] && resets=$2
	[ "$1" = -serial ] && case "$2" in file:*) console=${2#file:};; esac
	shift
done
case "$all" in
*outer-1.cpio*)
	echo NESTED-READY kvm-api=12
	echo 'NESTED-BEGIN a attempt=1'
	echo 'NESTED-LOG a| last words'
	[ "$FIRST" = wedge ] && exec sleep 60
	if [ "$FIRST" = panic ]; then
		printf '[   67.8] Kernel panic - not syncing: Fatal exception in interrupt\n' > "$console"
	else
		printf 'CPU Reset (CPU 1)\nTriple fault\n' > "$resets"
	fi
	exit 0;;
esac
echo NESTED-READY kvm-api=12
echo 'NESTED-BEGIN a attempt=2'
echo 'NESTED-RESULT a attempt=2 {"exit":0}'
echo 'NESTED-BEGIN b attempt=1'
echo 'NESTED-RESULT b attempt=1 {"exit":0}'
echo NESTED-DONE
`

// A machine that goes quiet is killed by the watchdog, one that a triple
// fault or a kernel panic ends is gone: either way its attempt counts as
// a wedged stall with its log, and a fresh machine goes on.
func TestSessionReplacesWedgedMachine(t *testing.T) {
	t.Run("wedge", func(t *testing.T) { testSessionReplaces(t, "wedge") })
	t.Run("triple-fault", func(t *testing.T) { testSessionReplaces(t, "reset") })
	t.Run("kernel-panic", func(t *testing.T) { testSessionReplaces(t, "panic") })
}

func testSessionReplaces(t *testing.T, first string) {
	t.Setenv("FIRST", first)
	dir := t.TempDir()
	qemu := filepath.Join(dir, "qemu")
	if err := os.WriteFile(qemu, []byte(fakeQEMU), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Session{Outer: &Outer{}, Dir: dir, Machine: Machine{QEMU: qemu, ResetLog: filepath.Join(dir, "resets"),
		Watchdog: time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	o, err := s.Run(ctx, plan.Plan{Scenarios: []string{"a", "b"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil || len(s.Boots) != 2 || !s.Boots[0].Wedged || s.Boots[1].Wedged || !o.Done {
		t.Fatalf("boots %+v, done %v: want a wedged one and a good one (the watchdog killed the first? %v)", s.Boots, o.Done, ctx.Err() == nil)
	}
	a := o.Attempts["a"]
	if len(a) != 2 || !a[0].Wedged || !a[0].Result.Stalled || a[0].Result.Output != "last words\n" || a[1].Wedged || !a[1].Ended {
		t.Errorf("attempts of a: %+v %+v, want a wedged stall with its log, then a good one", a[0], a[len(a)-1])
	}
	if len(o.Attempts["b"]) != 1 || len(o.Wedges) != 1 {
		t.Errorf("b %d attempts, %d wedges; want 1 and 1", len(o.Attempts["b"]), len(o.Wedges))
	}
}
