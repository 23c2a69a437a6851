package kvm

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrKVMClockUnavailable is wrapped by KVMClockCtrl's error when there is no
// kvmclock to notify: the guest has not enabled it, or the kernel lacks the
// ioctl. Callers pausing a VM ignore it.
var ErrKVMClockUnavailable = errors.New("kvmclock not in use")

// VCPU is a vCPU fd and its mapped run area.
//
// One goroutine owns a VCPU and makes all its calls, Close included (KVM is
// fastest when that goroutine stays on one OS thread). The exception is
// SetImmediateExit, which other goroutines call to stop the owner's Run.
type VCPU struct {
	id  int
	fd  int
	run []byte // the mmapped struct kvm_run

	// runMu orders SetImmediateExit from other goroutines against Close
	// unmapping run. Run itself never takes it.
	runMu sync.RWMutex
}

// ID is the id the vCPU was created with (its initial APIC ID).
func (c *VCPU) ID() int { return c.id }

// Run enters the guest until the next exit the VMM must handle
// (KVM_RUN) and returns it decoded. EINTR becomes an ExitInterrupted exit and
// EAGAIN an ExitRetry exit, not errors; any error means the vCPU cannot run.
func (c *VCPU) Run() (Exit, error) {
	err := runIoctl(c.fd)
	switch {
	case err == unix.EINTR:
		return Exit{Kind: ExitInterrupted, Reason: KVM_EXIT_INTR}, nil
	case err == unix.EAGAIN:
		return Exit{Kind: ExitRetry}, nil
	case err != nil:
		return Exit{}, fmt.Errorf("kvm: run vcpu %d: %w", c.id, err)
	}
	exit, err := decodeExit(c.run)
	if err != nil {
		return exit, fmt.Errorf("kvm: run vcpu %d: %w", c.id, err)
	}
	return exit, nil
}

// SetImmediateExit sets or clears kvm_run.immediate_exit. While set, KVM_RUN
// returns EINTR (ExitInterrupted) at once instead of entering the guest. It
// is safe to call from any goroutine; to stop a vCPU already inside the guest
// the caller also signals its thread. The owner clears it before running on.
func (c *VCPU) SetImmediateExit(on bool) {
	c.runMu.RLock()
	defer c.runMu.RUnlock()
	if c.run == nil {
		return // closed: there is nothing left to stop
	}
	var v uint8
	if on {
		v = 1
	}
	storeImmediateExit(c.run, v)
}

// ImmediateExit reports whether kvm_run.immediate_exit is set.
func (c *VCPU) ImmediateExit() bool {
	c.runMu.RLock()
	defer c.runMu.RUnlock()
	return c.run != nil && loadImmediateExit(c.run) != 0
}

// GetRegs reads the general-purpose registers (KVM_GET_REGS).
func (c *VCPU) GetRegs() (*Regs, error) {
	var regs Regs
	if _, err := ioctlPtr(c.fd, KVM_GET_REGS, &regs); err != nil {
		return nil, fmt.Errorf("kvm: get regs vcpu %d: %w", c.id, err)
	}
	return &regs, nil
}

// SetRegs writes the general-purpose registers (KVM_SET_REGS).
func (c *VCPU) SetRegs(regs *Regs) error {
	if _, err := ioctlPtr(c.fd, KVM_SET_REGS, regs); err != nil {
		return fmt.Errorf("kvm: set regs vcpu %d: %w", c.id, err)
	}
	return nil
}

// GetSregs reads the segment and control registers (KVM_GET_SREGS).
func (c *VCPU) GetSregs() (*Sregs, error) {
	var sregs Sregs
	if _, err := ioctlPtr(c.fd, KVM_GET_SREGS, &sregs); err != nil {
		return nil, fmt.Errorf("kvm: get sregs vcpu %d: %w", c.id, err)
	}
	return &sregs, nil
}

// SetSregs writes the segment and control registers (KVM_SET_SREGS).
func (c *VCPU) SetSregs(sregs *Sregs) error {
	if _, err := ioctlPtr(c.fd, KVM_SET_SREGS, sregs); err != nil {
		return fmt.Errorf("kvm: set sregs vcpu %d: %w", c.id, err)
	}
	return nil
}

// GetFPU reads the x87/SSE state (KVM_GET_FPU).
func (c *VCPU) GetFPU() (*FPU, error) {
	var fpu FPU
	if _, err := ioctlPtr(c.fd, KVM_GET_FPU, &fpu); err != nil {
		return nil, fmt.Errorf("kvm: get fpu vcpu %d: %w", c.id, err)
	}
	return &fpu, nil
}

// SetFPU writes the x87/SSE state (KVM_SET_FPU).
func (c *VCPU) SetFPU(fpu *FPU) error {
	if _, err := ioctlPtr(c.fd, KVM_SET_FPU, fpu); err != nil {
		return fmt.Errorf("kvm: set fpu vcpu %d: %w", c.id, err)
	}
	return nil
}

// SetMSRs writes model-specific registers (KVM_SET_MSRS). KVM stops at the
// first MSR it rejects; that one is named in the error.
func (c *VCPU) SetMSRs(msrs []MSREntry) error {
	buf := newFlexBuffer[msrsHeader, MSREntry](len(msrs))
	buf.Header.Nmsrs = uint32(len(msrs))
	copy(buf.Entries, msrs)
	n, err := buf.ioctl(c.fd, KVM_SET_MSRS)
	if err != nil {
		return fmt.Errorf("kvm: set msrs vcpu %d: %w", c.id, err)
	}
	if n != len(msrs) {
		return fmt.Errorf("kvm: set msrs vcpu %d: MSR %#x rejected (%d of %d set)", c.id, msrs[n].Index, n, len(msrs))
	}
	return nil
}

