package vmm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/eventloop"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/serial"
	"github.com/gluevmm/glue/vcpu"
)

// VM is a built virtual machine. Run it once; Close it when done.
type VM struct {
	cfg Config
	log *slog.Logger

	sys  *kvm.System
	kvm  *kvm.VM
	mem  *guestmem.Memory
	pio  *bus.Bus
	mmio *bus.Bus
	uart *serial.UART
	// consoleIn takes host console input: the UART, or the virtio console.
	consoleIn consoleDevice
	kernel    *loader.Kernel
	cpus      []*kvm.VCPU
	runners   []*vcpu.VCPU // one per cpus[i]
	loop      *eventloop.Loop
	virtio    []*virtioSlot
	// kernelParams are added to the command line for the devices.
	kernelParams []string
	// closers are device backends (disk images, taps) to close last.
	closers []io.Closer

	// reset is closed (once) when the guest pulses the i8042 reset line.
	reset     chan struct{}
	resetOnce sync.Once

	lifecycle // pause/resume/stop requests and the VM's state
}

// Outcome says how a VM that ended cleanly ended.
type Outcome string

// The clean outcomes; anything else is an error from Run.
const (
	OutcomeReset    Outcome = "guest reset"
	OutcomePowerOff Outcome = "guest powered off"
	OutcomeStopped  Outcome = "stopped"
)

// Build creates the VM described by cfg: it validates cfg, opens KVM, maps
// guest memory, loads the kernel and writes the boot structures, creates the
// devices and the vCPUs. Nothing runs until Run.
func Build(ctx context.Context, cfg Config) (_ *VM, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Console == nil {
		cfg.Console = io.Discard
	}
	if cfg.Timeline != nil {
		cfg.Timeline.Mark("vmm.Build")
		cfg.Console = &timelineWriter{w: cfg.Console, t: cfg.Timeline}
	}
	sys, err := kvm.Open("")
	if err != nil {
		return nil, err
	}
	cfg.Timeline.Mark("open /dev/kvm")
	vm := &VM{cfg: cfg, log: cfg.Logger, sys: sys, reset: make(chan struct{})}
	vm.lifecycle.init()
	defer func() {
		if err != nil {
			vm.Close()
		}
	}()
	if err := cfg.Validate(sys.MaxVCPUs(), hostMemMiB()); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"create VM", vm.createVM},
		{"map guest memory", vm.mapMemory},
		{"create devices", vm.createDevices},
		{"load kernel", vm.loadKernel},
		{"create vCPUs", vm.createVCPUs},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.fn(); err != nil {
			return nil, err
		}
		vm.log.Debug("build step done", "step", s.name)
		cfg.Timeline.Mark(s.name)
	}
	if isPVMHost() && cfg.Kernel != "" {
		vm.log.Warn("this host's KVM is PVM (nested, no VMX/SVM): a stock kernel runs under KVM's instruction emulator, boots slowly and stops at the first instruction the emulator lacks; see docs/testing.md")
	}
	return vm, nil
}

func (vm *VM) createVM() error {
	v, err := vm.sys.CreateVM()
	if err != nil {
		return err
	}
	vm.kvm = v
	return configureVM(v)
}

func (vm *VM) mapMemory() error {
	mem, err := newGuestMemory(vm.cfg.MemMiB)
	if err != nil {
		return &ConfigError{Field: "MemMiB", Err: err}
	}
	vm.mem = mem
	for i, r := range mem.Regions() {
		if err := vm.kvm.SetUserMemoryRegion(uint32(i), uint64(r.Base), r.Host(), 0); err != nil {
			return err
		}
	}
	return nil
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
	for len(p) > 0 {
		n := vm.consoleIn.Enqueue(p)
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
		select {
		case <-vm.consoleIn.Drained():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close releases everything Build acquired. It is safe on a partly built VM.
func (vm *VM) Close() error {
	var errs []error
	vm.closeVirtio()
	if vm.loop != nil {
		errs = append(errs, vm.loop.Close())
	}
	for _, c := range vm.cpus {
		errs = append(errs, c.Close())
	}
	if vm.kvm != nil {
		errs = append(errs, vm.kvm.Close())
	}
	if vm.mem != nil {
		errs = append(errs, vm.mem.Close())
	}
	if vm.sys != nil {
		errs = append(errs, vm.sys.Close())
	}
	// After the VM: no vCPU or device can touch a backend any more.
	for _, c := range vm.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// isPVMHost reports whether /dev/kvm is provided by the PVM module, which
// emulates most instructions of a guest kernel that is not PVM-aware.
func isPVMHost() bool {
	_, err := os.Stat("/sys/module/kvm_pvm")
	return err == nil
}
