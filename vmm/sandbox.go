package vmm

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/gluevmm/glue/control"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/sandbox"
)

// SeccompMode says what Run does about the system-call filter (see
// docs/security.md).
type SeccompMode string

// The modes.
const (
	// SeccompOn (the default) confines every thread of the process to the
	// calls a running VM needs; any other call ends the process with exit
	// status sandbox.ExitBlocked and a line on stderr naming it.
	SeccompOn SeccompMode = ""
	// SeccompLog installs the same filter, but a call outside it is
	// allowed and logged by the kernel (SECCOMP_RET_LOG).
	SeccompLog SeccompMode = "log"
	// SeccompOff installs no filter.
	SeccompOff SeccompMode = "off"
)

func (m SeccompMode) check() error {
	switch m {
	case SeccompOn, SeccompLog, SeccompOff:
		return nil
	}
	return fmt.Errorf("vmm: unknown seccomp mode %q (want %q, %q or %q)", m, "on", SeccompLog, SeccompOff)
}

// runtimeIoctls are the KVM requests a built VM still makes, on the vCPU
// and VM descriptors; everything else in the kvm package is build-time only.
var runtimeIoctls = []sandbox.Ioctl{
	{Name: "KVM_RUN", Request: kvm.KVM_RUN, Why: "the vCPU run loop"},
	{Name: "KVM_IRQ_LINE", Request: kvm.KVM_IRQ_LINE, Why: "interrupts of the serial port, i8042 and RTC (edges and levels through the in-kernel PIC and IOAPIC)"},
	{Name: "KVM_IRQFD", Request: kvm.KVM_IRQFD, Why: "virtio interrupts, assigned and deassigned as the guest programs them"},
	{Name: "KVM_IOEVENTFD", Request: kvm.KVM_IOEVENTFD, Why: "virtio queue notifications, (un)registered when a queue is reset or a PCI BAR moves"},
	{Name: "KVM_SET_GSI_ROUTING", Request: kvm.KVM_SET_GSI_ROUTING, Why: "MSI-X vectors the guest programs (virtio-pci)"},
	{Name: "KVM_SIGNAL_MSI", Request: kvm.KVM_SIGNAL_MSI, Why: "MSI-X messages delivered directly (virtio-pci)"},
	{Name: "KVM_KVMCLOCK_CTRL", Request: kvm.KVM_KVMCLOCK_CTRL, Why: "tells the guest it was paused, so its watchdog does not fire"},
	{Name: "KVM_GET_REGS", Request: kvm.KVM_GET_REGS, Why: "a vCPU fault's report: registers"},
	{Name: "KVM_GET_SREGS", Request: kvm.KVM_GET_SREGS, Why: "a vCPU fault's report: segments and paging mode"},
	{Name: "KVM_TRANSLATE", Request: kvm.KVM_TRANSLATE, Why: "a vCPU fault's report: the faulting instruction's bytes"},
}

// filterRules is glue's whole allow-list: the sandbox package's base, the
// KVM requests, and the terminal requests that restore the console; with
// vsock, what virtio-vsock's host side needs to dial host services.
func filterRules(vsock bool) []sandbox.Rule {
	rules := sandbox.Rules(append(append([]sandbox.Ioctl(nil), runtimeIoctls...), sandbox.TerminalIoctls...))
	if vsock {
		rules = append(rules, sandbox.VsockRules...)
	}
	return rules
}

// Resource-limit headroom over what the process holds when it is confined.
const (
	// fileHeadroom: the control socket's connections (at most
	// control.DefaultMaxConns, plus ones being refused) and the Go
	// runtime's own.
	fileHeadroom = control.DefaultMaxConns + 32
	// threadHeadroom: threads the process may still start (its vCPUs start
	// after it is confined; the Go runtime adds threads for blocking
	// calls). RLIMIT_NPROC counts every task of the uid, so it is set over
	// the uid's count now (see docs/security.md).
	threadHeadroom = 1024
)

// confine is what Run does before the first KVM_RUN; the package's own
// tests, which share their process with the test runner, replace it.
var confine = confineProcess

// confineProcess sets no_new_privs and the resource limits, then installs
// the filter as cfg.Seccomp says. From here on the process opens nothing.
func confineProcess(vm *VM) error {
	if cgoLinked {
		return errors.New("vmm: this program is built with cgo, whose C runtime cannot be confined: build it with CGO_ENABLED=0 (for glue: make glue)")
	}
	files, err := sandbox.OpenFiles()
	if err != nil {
		return err
	}
	limits := sandbox.Limits{Files: uint64(files + fileHeadroom)}
	applies, err := sandbox.NprocApplies()
	if err != nil {
		return err
	}
	if applies {
		tasks, err := sandbox.UserTasks()
		if err != nil {
			return err
		}
		limits.Threads = uint64(tasks + vm.cfg.CPUs + runtime.GOMAXPROCS(0) + threadHeadroom)
	}
	if err := sandbox.Limit(limits); err != nil {
		return err
	}
	vm.log.Debug("resource limits set", "nofile", limits.Files, "nproc", limits.Threads, "nproc-applies", applies, "core", 0)
	if err := installFilter(vm); err != nil {
		return err
	}
	vm.cfg.Timeline.Mark("sandbox")
	return nil
}

// installFilter installs the filter as cfg.Seccomp says (or, with it off,
// only sets no_new_privs).
func installFilter(vm *VM) error {
	switch vm.cfg.Seccomp {
	case SeccompOff:
		vm.log.Warn("seccomp is off (--seccomp=off): a guest that gains code execution in glue can make any system call glue's uid may make")
		return sandbox.SetNoNewPrivs()
	case SeccompLog:
		vm.log.Warn("seccomp is in log mode (--seccomp=log): calls outside the allow-list are allowed and logged by the kernel (audit type=1326, syscall=N: dmesg, journalctl -k or the audit log)")
		return sandbox.Install(filterRules(vm.cfg.Vsock != nil), sandbox.Log)
	}
	if err := sandbox.Install(filterRules(vm.cfg.Vsock != nil), sandbox.Trap); err != nil {
		return err
	}
	vm.log.Debug("seccomp filter installed", "rules", len(filterRules(vm.cfg.Vsock != nil)))
	return nil
}
