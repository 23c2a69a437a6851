/*
 * layout.h - constants shared by the C and the assembly files.
 *
 * Only plain #defines: this header is included from .S files too.
 * Addresses here are the guest's own choices; the VMM's choices (where the
 * zero page or the boot page tables are) are never relied upon after entry.
 */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

/* How start64() was reached: which boot protocol handed over. */
#define BOOT_LINUX64 1 /* Linux 64-bit boot protocol: RSI = struct boot_params */
#define BOOT_PVH     2 /* PVH: EBX = struct hvm_start_info */

/* Our GDT: the same selectors the Linux 64-bit boot protocol uses. */
#define SEL_CODE64 0x08
#define SEL_DATA   0x10
#define SEL_CODE32 0x18 /* used on the way up from real/protected mode */
#define GDT_ENTRIES 4

/* COM1 (16550 UART). */
#define COM1       0x3f8
#define UART_THR   0 /* transmit holding register (write) */
#define UART_RBR   0 /* receive buffer register (read) */
#define UART_LSR   5 /* line status register */
#define LSR_DR     0x01 /* a received byte is waiting */
#define LSR_THRE   0x20 /* the transmitter can take a byte */
#define LSR_TEMT   0x40 /* the transmitter is empty, shift register too */

/* The AP trampoline: copied to this 4 KiB-aligned page below 1 MiB; a
 * SIPI with vector TRAMPOLINE_ADDR >> 12 starts an AP there (CS = 0x0100,
 * IP = 0). */
#define TRAMPOLINE_ADDR 0x1000

/* One 4 KiB stack per CPU; MAX_CPUS must be a power of two. */
#define MAX_CPUS       256
#define AP_STACK_SHIFT 12
#define AP_STACK_SIZE  (1 << AP_STACK_SHIFT)
#define BSP_STACK_SIZE 0x4000

/* Control register and MSR bits used on the way to long mode. */
#define CR0_PE    0x00000001
#define CR0_PG    0x80000000
#define CR4_PAE   0x00000020
#define MSR_EFER  0xc0000080
#define EFER_LME  0x00000100

/* Page table entry bits. */
#define PTE_P   0x001 /* present */
#define PTE_W   0x002 /* writable */
#define PTE_PWT 0x008 /* write-through */
#define PTE_PCD 0x010 /* cache disable */
#define PTE_PS  0x080 /* 2 MiB page (in a page directory entry) */

#endif
