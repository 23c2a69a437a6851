// Command outerinit is PID 1 of the emulated SVM machine that test/nested
// boots: it loads KVM from the initramfs, checks /dev/kvm, runs the
// scenarios its plan names one inner glue VM at a time (test/scenario.Run,
// the same code the hardware-KVM tests call), and powers the machine off.
//
// It reports on the second serial port (ttyS1), which nothing else writes
// to, one line each:
//
//	NESTED-READY kvm-api=12
//	NESTED-BEGIN NAME attempt=N
//	NESTED-LOG NAME| LINE           glue's output, line by line
//	NESTED-STEP NAME boot=N         a scenario's next glue run begins
//	NESTED-STALL NAME attempt=N     the attempt hit its deadline
//	NESTED-RESULT NAME attempt=N JSON (scenario.Result)
//	NESTED-COMPARE JSON             one boot of the comparison (plan.Boot)
//	NESTED-FATAL REASON             nothing more will come
//	NESTED-DONE
//
// The kernel's own console is ttyS0. Build it with nested.BuildOuterInit.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/gluevmm/glue/test/machineinit"
	"github.com/gluevmm/glue/test/nested/plan"
	"github.com/gluevmm/glue/test/scenario"
)

func main() {
	machineinit.MountKernelFS()
	out := markerPort()
	if err := run(out); err != nil {
		out.line("NESTED-FATAL %v", err)
	}
	machineinit.PowerOff()
}

func run(out *markers) error {
	if err := loadModules(); err != nil {
		return err
	}
	version, err := kvmAPIVersion()
	if err != nil {
		return err
	}
	out.line("NESTED-READY kvm-api=%d", version)
	// glue run registers each VM in a runtime directory; the initramfs
	// has no /run.
	os.Setenv("GLUE_RUNTIME_DIR", plan.WorkDir+"/glue-run")
	b, err := os.ReadFile(plan.Path)
	if err != nil {
		return err
	}
	var p plan.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", plan.Path, err)
	}
	if p.Env.Cgroup, err = delegatedCgroup(); err != nil {
		return err
	}
	if p.Compare != nil {
		compare(out, p.Env, p.Compare)
		out.line("NESTED-DONE")
		return nil
	}
	for _, name := range p.Scenarios {
		s, ok := scenario.Lookup(name)
		if !ok {
			return fmt.Errorf("plan names unknown scenario %q", name)
		}
		// A stalled attempt, or one whose guest triple-faulted, is
		// retried once; the test reports both.
		for attempt := max(1, p.Attempt[name]); attempt <= plan.Attempts; attempt++ {
			out.line("NESTED-BEGIN %s attempt=%d", name, attempt)
			log := &lineWriter{emit: func(l string) {
				out.line("NESTED-LOG %s| %s", name, l)
				if n, ok := strings.CutPrefix(l, scenario.BootMarker); ok {
					out.line("NESTED-STEP %s boot=%s", name, n)
				}
			}}
			r := scenario.Run(context.Background(), p.Env, s, log)
			log.flush()
			if r.Stalled {
				out.line("NESTED-STALL %s attempt=%d", name, attempt)
			}
			j, _ := json.Marshal(r)
			out.line("NESTED-RESULT %s attempt=%d %s", name, attempt, j)
			if !r.Stalled && !r.GuestCrashed() {
				break
			}
		}
	}
	out.line("NESTED-DONE")
	return nil
}

// delegatedCgroup mounts the cgroup v2 hierarchy and delegates a cgroup
// for the jail scenario's VMs to run under, as a service manager does on
// a host (systemd's Delegate=yes): glue itself stays in the root.
func delegatedCgroup() (string, error) {
	const mount = "/sys/fs/cgroup"
	if err := syscall.Mount("cgroup2", mount, "cgroup2", 0, ""); err != nil {
		return "", fmt.Errorf("mount cgroup2 on %s: %w", mount, err)
	}
	return scenario.DelegateCgroup(mount, "vms")
}

// markers writes whole lines to the marker port.
type markers struct {
	mu sync.Mutex
	w  io.Writer
}

func (m *markers) line(format string, args ...any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintf(m.w, format+"\n", args...)
}

// markerPort opens ttyS1 raw, so that the tty layer neither echoes nor
// rewrites the lines; without it the markers go to the console.
func markerPort() *markers {
	f, err := machineinit.RawSerial("/dev/ttyS1")
	if err != nil {
		fmt.Printf("outerinit: no ttyS1 (%v): markers on the console\n", err)
		return &markers{w: os.Stdout}
	}
	return &markers{w: f}
}

// lineWriter cuts a stream into lines for emit; a trailing partial line
// waits for flush.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	emit    func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimRight(string(w.partial[:i]), "\r"))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.emit(strings.TrimRight(string(w.partial), "\r"))
		w.partial = nil
	}
}
