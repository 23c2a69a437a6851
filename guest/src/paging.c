/*
 * paging.c - extend the guest's page tables to RAM above 4 GiB.
 *
 * pagetables.S holds an identity map of the first 4 GiB. Where the memory
 * map names RAM (or anything else) above 4 GiB, paging_init identity-maps
 * it too, whole GiB at a time with 2 MiB pages, up to MAP_MAX_GIB. The
 * page directories for that live in .bss.pagetables. All tables are in the
 * image, so the VMM's boot tables in low memory (glue's at 0x9000-0xefff)
 * are free once CR3 points here; the APs use these tables too.
 */
#include "guest.h"

#define MAP_MAX_GIB 64
#define GIB (1ull << 30)

extern uint64_t pml4[512], pdpt[512]; /* pagetables.S */
static uint64_t pd_high[MAP_MAX_GIB - 4][512]
	__attribute__((section(".bss.pagetables"), aligned(4096)));

uint64_t mapped_top;

/* Maps [0, max(4 GiB, top)) rounded up to whole GiB, capped at
 * MAP_MAX_GIB, and loads CR3. Entries are written before the PDPT entry
 * that makes them reachable, so this is safe on live tables. */
void paging_init(uint64_t top)
{
	uint64_t gib = 4;
	for (; gib < MAP_MAX_GIB && gib * GIB < top; gib++) {
		uint64_t *pd = pd_high[gib - 4];
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (gib * GIB + (i << 21)) | PTE_P | PTE_W | PTE_PS;
		pdpt[gib] = (uintptr_t)pd | PTE_P | PTE_W;
	}
	mapped_top = gib * GIB;
	__asm__ volatile("mov %0, %%cr3" : : "r"((uintptr_t)pml4) : "memory");
}
