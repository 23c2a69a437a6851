/*
 * pvh.S - the PVH entry: how QEMU (and glue, for ELF kernels) boots us.
 *
 * A loader that finds the XEN_ELFNOTE_PHYS32_ENTRY note below enters at the
 * address it holds, in 32-bit protected mode: paging off, flat 4 GiB CS/DS,
 * interrupts off, no stack, EBX = physical address of struct hvm_start_info
 * (Xen's xen/include/public/arch-x86/hvm/start_info.h).
 *
 * This stub recreates the state the Linux 64-bit boot protocol would have
 * given us - long mode, the first 4 GiB identity-mapped with 2 MiB pages,
 * CS = 0x08, DS/SS = 0x10 - using the guest's own page tables (prebuilt in
 * pagetables.S) and GDT (desc.c), and joins the common 64-bit code with
 * start64(BOOT_PVH, ebx), as the Linux entry does.
 */
#include "early.h"

/*
 * The ELF note. QEMU and Linux read the descriptor as a pointer-sized value
 * (Linux emits it with _ASM_PTR), so it is 8 bytes here: the 32-bit entry
 * address, zero-extended. A reader that takes only 4 bytes gets the same
 * address. Name "Xen\0" is 4 bytes, so no padding is needed anywhere.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

	.section .note.Xen, "a", @note
	.balign	4
	.long	4			/* namesz */
	.long	8			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.quad	pvh_start

	.section .text.entry, "ax"
	.code32
	.globl	pvh_start
pvh_start:
	cli
	cld
	EARLY_PUTS banner		/* keeps EBX = hvm_start_info */

	/* Clear .bss. The stacks live outside it. */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$2, %ecx
	xor	%eax, %eax
	rep stosl

	/* Long mode: PAE, CR3, EFER.LME, then paging (which activates LMA). */
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$pml4, %eax		/* pagetables.S: 0-4 GiB, prebuilt */
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$(CR0_PE | CR0_PG), %eax
	mov	%eax, %cr0

	/* Our GDT (desc.c); the far jump loads the 64-bit code segment. */
	lgdt	gdt_desc
	ljmp	$SEL_CODE64, $pvh_long

	.code64
pvh_long:
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	mov	$bsp_stack_top, %rsp
	xor	%ebp, %ebp

	mov	$BOOT_PVH, %edi
	mov	%ebx, %esi		/* zero-extends: hvm_start_info */
	call	start64			/* never returns */
3:	cli
	hlt
	jmp	3b
