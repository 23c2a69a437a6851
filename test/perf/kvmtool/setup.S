/*
 * setup.S - the real-mode setup sectors that make the project's own guest
 * bootable by kvmtool, which boots a bzImage (or a flat binary without a
 * command line) but not an ELF. The suite (peers_test.go) assembles this
 * and writes the parameters at 0x260; this is the whole "bzImage" kvmtool
 * is given (-k): the setup sectors (the zero page and the real-mode code,
 * loaded at 0x1000:0000) and, as its protected-mode part, the page tables
 * (loaded at 1 MiB). The guest's PT_LOAD segments, laid out as one flat
 * image, are its initrd (-i). kvmtool puts an initrd at initrd_addr_max
 * rounded down to 1 MiB when it fits below the end of RAM (load_bzimage
 * in its x86/kvm.c), and the suite sets initrd_addr_max so that this is
 * the image's link address: the host loads the guest where it belongs, as
 * glue does, and nothing is copied inside the guest.
 *
 * kvmtool reads the setup header below, loads this at 0x1000:0000, writes
 * the command line at 0x20000 and its address into cmd_line_ptr, the
 * initrd's into ramdisk_image, and enters at 0x1000:0200 in real mode. This code then gives the guest what glue gives it: the Linux
 * 64-bit boot protocol (the guest's entry64.S has the contract). The first
 * 4 KiB of this image are that protocol's zero page (struct boot_params):
 * kvmtool has written the header fields, and this code adds the memory map
 * from the BIOS (int 0x15, e820, as Linux's own setup code asks for it).
 * It checks that the image is where it was meant to be, goes from real
 * mode straight to long mode, on page tables and a GDT that are part of
 * this image (identity map of 0-4 GiB, 2 MiB pages; CS = 0x08,
 * DS = 0x10), and jumps to the guest's ELF entry with RSI = the zero page.
 *
 * Why so little, with everything prebuilt: on a PVM host (no VMX/SVM) KVM
 * runs guest kernel mode in its instruction emulator, at about a
 * microsecond an instruction. Building page tables or copying the guest
 * here would put milliseconds into kvmtool's start-up that glue, which
 * does both on the host, does not pay.
 *
 * Only assemble-time constants are used as addresses (OFF/PHYS of labels
 * in this one section), so `objcopy -O binary` of the object file is the
 * finished image: there is nothing to link or relocate.
 */
#define LOAD_BASE   0x10000  /* where kvmtool puts the setup sectors */
#define KERNEL_AT   0x100000 /* where it puts the rest: the page tables */
#define SETUP_SECTS 7        /* sectors after the boot sector: up to 0x1000 */
#define CMDLINE_MAX 4096     /* the guest keeps 4095 bytes and the NUL */
#define E820_MAX    128      /* entries in boot_params.e820_table */
#define SMAP        0x534d4150 /* "SMAP", the e820 call's signature */
#define MSR_EFER    0xc0000080

#define OFF(x)  ((x) - setup_start)            /* offset in the real-mode segment */
#define PHYS(x) (LOAD_BASE + (x) - setup_start) /* flat address */
#define KPHYS(x) (KERNEL_AT + (x) - kernel_start) /* in the protected-mode part */

	.section .text, "ax"
	.code16
setup_start:
	/* The zero page's first fields: all zero (no ACPI RSDP, no high
	 * half of the command line's address). */
	.org	0x1e8
e820_entries:
	.byte	0			/* written below */
	.org	0x1f1
	.byte	SETUP_SECTS		/* setup_sects */
	.word	0			/* root_flags */
	.long	0			/* syssize: written by the suite */
	.word	0			/* ram_size */
	.word	0			/* vid_mode */
	.word	0			/* root_dev */
	.word	0xaa55			/* boot_flag */

	/* 0x200: kvmtool's entry, CS:IP = 0x1000:0x0200. A short jump, so
	 * that "HdrS" lands at 0x202. */
	.byte	0xeb, hop - 1f
1:	.ascii	"HdrS"
	.word	0x0206			/* boot protocol 2.06, kvmtool's minimum */
	.long	0			/* realmode_swtch */
	.word	0			/* start_sys_seg */
	.word	0			/* kernel_version */
	.byte	0			/* type_of_loader: written by kvmtool */
	.byte	0x01			/* loadflags: LOADED_HIGH */
	.word	0			/* setup_move_size */
	.long	KERNEL_AT		/* code32_start: unused, no code is there */
