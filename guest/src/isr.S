/*
 * isr.S - interrupt and exception entry stubs.
 *
 * One 16-byte stub per vector 0..255, so desc.c can find stub n at
 * isr_stubs + 16 * n. Each stub makes the stack look the same - an error
 * code (a dummy 0 for vectors where the CPU pushes none) and the vector
 * number above the CPU's interrupt frame - and jumps to isr_common, which
 * saves the general registers and calls interrupt(struct frame *) in
 * desc.c. If that returns, the registers are restored and iretq resumes.
 */
#include "layout.h"

	.text
	.code64
	.balign	16
	.globl	isr_stubs
isr_stubs:
	.set	vec, 0
	.rept	256
	.balign	16
	/* Vectors 8, 10-14, 17, 21, 29, 30 come with an error code. */
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	isr_common
	.set	vec, vec + 1
	.endr

isr_common:
	/* Must match struct frame in desc.h. */
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rbp
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	cld
	mov	%rsp, %rdi
	call	interrupt
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp		/* vector and error code */
	iretq
