package vmm

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/gluevmm/glue/control"
)

// lifecycle is the VM's state and the requests that change it. It
// serialises Pause, Resume and Stop: each is idempotent, and concurrent
// callers see one consistent state. It owns no resource: Pause and Resume
// act on the machine's vCPUs and the device manager's event loop, Stop
// asks Run to end the VM.
type lifecycle struct {
	mu            sync.Mutex    // held across a whole Pause/Resume
	state         control.State // guarded by mu
	stopRequested chan struct{}
	stopOnce      sync.Once
	started       time.Time // guarded by mu; set by Run before any vCPU starts
	running       chan struct{}
}

func (l *lifecycle) init() {
	l.state = control.StateRunning
	l.stopRequested = make(chan struct{})
	l.running = make(chan struct{})
}

// Running is closed once Run has confined the process and started the
// vCPUs: from then on the VM runs until Run returns. A Run that fails
// before never closes it.
func (vm *VM) Running() <-chan struct{} { return vm.running }

func (l *lifecycle) setStarted(t time.Time) {
	l.mu.Lock()
	l.started = t
	l.mu.Unlock()
}

func (l *lifecycle) setState(s control.State) {
	l.mu.Lock()
	l.state = s
	l.mu.Unlock()
}

// State returns the VM's current state.
func (vm *VM) State() control.State {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.state
}

// Pause stops every vCPU and the device event loop, and returns once all
// have parked (or ctx ends): nothing in the guest advances while paused.
// Pausing a paused VM does nothing.
func (vm *VM) Pause(ctx context.Context) error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.state != control.StateRunning {
		return nil
	}
	for _, r := range vm.machine.runners {
		if err := r.Pause(ctx); err != nil {
			vm.resumeAll() // leave nothing parked behind a failed pause
			return err
		}
	}
	// Then the device work the event loop does (queue notifications, tap
	// input): with both stopped, nothing touches guest memory.
	if err := vm.devices.loop.Pause(ctx); err != nil {
		vm.resumeAll()
		return err
	}
	vm.state = control.StatePaused
	vm.log.Info("vm paused", "name", vm.cfg.Name)
	return nil
}

// Resume lets every vCPU continue exactly where it was paused. Resuming a
// running VM does nothing.
func (vm *VM) Resume(context.Context) error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.state != control.StatePaused {
		return nil
	}
	vm.resumeAll()
	vm.state = control.StateRunning
	vm.log.Info("vm resumed", "name", vm.cfg.Name)
	return nil
}

func (vm *VM) resumeAll() {
	vm.devices.loop.Resume()
	for _, r := range vm.machine.runners {
		r.Resume()
	}
}

// Stop ends the VM; it does not wait for Run to return. A running VM with
// ACPI first gets its power button pressed and up to grace to power itself
// off (Run's outcome is then OutcomePowerOff), showing StateStopping
// meanwhile; after grace, or at once for grace 0, a paused VM or one
// without ACPI, Run ends the VM in order (OutcomeStopped). A second Stop
// while the guest has its grace does not press again; one with grace 0
// ends the wait.
func (vm *VM) Stop(_ context.Context, grace time.Duration) error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	power := vm.devices.power
	if grace <= 0 || power == nil || vm.state == control.StatePaused {
		vm.requestStop()
		return nil
	}
	if vm.state == control.StateStopping {
		return nil
	}
	vm.state = control.StateStopping
	vm.log.Info("vm stopping: power button pressed", "name", vm.cfg.Name, "grace", grace)
	power.PressPowerButton()
	// Harmless when the guest powered off first: Run no longer listens.
	time.AfterFunc(grace, vm.requestStop)
	return nil
}

// requestStop asks Run to end the VM in order.
func (vm *VM) requestStop() {
	vm.stopOnce.Do(func() { close(vm.stopRequested) })
}

// Info describes the VM for the control plane (`glue list`).
func (vm *VM) Info() control.Info {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return control.Info{
		Name:      vm.cfg.Name,
		PID:       os.Getpid(),
		State:     vm.state,
		CPUs:      vm.cfg.CPUs,
		MemMiB:    vm.cfg.MemMiB,
		StartedAt: vm.started,
		Kernel:    vm.cfg.Kernel,
	}
}
