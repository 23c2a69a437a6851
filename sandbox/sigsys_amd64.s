#include "textflag.h"

// The SIGSYS handler, entered by the kernel with the C calling convention
// (DI = signal, SI = *siginfo_t, DX = *ucontext_t) on the thread's signal
// stack. It uses no Go stack and calls nothing, so it is safe on any
// thread at any moment: it writes
//   glue: seccomp: blocked system call NR (NAME) args 0xA0 0xA1 0xA2 ...
// to stderr and ends the process with ExitBlocked.
//
// siginfo_t: si_syscall (int) at offset 24. ucontext_t: uc_mcontext.gregs
// at offset 40, with RDI, RSI and RDX at gregs[8], [9] and [12].
TEXT ·sigsysHandler(SB),NOSPLIT|NOFRAME,$0-0
	MOVQ	DX, R12                 // ucontext, kept across syscalls
	MOVL	24(SI), R13             // the system call number

	MOVQ	·sigsysPrefix(SB), SI
	MOVQ	·sigsysPrefix+8(SB), DX
	CALL	sigsyswrite<>(SB)

	// The number in decimal, into sigsysBuf from its end.
	MOVL	R13, AX
	LEAQ	·sigsysBuf+24(SB), R9
	MOVL	$10, R10
decimal:
	XORL	DX, DX
	DIVL	R10
	ADDL	$'0', DX
	DECQ	R9
	MOVB	DX, (R9)
	TESTL	AX, AX
	JNZ	decimal
	MOVQ	R9, SI
	LEAQ	·sigsysBuf+24(SB), DX
	SUBQ	R9, DX
	CALL	sigsyswrite<>(SB)

	// " (NAME)" when the number has a name.
	CMPL	R13, $512
	JAE	args
	MOVL	R13, AX
	SHLQ	$4, AX
	LEAQ	·syscallNames(SB), R8
	ADDQ	AX, R8
	MOVQ	8(R8), DX
	TESTQ	DX, DX
	JZ	args
	MOVQ	R8, R14
	LEAQ	·sigsysOpen(SB), SI
	MOVQ	$2, DX
	CALL	sigsyswrite<>(SB)
	MOVQ	0(R14), SI
	MOVQ	8(R14), DX
	CALL	sigsyswrite<>(SB)
	LEAQ	·sigsysClose(SB), SI
	MOVQ	$1, DX
	CALL	sigsyswrite<>(SB)

args:
	MOVQ	·sigsysArgs(SB), SI
	MOVQ	·sigsysArgs+8(SB), DX
	CALL	sigsyswrite<>(SB)
	MOVQ	104(R12), AX            // RDI: argument 0
	CALL	sigsyshex<>(SB)
	MOVQ	112(R12), AX            // RSI: argument 1
	CALL	sigsyshex<>(SB)
	MOVQ	136(R12), AX            // RDX: argument 2
	CALL	sigsyshex<>(SB)

	MOVQ	·sigsysSuffix(SB), SI
	MOVQ	·sigsysSuffix+8(SB), DX
	CALL	sigsyswrite<>(SB)

	MOVL	$159, DI                // ExitBlocked
	MOVL	$231, AX                // exit_group
	SYSCALL
	HLT

// sigsyshex writes " 0x" and AX in hex.
TEXT sigsyshex<>(SB),NOSPLIT|NOFRAME,$0-0
	LEAQ	·sigsysBuf+24(SB), R9
hexdigit:
	MOVQ	AX, BX
	ANDQ	$15, BX
	LEAQ	·sigsysHexDigits(SB), R8
	MOVB	(R8)(BX*1), BX
	DECQ	R9
	MOVB	BX, (R9)
	SHRQ	$4, AX
	TESTQ	AX, AX
	JNZ	hexdigit
	DECQ	R9
	MOVB	$'x', (R9)
	DECQ	R9
	MOVB	$'0', (R9)
	DECQ	R9
	MOVB	$' ', (R9)
	MOVQ	R9, SI
	LEAQ	·sigsysBuf+24(SB), DX
	SUBQ	R9, DX
	JMP	sigsyswrite<>(SB)

// sigsyswrite writes DX bytes at SI to fd 2. It keeps R12-R14.
TEXT sigsyswrite<>(SB),NOSPLIT|NOFRAME,$0-0
	MOVL	$2, DI
	MOVL	$1, AX                  // write
	SYSCALL
	RET

// sigsysRestorer returns from a handler; the kernel requires one
// (SA_RESTORER) although this handler never returns.
TEXT ·sigsysRestorer(SB),NOSPLIT|NOFRAME,$0-0
	MOVL	$15, AX                 // rt_sigreturn
	SYSCALL
	HLT

// func sigsysHandlerAddrs() (handler, restorer uintptr)
TEXT ·sigsysHandlerAddrs(SB),NOSPLIT,$0-16
	LEAQ	·sigsysHandler(SB), AX
	MOVQ	AX, handler+0(FP)
	LEAQ	·sigsysRestorer(SB), AX
	MOVQ	AX, restorer+8(FP)
	RET
