package vmm

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"

	"github.com/gluevmm/glue/kvm"
)

// VM is a built virtual machine. Run it once; Close it when done.
//
// It is three parts, each the one owner of what it holds: the machine (KVM,
// guest memory, vCPUs), the device manager (buses, devices, virtio slots,
// interrupts, the event loop, backends, guest console output) and the
// lifecycle (pause, resume and stop requests and the VM's state).
type VM struct {
	cfg Config // as given to Build; read-only after it
	log *slog.Logger

	machine machine
	devices *deviceManager // nil until the "create devices" step

	lifecycle
}

// Outcome says how a VM that ended cleanly ended.
type Outcome string

// The clean outcomes; anything else is an error from Run.
const (
	OutcomeReset    Outcome = "guest reset"
	OutcomePowerOff Outcome = "guest powered off"
	OutcomeStopped  Outcome = "stopped"
)

// Build creates the VM described by cfg. It is the boot recipe, in order:
// each step takes what it needs as arguments and returns what it made, and
// the timeline (Config.Timeline) marks each step's end under its name.
// Nothing runs until Run. On error everything made so far is released.
func Build(ctx context.Context, cfg Config) (_ *VM, err error) {
	cfg.Timeline.Mark("vmm.Build")
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	vm := &VM{cfg: cfg, log: log}
	vm.lifecycle.init()
	defer func() {
		if err != nil {
			vm.Close()
		}
	}()
	done := func(step string) error {
		log.Debug("build step done", "step", step)
		cfg.Timeline.Mark(step)
		return ctx.Err()
	}
	m := &vm.machine

	if m.sys, err = kvm.Open(""); err != nil {
		return nil, err
	}
	if err := done("open /dev/kvm"); err != nil {
		return nil, err
	}
	if err := cfg.Validate(m.sys.MaxVCPUs(), hostMemMiB()); err != nil {
		return nil, err
	}

	if m.vm, err = createVM(m.sys); err != nil {
		return nil, err
	}
	if err := done("create VM"); err != nil {
		return nil, err
	}

	if m.mem, err = mapMemory(m.vm, cfg.MemMiB); err != nil {
		return nil, err
	}
	if err := done("map guest memory"); err != nil {
		return nil, err
	}

	if err := createInterruptControllers(m.vm); err != nil {
		return nil, err
	}
	if err := done("create interrupt controllers"); err != nil {
		return nil, err
	}

	if vm.devices, err = createDevices(m.vm, m.mem, &cfg, log); err != nil {
		return nil, err
	}
	if err := done("create devices"); err != nil {
		return nil, err
	}

	desc, err := writeACPITables(m.mem, vm.devices, &cfg)
	if err != nil {
		return nil, err
	}
	if err := done("write ACPI tables"); err != nil {
		return nil, err
	}

	entry, err := loadKernel(ctx, m.mem, &cfg, desc, log)
	if err != nil {
		return nil, err
	}
	if err := done("load kernel"); err != nil {
		return nil, err
	}

	if m.vcpus, m.runners, err = createVCPUs(m.sys, m.vm, m.mem, vm.devices.buses(), cfg.CPUs, entry, log); err != nil {
		return nil, err
	}
	if err := done("create vCPUs"); err != nil {
		return nil, err
	}

	if isPVMHost() && cfg.Kernel != "" {
		log.Warn("this host's KVM is PVM (nested, no VMX/SVM): a stock kernel runs under KVM's instruction emulator, boots slowly and stops at the first instruction the emulator lacks; see docs/testing.md")
	}
	return vm, nil
}

// consoleDevice is a device that takes host console input without ever
// blocking: it accepts what fits and signals when it has room again.
type consoleDevice interface {
	Enqueue(p []byte) int
	Drained() <-chan struct{}
}

// ConsoleInput queues host input for the guest's console, blocking until the
// guest has taken it all or ctx ends.
func (vm *VM) ConsoleInput(ctx context.Context, p []byte) error {
	in := vm.devices.consoleIn
	for len(p) > 0 {
		n := in.Enqueue(p)
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
		select {
		case <-in.Drained():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ConsoleOutputDropped returns how many bytes of guest console output were
// dropped because Config.Console could not keep up (see GuestOutputBuffer).
func (vm *VM) ConsoleOutputDropped() uint64 {
	return vm.devices.output.dropped()
}

// ConsoleOutputThrottled returns how many bytes of guest console output
// were dropped because they were over Config.ConsoleLimit.
func (vm *VM) ConsoleOutputThrottled() uint64 {
	return vm.devices.output.throttled()
}

// Close releases everything Build acquired, each part closing what it owns.
// The machine goes first: once its vCPUs and VM are closed, nothing can exit
// into a device or raise an interrupt. Then the device manager: the event
// loop and virtio eventfds, the backends (disk images are synced), and last
// the guest's console output, delivered within GuestOutputFlushTimeout.
// It is safe on a partly built VM.
func (vm *VM) Close() error {
	errs := []error{vm.machine.close()}
	if vm.devices != nil {
		errs = append(errs, vm.devices.close())
	}
	return errors.Join(errs...)
}

// isPVMHost reports whether /dev/kvm is provided by the PVM module, which
// emulates most instructions of a guest kernel that is not PVM-aware.
// Build asks first, so that a fault's report after the sandbox (which
// allows no stat) has the answer.
var isPVMHost = sync.OnceValue(func() bool {
	_, err := os.Stat("/sys/module/kvm_pvm")
	return err == nil
})
