package vmm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/kvm/kvmtest"
)

// runVM builds cfg, runs it, and returns the VM and a channel with Run's
// outcome, once the guest has printed ready.
func runVM(t *testing.T, cfg Config, ready string) (*VM, *syncBuffer, <-chan Outcome) {
	t.Helper()
	kvmtest.Open(t)
	out := &syncBuffer{}
	cfg.Console = out
	vm, err := Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan Outcome, 1)
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		outcome, err := vm.Run(context.Background())
		if err != nil {
			t.Error(err)
		}
		ended <- outcome
	}()
	// Close only once Run has returned: a failed test must not unmap the
	// vCPUs' run areas under their threads.
	t.Cleanup(func() {
		vm.Stop(context.Background(), 0)
		<-runDone
		vm.Close()
	})
	for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), ready); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", ready, out.String())
		}
	}
	return vm, out, ended
}

// Stop with a grace period presses the power button and leaves the VM
// stopping (a guest that does not power off keeps running); a second Stop
// with grace 0 ends it. Without ACPI there is no button: Stop ends the VM
// at once whatever the grace.
func TestStopGracePeriod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		noACPI   bool
		stopping bool // state after Stop(ctx, time.Hour)
	}{
		{"acpi", false, true},
		{"no acpi", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vm, _, ended := runVM(t, Config{CPUs: 1, MemMiB: 32, NoACPI: tc.noACPI, Cmdline: "glue.test=counter"}, "GLUE-COUNT 2\n")
			if err := vm.Stop(context.Background(), time.Hour); err != nil {
				t.Fatal(err)
			}
			if tc.stopping {
				if s := vm.State(); s != control.StateStopping {
					t.Fatalf("state %s after a stop with a grace period, want %s", s, control.StateStopping)
				}
				if err := vm.Stop(context.Background(), time.Hour); err != nil { // a repeated request
					t.Fatal(err)
				}
				select {
				case o := <-ended:
					t.Fatalf("the VM ended (%s) within its grace period", o)
				case <-time.After(200 * time.Millisecond):
				}
				if err := vm.Stop(context.Background(), 0); err != nil {
					t.Fatal(err)
				}
			}
			select {
			case o := <-ended:
				if o != OutcomeStopped {
					t.Errorf("outcome %q, want %q", o, OutcomeStopped)
				}
			case <-time.After(time.Minute):
				t.Fatal("the VM did not stop")
			}
		})
	}
}
