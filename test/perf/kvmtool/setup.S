/*
 * setup.S - the real-mode setup sectors that make the project's own guest
 * bootable by kvmtool, which boots a bzImage (or a flat binary without a
 * command line) but not an ELF. The suite (kvmtool_test.go) assembles this,
 * writes the parameters at 0x260 and appends the guest's PT_LOAD segments
 * as one flat payload:
 *
 *   file 0 .. (SETUP_SECTS+1)*512   this, loaded by kvmtool at 0x1000:0000
 *   the rest                        the payload, loaded at 0x100000
 *
 * kvmtool reads the setup header below, writes the command line at
 * 0x20000 and its address into cmd_line_ptr, and enters at 0x1000:0200 in
 * real mode. This code then does what a PVH loader would (the guest's
 * pvh.S documents the contract): it asks the BIOS for the memory map
 * (int 0x15, e820, as Linux's own setup code does), fills a struct
 * hvm_start_info with it and the command line, switches to flat 32-bit
 * protected mode, copies the payload to its link address and jumps to the
 * guest's PVH entry with EBX = &hvm_start_info. From there the guest runs
 * exactly as under glue or QEMU's PVH boot.
 *
 * Only assemble-time constants are used as addresses (OFF/PHYS of labels
 * in this one section), so `objcopy -O binary` of the object file is the
 * finished image: there is nothing to link or relocate.
 */
#define LOAD_BASE   0x10000  /* where kvmtool puts the setup sectors */
#define PAYLOAD_AT  0x100000 /* where it puts the rest of the file */
#define SETUP_SECTS 3        /* sectors after the boot sector */
#define CMDLINE_MAX 4096     /* the guest keeps 4095 bytes and the NUL */
#define MEMMAP_MAX  32
#define SMAP        0x534d4150 /* "SMAP", the e820 call's signature */
#define PVH_MAGIC   0x336ec578

#define OFF(x)  ((x) - setup_start)            /* offset in the real-mode segment */
#define PHYS(x) (LOAD_BASE + (x) - setup_start) /* flat address */

	.section .text, "ax"
	.code16
setup_start:
	/* The boot sector: unused, but the header sits at its end. */
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
	.byte	0xeb, real_start - 1f
1:	.ascii	"HdrS"
	.word	0x0206			/* boot protocol 2.06, kvmtool's minimum */
	.long	0			/* realmode_swtch */
	.word	0			/* start_sys_seg */
	.word	0			/* kernel_version */
	.byte	0			/* type_of_loader: written by kvmtool */
	.byte	0x01			/* loadflags: LOADED_HIGH, payload at 1 MiB */
	.word	0			/* setup_move_size */
	.long	PAYLOAD_AT		/* code32_start */
	.long	0, 0			/* ramdisk_image, ramdisk_size */
	.long	0			/* bootsect_kludge */
	.word	0			/* heap_end_ptr */
	.byte	0, 0			/* ext_loader_ver, ext_loader_type */
cmd_line_ptr:
	.long	0			/* written by kvmtool: 0x20000 */
	.long	0			/* initrd_addr_max */
	.long	0			/* kernel_alignment */
	.byte	0, 0			/* relocatable_kernel, min_alignment */
	.word	0			/* xloadflags */
	.long	CMDLINE_MAX - 1		/* cmdline_size: kvmtool copies this much */

	/* Fields of later protocol versions start here; with 2.06 the
	 * space is ours. The wrapper's parameters, written by the suite: */
	.org	0x260
payload_dst:
	.long	0			/* the payload's lowest physical address */
payload_len:
	.long	0			/* its size in bytes */
pvh_entry:
	.long	0			/* the guest's XEN_ELFNOTE_PHYS32_ENTRY */

	.org	0x270
real_start:
	cli
	cld
	mov	%cs, %ax
	mov	%ax, %ds
	mov	%ax, %es

	/* The memory map, one e820 call per entry, written straight into
	 * the hvm_start_info memmap array (24-byte entries, of which e820
	 * fills the first 20). A BIOS without e820 leaves it empty, which
	 * the guest accepts. */
	xor	%ebx, %ebx
	mov	$OFF(memmap), %di
	xor	%bp, %bp
2:	mov	$0xe820, %eax
	mov	$SMAP, %edx
	mov	$20, %ecx
	int	$0x15
	jc	3f
	cmp	$SMAP, %eax
	jne	3f
	inc	%bp
	add	$24, %di
	test	%ebx, %ebx
	jz	3f
	cmp	$MEMMAP_MAX, %bp
	jb	2b
3:	mov	%bp, OFF(si_memmap_n)

	mov	OFF(cmd_line_ptr), %eax
	mov	%eax, OFF(si_cmdline)

	/* Flat 32-bit protected mode, as PVH starts. */
	lgdtl	OFF(gdt_desc)
	mov	%cr0, %eax
	or	$1, %eax		/* PE */
	mov	%eax, %cr0
	ljmpl	$0x08, $PHYS(pm32)

	.code32
pm32:
	mov	$0x10, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	mov	%eax, %fs
	mov	%eax, %gs
	/* The payload to its link address; the suite checks that the copy
	 * only ever moves it up past its own end, so a forward copy is safe. */
	mov	$PAYLOAD_AT, %esi
	mov	PHYS(payload_dst), %edi
	mov	PHYS(payload_len), %ecx
	rep movsb
	mov	$PHYS(start_info), %ebx
	jmp	*PHYS(pvh_entry)

	.balign	8
gdt:	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x10: flat data */
gdt_desc:
	.word	3 * 8 - 1
	.long	PHYS(gdt)

	/* struct hvm_start_info, version 1 (Xen's arch-x86/hvm/start_info.h). */
	.balign	8
start_info:
	.long	PVH_MAGIC
	.long	1			/* version: has the memory map */
	.long	0			/* flags */
	.long	0			/* nr_modules */
	.quad	0			/* modlist_paddr */
si_cmdline:
	.quad	0			/* cmdline_paddr */
	.quad	0			/* rsdp_paddr: none */
	.quad	PHYS(memmap)		/* memmap_paddr */
si_memmap_n:
	.long	0			/* memmap_entries */
	.long	0			/* reserved */
memmap:
	.fill	MEMMAP_MAX * 24, 1, 0

	.org	(SETUP_SECTS + 1) * 512
