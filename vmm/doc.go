// Package vmm is the one place where glue's components are wired into a
// virtual machine: KVM, guest memory, the kernel loader, the x86 boot
// structures, the devices with their buses, slots and interrupts, and the
// vCPUs.
//
// A Config (plain data) goes in; Build validates it and runs the boot
// recipe, one step per function with explicit inputs and outputs (vm.go);
// Run starts the vCPUs and returns when the VM ends. A VM is the machine
// (machine.go), the device manager (devices.go) and the lifecycle
// (lifecycle.go). Boot order, the threads involved and who owns what are
// described in docs/design.md.
package vmm
