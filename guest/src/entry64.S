/*
 * entry64.S - the Linux 64-bit boot protocol entry (the ELF entry point).
 *
 * Contract (Documentation/arch/x86/boot.rst, "64-bit boot protocol"): the
 * loader jumps here in 64-bit long mode with paging on, at least the memory
 * we touch identity-mapped (glue maps the first 4 GiB with 2 MiB pages), a
 * flat GDT with CS = 0x08 and DS/SS = 0x10, interrupts off, and
 * RSI = physical address of struct boot_params (the "zero page").
 *
 * We print the banner first (benchmarks time "process start -> first serial
 * byte"), take our own stack, clear .bss and call start64(BOOT_LINUX64, rsi).
 * start64 copies what it needs from the zero page before it touches low
 * memory, then installs our own GDT, IDT and page tables.
 */
#include "early.h"

	.section .text.entry, "ax"
	.code64
	.globl	linux64_start
linux64_start:
	cli
	cld
	mov	%rsi, %rbx		/* boot_params: EARLY_PUTS keeps RBX */
	EARLY_PUTS banner

	mov	$bsp_stack_top, %rsp	/* our own stack, outside .bss */
	xor	%ebp, %ebp

	/* Clear .bss (a loader should have, but RAM may be reused). */
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$3, %ecx
	xor	%eax, %eax
	rep stosq

	mov	$BOOT_LINUX64, %edi
	mov	%rbx, %rsi
	call	start64			/* never returns */
1:	cli
	hlt
	jmp	1b

	/* The banner every boot starts with; start64 does not repeat it. */
	.section .rodata
	.globl	banner
banner:
	.asciz	"glue guest: hello from the VM\n"
