package vmm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/vcpu"
)

// Run starts the vCPUs and blocks until the VM ends: the guest resets or
// powers off, a vCPU faults, or ctx is cancelled (an orderly stop). Once
// the vCPUs and the event loop have stopped, it delivers the guest's last
// console output to Config.Console (waiting at most
// GuestOutputFlushTimeout for a slow one). Before any vCPU runs it confines
// the process as Config.Seccomp says (see confineProcess). It returns the clean outcome, or
// the error that ended the VM. Run may be called once.
func (vm *VM) Run(ctx context.Context) (Outcome, error) {
	runners, loop := vm.machine.runners, vm.devices.loop
	ends := make(chan error, len(runners))
	var wg sync.WaitGroup
	vm.setStarted(time.Now())
	// After setStarted, which a Pause arriving now would otherwise block
	// while it waits for vCPUs that have not started.
	if err := confine(vm); err != nil {
		return "", err
	}
	loopCtx, stopLoop := context.WithCancel(context.Background())
	defer stopLoop()
	loopDone := make(chan error, 1)
	go func() { loopDone <- loop.Run(loopCtx) }()
	vm.cfg.Timeline.Mark("start vCPUs")
	for _, r := range runners {
		wg.Go(func() { ends <- r.Run() })
	}
	vm.log.Info("vm running", "name", vm.cfg.Name, "cpus", len(runners), "mem_mib", vm.cfg.MemMiB)
	close(vm.running)

	var outcome Outcome
	var err error
	select {
	case <-ctx.Done():
		outcome = OutcomeStopped
	case <-vm.stopRequested:
		outcome = OutcomeStopped
	case <-vm.devices.reset:
		outcome = OutcomeReset
	case <-vm.devices.powerOff:
		outcome = OutcomePowerOff
	case end := <-ends:
		outcome, err = classify(end)
	}
	vm.setState(control.StateStopping)
	for _, r := range runners {
		r.Stop()
	}
	if !waitTimeout(&wg, StopTimeout) {
		// A vCPU stuck in KVM_RUN cannot be freed from here; the caller
		// ends the process, which ends the thread.
		return "", fmt.Errorf("vmm: vCPUs did not stop within %v", StopTimeout)
	}
	close(ends)
	stopLoop()
	<-loopDone
	vm.devices.output.close(vm.log) // nothing writes guest output any more
	// A fault on another vCPU while stopping is still worth reporting.
	for end := range ends {
		if _, e := classify(end); e != nil && err == nil && outcome != OutcomeStopped {
			err = e
		}
	}
	if err != nil {
		return "", explainFault(err)
	}
	return outcome, nil
}

// StopTimeout bounds how long Run waits for the vCPUs to leave the guest
// once the VM is ending.
const StopTimeout = 10 * time.Second

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// explainFault adds why an emulation failure happens on PVM hosts, where a
// guest kernel that is not PVM-aware runs under KVM's instruction emulator.
func explainFault(err error) error {
	var f *vcpu.Fault
	if errors.As(err, &f) && f.Exit.Kind == kvm.ExitInternalError &&
		f.Exit.InternalError.Suberror == kvm.KVM_INTERNAL_ERROR_EMULATION && isPVMHost() {
		return fmt.Errorf("%w (this host's KVM is PVM, which emulates a kernel that is not PVM-aware and lacks this instruction; see docs/testing.md)", err)
	}
	return err
}

// classify turns a vCPU's end into a clean outcome or an error.
func classify(end error) (Outcome, error) {
	var ge *vcpu.GuestExit
	switch {
	case errors.Is(end, vcpu.ErrStopped):
		return OutcomeStopped, nil
	case errors.As(end, &ge) && ge.Reason == "reset":
		return OutcomeReset, nil
	case errors.As(end, &ge):
		return OutcomePowerOff, nil
	}
	return "", end
}
