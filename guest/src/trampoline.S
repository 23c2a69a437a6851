/*
 * trampoline.S - where application processors (APs) start.
 *
 * smp.c copies the bytes between trampoline_start and trampoline_end to
 * TRAMPOLINE_ADDR (a 4 KiB-aligned page below 1 MiB) and sends each AP
 * INIT, SIPI, SIPI with vector TRAMPOLINE_ADDR >> 12. The AP wakes in real
 * mode at CS:IP = (TRAMPOLINE_ADDR >> 4):0 and climbs to long mode:
 *
 *   real mode      load our GDT, set CR0.PE, far jump to 32-bit code
 *   protected mode enable PAE, load the BSP's page tables (pml4), set
 *                  EFER.LME, set CR0.PG, far jump to 64-bit code
 *   long mode      take a stack of its own and call ap_main(index)
 *
 * The code is assembled here but runs at TRAMPOLINE_ADDR, so a reference to
 * a trampoline label is written as REL(label); references to the rest of
 * the image (gdt, pml4, ap_stacks, ap_main) are ordinary absolute addresses.
 */
#include "layout.h"

#define REL(x) ((x) - trampoline_start + TRAMPOLINE_ADDR)

	.section .rodata.trampoline, "a"
	.balign	16
	.globl	trampoline_start, trampoline_end

	.code16
trampoline_start:
	cli
	cld
	/* CS is TRAMPOLINE_ADDR >> 4; offsets below are from the page start. */
	lgdtl	%cs:(tramp_gdt_desc - trampoline_start)
	mov	%cr0, %eax
	or	$CR0_PE, %eax
	mov	%eax, %cr0
	ljmpl	$SEL_CODE32, $REL(tramp_32)

	.code32
tramp_32:
	mov	$SEL_DATA, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%cr4, %eax
	or	$CR4_PAE, %eax
	mov	%eax, %cr4
	mov	$pml4, %eax		/* the page tables start64 built */
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_LME, %eax
	wrmsr
	mov	%cr0, %eax
	or	$CR0_PG, %eax
	mov	%eax, %cr0
	ljmp	$SEL_CODE64, $REL(tramp_64)

	.code64
tramp_64:
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	/*
	 * Each AP that gets here takes the next stack index, atomically, so
	 * two APs never share a stack even if the BSP gave up waiting on one
	 * and started the next. ap_next_stack is absolute, not RIP-relative.
	 */
	mov	$1, %eax
	lock xadd %eax, ap_next_stack
	and	$(MAX_CPUS - 1), %eax
	mov	%eax, %edi		/* ap_main(index) */
	inc	%eax
	shl	$AP_STACK_SHIFT, %rax
	add	$ap_stacks, %rax
	mov	%rax, %rsp
	xor	%ebp, %ebp
	mov	$ap_main, %eax
	call	*%rax			/* never returns */
1:	cli
	hlt
	jmp	1b

	/* lgdt operand, reachable in real mode: limit, 32-bit base. */
	.balign	8
tramp_gdt_desc:
	.word	GDT_ENTRIES * 8 - 1
	.long	gdt
trampoline_end:
