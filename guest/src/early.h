/*
 * early.h - assembly macros for the first instructions after entry.
 * Included from .S files only.
 */
#ifndef GUEST_EARLY_H
#define GUEST_EARLY_H

#include "layout.h"

/*
 * EARLY_PUTS str: write the NUL-terminated string at symbol \str to COM1.
 *
 * Runs before there is a stack, in 32-bit protected mode (PVH entry) as
 * well as in 64-bit mode (Linux entry): it uses only registers and string
 * instructions, which pick ESI or RSI by mode. Each byte waits for LSR.THRE
 * with a bounded spin, so an absent or stuck UART cannot hang the guest.
 * Clobbers EAX, ECX, EDX, ESI, EDI; preserves EBX (the boot-info pointer).
 */
.macro EARLY_PUTS str
	mov	$\str, %esi
.Lnext\@:
	lodsb
	test	%al, %al
	jz	.Ldone\@
	mov	%eax, %edi
	mov	$(COM1 + UART_LSR), %dx
	mov	$100000, %ecx
.Lwait\@:
	in	(%dx), %al
	test	$LSR_THRE, %al
	jnz	.Lready\@
	pause
	dec	%ecx
	jnz	.Lwait\@
.Lready\@:
	mov	%edi, %eax
	mov	$(COM1 + UART_THR), %dx
	out	%al, (%dx)
	jmp	.Lnext\@
.Ldone\@:
.endm

#endif
