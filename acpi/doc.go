// Package acpi generates the ACPI tables of a glue machine: RSDP, XSDT,
// FADT, MADT, MCFG and a DSDT written in AML (with package aml), from a
// plain Machine description. It knows nothing of the devices' internals:
// the VMM passes addresses, ports and GSIs from its layout, and Build
// returns bytes.
//
// # The machine
//
// The machine is hardware-reduced (FADT flag HW_REDUCED_ACPI): no PM1 or
// GPE register blocks, no SCI, no SMI, no FACS. The OS finds devices in the
// DSDT under \_SB: one ACPI0007 processor device per vCPU (Cnnn, _UID n,
// matching the MADT's processor UIDs), the PCI host bridge PCI0 (PNP0A08,
// compatible PNP0A03, _SEG, _BBN, a _CRS with its bus range, the
// configuration ports 0xcf8-0xcff, I/O windows, a 32-bit memory window and
// a 64-bit one, and a _PRT routing INTx pins to GSIs), the ECAM region as a
// motherboard resource MRES (PNP0C02), the UARTs COMn (PNP0501), the CMOS
// clock RTC0 (PNP0B00: its two ports, no interrupt), the
// virtio-mmio transports Vnnn (LNRO0005, Memory32Fixed and Interrupt, the
// description Linux's virtio_mmio driver binds to without any
// virtio_mmio.device= on the command line), the power button PWRB
// (PNP0C0C) and the Generic Event Device GED0 (ACPI0013) that notifies it.
// \_S5 offers the soft-off state.
//
// # Power button, power-off and reset
//
// A hardware-reduced machine has no fixed-feature power button; the GED
// stands in. Linux's GED driver requests each interrupt in GED0's _CRS and,
// when one fires, runs _EVT(GSI); glue's _EVT reads the 32-bit event
// register once (which clears it) and, when EventPowerButton is set, sends
// Notify(\_SB.PWRB, 0x80), which the ACPI button driver reports as
// KEY_POWER. The OS then shuts down and enters S5: it clears WAK_STS in the
// sleep status register and writes SLP_TYP (SleepTypeS5, from \_S5) with
// SLP_EN to the sleep control register. Reboot writes ResetValue to the
// reset register (FADT RESET_REG). Linux offers ACPI power-off on a
// hardware-reduced machine only when the FADT has both sleep registers.
//
// Power is the register file behind all of this, placed by the VMM through
// Machine.Power (port I/O or MMIO) and registered on the matching bus:
//
//	offset  size  register        guest access
//	0x0     4     event           read: pending Event* bits, cleared by the read
//	0x4     1     sleep control   write SLP_EN|SLP_TYP=5<<2 (0x34): PowerOff()
//	0x5     1     sleep status    reads 0 (never woken); writes ignored
//	0x6     1     reset           write ResetValue (0x01): Reset()
//	0x7     1     reserved        reads 0
//
// PressPowerButton latches the event and calls the injected Interrupt, which
// pulses the GED's GSI (Machine.Power.GSI, edge-triggered and active high).
//
// # Placing the tables
//
// Tables.Layout(base) puts the RSDP at base and the other tables after it,
// filling in the RSDP's XSDT address, the XSDT's entries and the FADT's
// X_DSDT. The VMM then:
//   - copies Image.Blob to base in guest RAM, a range it reports as
//     reserved in e820 (a base in [ScanAreaStart, ScanAreaEnd), 16-byte
//     aligned, already is, and there OSes that scan for the RSDP find it);
//   - writes Image.RSDPAddr to boot_params.acpi_rsdp_addr (zero page offset
//     ZeroPageRSDPOffset), which Linux prefers to scanning;
//   - reserves the ECAM region in e820 as well, and programs and drives the
//     _PRT's GSIs as ACPI defines them: level-triggered, active low.
//
// Linux on a hardware-reduced machine does not set up the PIT or the 8259
// PICs (x86's acpi_reduced_hw_init), so the VMM must offer a clock that
// needs neither (the LAPIC timer with kvm-clock or a known TSC frequency).
//
// FindRSDP scans memory as an OS does; the tests use it, and so can a VMM
// that checks what it wrote.
package acpi
