// Package vmm is the one place where glue's components are wired into a
// virtual machine: KVM, guest memory, the kernel loader, the x86 boot
// structures, the legacy devices on the I/O port bus, and the vCPUs.
//
// A Config (plain data) goes in; Build validates it, creates the VM and
// loads the kernel; Run starts the vCPUs and returns when the VM ends. Boot
// order, the threads involved and who owns what are described in
// docs/design.md.
package vmm
