// Package guest holds glue's own small test and demo guest: a freestanding
// x86-64 ELF, built from the C and assembly sources in this directory, that
// glue runs when `glue run` is given no kernel.
//
// The guest boots through either of the protocols glue offers for Linux:
// the Linux 64-bit boot protocol (the ELF entry point; RSI = the zero page)
// and PVH (the XEN_ELFNOTE_PHYS32_ENTRY note; EBX = hvm_start_info), so
// QEMU's microvm machine can run the very same file for side-by-side
// benchmarks. It reads its command line, memory map and CPU tables, starts
// the other CPUs, drives the serial port, the RTC, the i8042, PCI (ECAM or
// CF8/CFC, BARs, MSI-X, INTx), the ACPI tables (power button, S5) and
// virtio block, network, entropy and console devices over virtio-mmio
// (found through virtio_mmio.device= words, or the DSDT, as Linux finds
// them) and modern virtio-pci the way a minimal driver would, and reports
// on COM1 in machine-readable lines: the entry it came through, then one
// line per test,
//
//	GLUE-BOOT boot=linux64|pvh
//	GLUE-OK <test> <details>
//	GLUE-FAIL <test> <reason>
//
// followed by GLUE-DONE. The command line picks the tests
// (glue.test=cmdline,mem,cpus,serial-in,rtc,exits,mmio-exits,counter,demo,virtio,blk,
// blk-bench,net,rng,console,pci,pci-msix,acpi,power) and how the VM ends
// (glue.end=reset|triple|halt|s5|poweroff); README.md describes each, with
// their options and markers.
//
// The built ELF is committed so that `go install` needs no C toolchain. It
// builds reproducibly with Debian 12's gcc and binutils; CI rebuilds it and
// fails if the committed file differs from what the sources give.
package guest

import _ "embed" // for //go:embed

//go:generate make -C .

// ELF is the guest image, glue-guest.elf: one PT_LOAD segment at physical
// address 2 MiB (virtual = physical), the ELF entry for the Linux 64-bit
// boot protocol and a PT_NOTE with the PVH entry. Callers must not modify
// it.
//
//go:embed glue-guest.elf
var ELF []byte
