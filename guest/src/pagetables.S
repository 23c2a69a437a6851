/*
 * pagetables.S - the guest's page tables for the first 4 GiB, prebuilt.
 *
 * An identity map with 2 MiB pages (never 1 GiB pages: they triple-fault
 * on some KVM hosts, see docs/testing.md): PML4[0] -> PDPT, PDPT[0..3] -> four
 * page directories of 512 entries each. [3 GiB, 4 GiB), the PC's MMIO hole
 * with the IOAPIC and the LAPIC, is mapped cache-disabled.
 *
 * The assembler computes every entry, so no code has to: the PVH entry
 * loads these into CR3 as they are, and the Linux entry switches to them in
 * paging_init, which only adds page directories for RAM above 4 GiB
 * (paging.c). That matters where a guest's instructions are emulated one by
 * one (docs/testing.md): a loop over 2048 entries costs tens of milliseconds.
 */
#include "layout.h"

#define PDE_RAM  (PTE_P + PTE_W + PTE_PS)
#define PDE_MMIO (PTE_P + PTE_W + PTE_PS + PTE_PCD + PTE_PWT)

	.section .data.pagetables, "aw"
	.balign	4096
	.globl	pml4, pdpt, pd_low
pml4:
	.quad	pdpt + PTE_P + PTE_W
	.fill	511, 8, 0

pdpt:
	.quad	pd_low + 0 * 4096 + PTE_P + PTE_W
	.quad	pd_low + 1 * 4096 + PTE_P + PTE_W
	.quad	pd_low + 2 * 4096 + PTE_P + PTE_W
	.quad	pd_low + 3 * 4096 + PTE_P + PTE_W
	.fill	508, 8, 0	/* paging_init fills in RAM above 4 GiB */

pd_low:
	.set	page, 0
	.rept	2048
	.if	page < 1536	/* below 3 GiB */
	.quad	(page << 21) + PDE_RAM
	.else
	.quad	(page << 21) + PDE_MMIO
	.endif
	.set	page, page + 1
	.endr
