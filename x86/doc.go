// Package x86 is what glue knows about the x86 machine it presents to a
// guest: the guest-physical memory and IRQ map (layout.go, the only place
// that assigns addresses, ports and interrupt lines), the boot structures
// written into guest memory, and the initial vCPU state.
//
// The boot structures are built in host buffers and written through
// guestmem, so nothing lands outside guest RAM:
//
//   - E820Map: the memory map, with the EBDA and BIOS area reserved;
//   - WriteZeroPage: struct boot_params for Linux's 64-bit boot protocol,
//     for an ELF vmlinux or with the setup header of a bzImage;
//   - WritePVHStartInfo: struct hvm_start_info for the PVH entry;
//   - WritePageTables and WriteDescriptorTables: identity page tables with
//     2 MiB pages, BootGDT and an empty IDT;
//   - WriteMPTable: the Intel MultiProcessor table, which gives a guest
//     without ACPI its CPUs and its interrupt routing;
//   - WriteBootMemory: all of the above, plus the command line, in order.
//
// None of it needs /dev/kvm; the VMM loads the kernel and initrd first, then
// calls WriteBootMemory, then sets the vCPU registers.
package x86