// GetMSRs reads the MSRs named by each entry's Index into its Data
// (KVM_GET_MSRS).
func (c *VCPU) GetMSRs(msrs []MSREntry) error {
	buf := newFlexBuffer[msrsHeader, MSREntry](len(msrs))
	buf.Header.Nmsrs = uint32(len(msrs))
	copy(buf.Entries, msrs)
	n, err := buf.ioctl(c.fd, KVM_GET_MSRS)
	if err != nil {
		return fmt.Errorf("kvm: get msrs vcpu %d: %w", c.id, err)
	}
	copy(msrs, buf.Entries[:n])
	if n != len(msrs) {
		return fmt.Errorf("kvm: get msrs vcpu %d: MSR %#x unreadable (%d of %d read)", c.id, msrs[n].Index, n, len(msrs))
	}
	return nil
}

// SetCPUID2 sets what CPUID returns in the guest (KVM_SET_CPUID2). Call it
// before the first Run.
func (c *VCPU) SetCPUID2(entries []CPUIDEntry) error {
	buf := newFlexBuffer[cpuid2Header, CPUIDEntry](len(entries))
	buf.Header.Nent = uint32(len(entries))
	copy(buf.Entries, entries)
	if _, err := buf.ioctl(c.fd, KVM_SET_CPUID2); err != nil {
		return fmt.Errorf("kvm: set cpuid2 vcpu %d (%d entries): %w", c.id, len(entries), err)
	}
	return nil
}

// GetLAPIC reads the in-kernel local APIC's registers (KVM_GET_LAPIC).
func (c *VCPU) GetLAPIC() (*LAPICState, error) {
	var s LAPICState
	if _, err := ioctlPtr(c.fd, KVM_GET_LAPIC, &s); err != nil {
		return nil, fmt.Errorf("kvm: get lapic vcpu %d: %w", c.id, err)
	}
	return &s, nil
}

// SetLAPIC writes the in-kernel local APIC's registers (KVM_SET_LAPIC).
func (c *VCPU) SetLAPIC(s *LAPICState) error {
	if _, err := ioctlPtr(c.fd, KVM_SET_LAPIC, s); err != nil {
		return fmt.Errorf("kvm: set lapic vcpu %d: %w", c.id, err)
	}
	return nil
}

// GetMPState reads the vCPU's multiprocessing state, a KVM_MP_STATE_* value
// (KVM_GET_MP_STATE).
func (c *VCPU) GetMPState() (uint32, error) {
	var s mpState
	if _, err := ioctlPtr(c.fd, KVM_GET_MP_STATE, &s); err != nil {
		return 0, fmt.Errorf("kvm: get mp state vcpu %d: %w", c.id, err)
	}
	return s.State, nil
}

// SetMPState sets the vCPU's multiprocessing state (KVM_SET_MP_STATE).
func (c *VCPU) SetMPState(state uint32) error {
	s := mpState{State: state}
	if _, err := ioctlPtr(c.fd, KVM_SET_MP_STATE, &s); err != nil {
		return fmt.Errorf("kvm: set mp state vcpu %d to %d: %w", c.id, state, err)
	}
	return nil
}

// Translate walks the guest's page tables for a linear address in the
// vCPU's current mode (KVM_TRANSLATE). Valid is 0 when it is not mapped.
func (c *VCPU) Translate(linear uint64) (*Translation, error) {
	t := Translation{Linear_address: linear}
	if _, err := ioctlPtr(c.fd, KVM_TRANSLATE, &t); err != nil {
		return nil, fmt.Errorf("kvm: translate vcpu %d address %#x: %w", c.id, linear, err)
	}
	return &t, nil
}

// KVMClockCtrl tells the guest, through its kvmclock page, that the vCPU was
// paused by the host, so its soft-lockup watchdog does not fire on resume
// (KVM_KVMCLOCK_CTRL). The error wraps ErrKVMClockUnavailable when the guest
// does not use kvmclock or the kernel lacks the ioctl.
func (c *VCPU) KVMClockCtrl() error {
	_, err := ioctl(c.fd, KVM_KVMCLOCK_CTRL, 0)
	switch {
	case err == nil:
		return nil
	case err == unix.EINVAL, err == unix.ENOTSUP, err == unix.ENOTTY:
		return fmt.Errorf("kvm: kvmclock ctrl vcpu %d: %w: %w", c.id, ErrKVMClockUnavailable, err)
	default:
		return fmt.Errorf("kvm: kvmclock ctrl vcpu %d: %w", c.id, err)
	}
}

// Close unmaps the run area and closes the vCPU fd. It is safe to call more
// than once; SetImmediateExit after Close does nothing.
func (c *VCPU) Close() error {
	c.runMu.Lock()
	var errs []error
	if c.run != nil {
		if err := unix.Munmap(c.run); err != nil {
			errs = append(errs, fmt.Errorf("kvm: close vcpu %d: unmap run area: %w", c.id, err))
		}
		c.run = nil
	}
	c.runMu.Unlock()
	if err := closeFD(&c.fd, fmt.Sprintf("kvm: close vcpu %d", c.id)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
