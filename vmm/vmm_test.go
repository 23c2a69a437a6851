package vmm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/kvm/kvmtest"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	valid := Config{CPUs: 1, MemMiB: 512}
	tests := []struct {
		name      string
		edit      func(*Config)
		wantField Field // 0: valid
	}{
		{"valid", func(*Config) {}, 0},
		{"zero cpus", func(c *Config) { c.CPUs = 0 }, FieldCPUs},
		{"over the KVM limit", func(c *Config) { c.CPUs = 9 }, FieldCPUs},
		{"tiny memory", func(c *Config) { c.MemMiB = 1 }, FieldMemMiB},
		{"more than the host", func(c *Config) { c.MemMiB = 64 << 10 }, FieldMemMiB},
		{"unknown boot protocol", func(c *Config) { c.Boot = "bios" }, FieldBoot},
		{"unknown console device", func(c *Config) { c.ConsoleDevice = "usb" }, FieldConsoleDevice},
		{"missing kernel", func(c *Config) { c.Kernel = "/nonexistent/vmlinux" }, FieldKernel},
		{"kernel is a directory", func(c *Config) { c.Kernel = "/" }, FieldKernel},
		{"missing initrd", func(c *Config) { c.Initrd = "/nonexistent/initrd" }, FieldInitrd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid
			tc.edit(&c)
			err := c.Validate(8, 32<<10)
			var ce *ConfigError
			switch {
			case tc.wantField == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantField != 0 && (!errors.As(err, &ce) || ce.Field != tc.wantField):
				t.Fatalf("error %v, want a ConfigError for %s", err, tc.wantField)
			}
		})
	}
}

// syncBuffer is a goroutine-safe console.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBuildRunBuiltinGuest(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	var out syncBuffer
	vm, err := Build(context.Background(), Config{CPUs: 2, MemMiB: 64, Cmdline: "glue.test=cmdline,cpus", Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	outcome, err := vm.Run(context.Background())
	if err != nil || outcome != OutcomeReset {
		t.Fatalf("Run = %q, %v; want %q\n%s", outcome, err, OutcomeReset, out.String())
	}
	for _, want := range []string{"GLUE-OK cmdline glue.test=cmdline,cpus", "GLUE-OK cpus n=2 online=2", "GLUE-DONE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out.String())
		}
	}
}

// Cancelling the context stops a guest that would run forever.
func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	var out syncBuffer
	vm, err := Build(context.Background(), Config{CPUs: 1, MemMiB: 32, Cmdline: "glue.test=counter", Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !strings.Contains(out.String(), "GLUE-COUNT 1") {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	outcome, err := vm.Run(ctx)
	if err != nil || outcome != OutcomeStopped {
		t.Fatalf("Run = %q, %v; want %q", outcome, err, OutcomeStopped)
	}
}

// Console input reaches the guest's UART. It is sent once the guest's
// driver is ready: like a real 16550, the UART drops bytes still in its
// FIFO when the driver resets the FIFOs during initialisation.
func TestConsoleInput(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	var out syncBuffer
	vm, err := Build(context.Background(), Config{CPUs: 1, MemMiB: 32, Cmdline: "glue.test=serial-in", Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		for !strings.Contains(out.String(), "GLUE-READY serial-in") {
			time.Sleep(10 * time.Millisecond)
		}
		vm.ConsoleInput(ctx, []byte("a line longer than the sixteen-byte FIFO\n"))
	}()
	if _, err := vm.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "GLUE-OK serial-in a line longer than the sixteen-byte FIFO") {
		t.Fatalf("guest did not echo the line:\n%s", out.String())
	}
}

// Pause freezes the guest (its counter stops), Resume continues from the
// same count, Stop ends Run cleanly; each is idempotent.
func TestPauseResumeStop(t *testing.T) {
	t.Parallel()
	kvmtest.Open(t)
	var out syncBuffer
	vm, err := Build(context.Background(), Config{CPUs: 2, MemMiB: 32, Cmdline: "glue.test=counter", Console: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	ended := make(chan Outcome, 1)
	go func() {
		outcome, err := vm.Run(context.Background())
		if err != nil {
			t.Error(err)
		}
		ended <- outcome
	}()
	waitFor := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !strings.Contains(out.String(), s); {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%s", s, out.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("GLUE-COUNT 1\n")
	ctx := context.Background()
	vm.Pause(ctx)
	if err := vm.Pause(ctx); err != nil || vm.State() != control.StatePaused {
		t.Fatalf("Pause: %v, state %s", err, vm.State())
	}
	frozen := settled(out.String)
	time.Sleep(300 * time.Millisecond) // three counter periods
	if out.String() != frozen {
		t.Fatalf("guest printed while paused:\n%s", strings.TrimPrefix(out.String(), frozen))
	}
	vm.Resume(ctx)
	if err := vm.Resume(ctx); err != nil || vm.State() != control.StateRunning {
		t.Fatalf("Resume: %v, state %s", err, vm.State())
	}
	last := strings.Count(frozen, "GLUE-COUNT")
	waitFor(fmt.Sprintf("GLUE-COUNT %d\n", last)) // the next number, nothing skipped
	vm.Stop(ctx)
	vm.Stop(ctx)
	if o := <-ended; o != OutcomeStopped {
		t.Fatalf("outcome %q, want %q", o, OutcomeStopped)
	}
}

// settled returns read()'s value once it has not changed for 200 ms (at
// most 10 s): after a pause the guest prints nothing more, but what it
// printed just before may still be on its way through the VM's console
// buffer.
func settled(read func() string) string {
	last := read()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		now := read()
		if now == last {
			return now
		}
		last = now
	}
	return last
}
