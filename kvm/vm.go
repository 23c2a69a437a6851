package kvm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// VM is a VM fd: guest memory slots, the in-kernel interrupt controllers
// and timers, and the factory of vCPUs.
type VM struct {
	fd           int
	vcpuMmapSize int
}

// SetUserMemoryRegion maps host into the guest at guestPhys as memory slot
// slot (KVM_SET_USER_MEMORY_REGION). host must be page-aligned memory from
// mmap that outlives the VM; an empty host deletes the slot. flags takes
// KVM_MEM_LOG_DIRTY_PAGES and KVM_MEM_READONLY.
func (vm *VM) SetUserMemoryRegion(slot uint32, guestPhys uint64, host []byte, flags uint32) error {
	region := userspaceMemoryRegion{
		Slot:            slot,
		Flags:           flags,
		Guest_phys_addr: guestPhys,
		Memory_size:     uint64(len(host)),
		Userspace_addr:  hostAddr(host),
	}
	if _, err := ioctlPtr(vm.fd, KVM_SET_USER_MEMORY_REGION, &region); err != nil {
		return fmt.Errorf("kvm: set user memory region %d (guest %#x, %#x bytes): %w", slot, guestPhys, len(host), err)
	}
	return nil
}

// SetTSSAddr places the three pages Intel VMX needs for real-mode emulation
// (KVM_SET_TSS_ADDR). The range must be unused by the guest and below 4 GiB.
func (vm *VM) SetTSSAddr(addr uint64) error {
	if _, err := ioctl(vm.fd, KVM_SET_TSS_ADDR, uintptr(addr)); err != nil {
		return fmt.Errorf("kvm: set tss addr %#x: %w", addr, err)
	}
	return nil
}

// SetIdentityMapAddr places the one page of the identity-map page table
// Intel VMX uses for real mode without unrestricted guest
// (KVM_SET_IDENTITY_MAP_ADDR). Call it before creating vCPUs.
func (vm *VM) SetIdentityMapAddr(addr uint64) error {
	if _, err := ioctlPtr(vm.fd, KVM_SET_IDENTITY_MAP_ADDR, &addr); err != nil {
		return fmt.Errorf("kvm: set identity map addr %#x: %w", addr, err)
	}
	return nil
}

// CreateIRQChip creates the in-kernel PIC pair, IOAPIC and per-vCPU local
// APICs (KVM_CREATE_IRQCHIP). Call it before creating vCPUs.
func (vm *VM) CreateIRQChip() error {
	if _, err := ioctl(vm.fd, KVM_CREATE_IRQCHIP, 0); err != nil {
		return fmt.Errorf("kvm: create irqchip: %w", err)
	}
	return nil
}

// CreatePIT2 creates the in-kernel i8254 timer (KVM_CREATE_PIT2). The PC
// speaker port is a dummy, so port 0x61 reads work without a device model.
func (vm *VM) CreatePIT2() error {
	cfg := pitConfig{Flags: KVM_PIT_SPEAKER_DUMMY}
	if _, err := ioctlPtr(vm.fd, KVM_CREATE_PIT2, &cfg); err != nil {
		return fmt.Errorf("kvm: create pit2: %w", err)
	}
	return nil
}

// CheckExtension reports a capability's value for this VM (KVM_CHECK_EXTENSION
// on the VM fd, which can differ from the system-wide answer); 0 when
// unsupported.
func (vm *VM) CheckExtension(cap int) int {
	n, err := ioctl(vm.fd, KVM_CHECK_EXTENSION, uintptr(cap))
	if err != nil {
		return 0
	}
	return n
}

// CreateVCPU creates vCPU id (KVM_CREATE_VCPU; id is also its initial APIC
// ID) and maps its run area. With an in-kernel irqchip, vCPU 0 is the
// bootstrap processor and the others wait for INIT/SIPI.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	fd, err := ioctl(vm.fd, KVM_CREATE_VCPU, uintptr(id))
	if err != nil {
		return nil, fmt.Errorf("kvm: create vcpu %d: %w", id, err)
	}
	run, err := unix.Mmap(fd, 0, vm.vcpuMmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("kvm: create vcpu %d: map run area: %w", id, err)
	}
	return &VCPU{id: id, fd: fd, run: run}, nil
}

// Close closes the VM fd. The kernel keeps the VM alive until its vCPU fds
// are closed too. It is safe to call more than once.
func (vm *VM) Close() error {
	return closeFD(&vm.fd, "kvm: close vm")
}
