// Package kvm is a typed interface to the Linux KVM API on x86-64.
//
// # Handles
//
// Each kernel fd class has a Go handle that owns the fd and closes it in
// Close:
//
//   - System is /dev/kvm (Open): capabilities, supported CPUID, CreateVM.
//   - VM is a VM fd (System.CreateVM): memory slots, the in-kernel irqchip
//     and PIT, interrupt lines, irqfds, ioeventfds, MSIs, CreateVCPU.
//   - VCPU is a vCPU fd (VM.CreateVCPU) plus its mmapped struct kvm_run:
//     Run, and the register, MSR, CPUID, LAPIC and MP-state ioctls.
//
// Methods are named after the ioctl they issue (KVM_SET_USER_MEMORY_REGION
// is VM.SetUserMemoryRegion) and wrap its errno with the operation, as in
// "kvm: create vcpu 1: invalid argument". Closing a parent does not
// invalidate its children: the kernel keeps a VM alive while any of its
// vCPU fds is open. Guest RAM is not owned here; the caller maps it, passes
// it to SetUserMemoryRegion and keeps it mapped for the VM's lifetime.
//
// # Running a vCPU
//
// VCPU.Run returns a decoded Exit. Port I/O and MMIO exits carry Data slices
// that alias the run area, so the VMM answers a read by filling them before
// the next Run. KVM_RUN's EINTR and EAGAIN come back as ExitInterrupted and
// ExitRetry exits, not errors; every other ioctl is made again when a
// signal interrupts it (EINTR), as the Go runtime's preemption signals can.
// A VCPU belongs to one goroutine; another
// goroutine stops it with SetImmediateExit (plus a signal to the vCPU's
// thread if it may be inside the guest).
//
// # C layouts
//
// The structs mirroring the kernel's (Regs, Sregs, CPUIDEntry, ...) and the
// KVM_* constants, which keep their C spelling, are generated from
// <linux/kvm.h> by `go tool cgo -godefs` into ztypes_linux_amd64.go, which
// is checked in: building the package needs no cgo. To regenerate, with gcc
// and the kernel UAPI headers (linux-libc-dev) installed:
//
//	cd kvm && go generate
//
// which runs `go run mkztypes.go`: godefs over types_linux.go, plus the doc
// comments godefs drops. A test checks every struct's size against the C
// compiler's. Only files named *_unsafe.go import unsafe.
package kvm

//go:generate go run mkztypes.go
