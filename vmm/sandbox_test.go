package vmm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/sandbox"
)

// The package's tests run VMs inside the test binary, which must stay
// free to open files and start processes: they do not confine it. The
// real confinement is tested on the glue binary (test/integration's
// sandbox tests). A VM named failConfineName gets a failing one.
func init() { confine = testConfine }

const failConfineName = "confine-fails"

var errTestConfine = errors.New("test: confine failed")

func testConfine(vm *VM) error {
	if vm.cfg.Name == failConfineName {
		return errTestConfine
	}
	return nil
}

// Run confines the process before the first KVM_RUN: when that fails, the
// guest never runs (the counter guest prints at once) and Run says why.
func TestRunConfinesBeforeGuestRuns(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	var out syncBuffer
	vm, err := Build(context.Background(), Config{Name: failConfineName, CPUs: 1, MemMiB: 32, Cmdline: "glue.test=counter", Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	// The counter guest never ends by itself: without the confine step
	// Run ends only when ctx does, with no error.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := vm.Run(ctx); !errors.Is(err, errTestConfine) {
		t.Fatalf("Run = %v, want the confine error", err)
	}
	vm.Close()
	if got := out.String(); got != "" {
		t.Fatalf("the guest ran before the process was confined: %q", got)
	}
}

func TestSeccompModeCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		mode SeccompMode
		ok   bool
	}{{SeccompOn, true}, {SeccompLog, true}, {SeccompOff, true}, {"on", false}, {"trap", false}} {
		if err := (&Config{CPUs: 1, MemMiB: 64, Seccomp: c.mode}).Validate(1, 0); (err == nil) != c.ok {
			t.Errorf("Validate with Seccomp %q = %v, want ok=%v", c.mode, err, c.ok)
		}
	}
}

// The allow-list assembles: no call is both checked and unchecked, every
// name exists on this architecture.
func TestFilterRulesAssemble(t *testing.T) {
	t.Parallel()
	for _, vsock := range []bool{false, true} {
		if _, err := sandbox.Program(filterRules(vsock), sandbox.Trap); err != nil {
			t.Fatal(err)
		}
	}
}

// docs/security.md lists every rule of the allow-list (a row per rule:
// the call, or "ioctl NAME") and its size, so the document cannot drift
// from the filter.
func TestSecurityDocListsEveryRule(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]bool{}
	for _, r := range filterRules(true) {
		name := r.Syscall
		if name == "ioctl" {
			name += " " + strings.SplitN(r.Why, ":", 2)[0]
		}
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/security.md has no row for %s", name)
		}
	}
	for _, r := range filterRules(false) {
		calls[r.Syscall] = true
	}
	if size := fmt.Sprintf("%d rules over %d system calls", len(filterRules(false)), len(calls)); !strings.Contains(string(doc), size) {
		t.Errorf("docs/security.md does not give the size %q", size)
	}
}