ramdisk_image:
	.long	0			/* written by kvmtool: where it put the image */
	.long	0			/* ramdisk_size */
	.long	0			/* bootsect_kludge */
	.word	0			/* heap_end_ptr */
	.byte	0, 0			/* ext_loader_ver, ext_loader_type */
	.long	0			/* cmd_line_ptr: written by kvmtool (0x20000) */
	.long	0			/* initrd_addr_max: written by the suite */
	.long	0			/* kernel_alignment */
	.byte	0, 0			/* relocatable_kernel, min_alignment */
	.word	0			/* xloadflags */
	.long	CMDLINE_MAX - 1		/* cmdline_size: kvmtool copies this much */

	/* Fields of later protocol versions start here; with 2.06 the
	 * space is ours. The wrapper's parameters, written by the suite: */
	.org	0x260
image_at:
	.long	0			/* the image's link address, 1 MiB-aligned */
entry:
	.long	0			/* the guest's ELF entry (64-bit boot protocol) */

	/* The code lies past the zero page's e820 table. */
	.org	0x270
hop:	jmp	real_start

	.org	0x2d0
e820_table:
	.fill	E820_MAX * 20, 1, 0

	.org	0xd00
real_start:
	cli
	cld
	mov	%cs, %ax
	mov	%ax, %ds
	mov	%ax, %es

	/* A kvmtool that put the image elsewhere gets a clear line on the
	 * console rather than a guest that runs off into zeros. */
	mov	OFF(ramdisk_image), %eax
	cmp	OFF(image_at), %eax
	je	placed
	mov	$OFF(misplaced), %si
	mov	$0x3f8, %dx
4:	lodsb
	test	%al, %al
	jz	5f
	out	%al, %dx
	jmp	4b
5:	hlt
	jmp	5b
placed:

	/* The memory map, one e820 call per 20-byte entry, into the zero
	 * page. A BIOS without e820 leaves it empty, which the guest
	 * accepts. */
	xor	%ebx, %ebx
	mov	$OFF(e820_table), %di
	xor	%bp, %bp
2:	mov	$0xe820, %eax
	mov	$SMAP, %edx
	mov	$20, %ecx
	int	$0x15
	jc	3f
	cmp	$SMAP, %eax
	jne	3f
	inc	%bp
	add	$20, %di
	test	%ebx, %ebx
	jz	3f
	cmp	$E820_MAX, %bp
	jb	2b
3:	mov	%bp, %ax
	mov	%al, OFF(e820_entries)

	/* Real mode to long mode in one step: PAE, CR3, EFER.LME, then
	 * PE and PG together, and a far jump into the 64-bit code segment. */
	lgdtl	OFF(gdt_desc)
	mov	$0x20, %eax		/* CR4.PAE */
	mov	%eax, %cr4
	mov	$KPHYS(pml4), %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$0x100, %eax		/* EFER.LME */
	wrmsr
	mov	%cr0, %eax
	or	$0x80000001, %eax	/* CR0.PG | CR0.PE */
	mov	%eax, %cr0
	ljmpl	$0x08, $PHYS(long_mode)

	.code64
long_mode:
	mov	$0x10, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	mov	PHYS(entry), %eax
	mov	$LOAD_BASE, %esi	/* RSI = the zero page */
	jmp	*%rax

misplaced:
	.asciz	"GLUE-FAIL kvmtool wrapper: the initrd is not at the guest's link address\n"

	.balign	8
gdt:	.quad	0
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad	0x00cf92000000ffff	/* 0x10: flat data */
gdt_desc:
	.word	3 * 8 - 1
	.long	PHYS(gdt)

	.org	(SETUP_SECTS + 1) * 512

	/* The protected-mode part, at 1 MiB: page tables mapping 0-4 GiB
	 * to themselves with 2 MiB pages, as glue maps them for this entry.
	 * (kvmtool wants this part non-empty, too.) */
kernel_start:
pml4:	.quad	KPHYS(pdpt) + 0x3	/* present, writable */
	.fill	511, 8, 0
pdpt:
	.set	g, 0
	.rept	4
	.quad	KPHYS(pd) + g * 4096 + 0x3
	.set	g, g + 1
	.endr
	.fill	508, 8, 0
pd:
	.set	i, 0
	.rept	4 * 512
	.quad	(i << 21) + 0x83	/* present, writable, 2 MiB page */
	.set	i, i + 1
	.endr
