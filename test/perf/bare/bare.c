/*
 * bare.c - the smallest KVM VMM that runs the project's own guest: the
 * benchmark suite's "bare C" peer, the practical limit a VMM's start-up,
 * memory and exit path are measured against (docs/performance.md).
 *
 *   bare [-w] [-m MiB] guest.elf 'kernel command line'
 *
 * It creates a VM with one memory slot and one vCPU, loads the ELF's
 * PT_LOAD segments, and enters the guest at its ELF entry point the way
 * glue does for this guest: the Linux 64-bit boot protocol (long mode,
 * paging on, the first 4 GiB identity-mapped with 2 MiB pages, a flat GDT
 * with CS = 0x08 and DS = 0x10, RSI = the zero page, which points at the
 * command line). No irqchip, no PIT, no devices: the guest's tests that
 * the benchmarks run (cmdline, exits) need none.
 *
 * The run loop handles what those tests touch and nothing more:
 *   - COM1 (0x3f8): a byte written to THR goes straight to stdout (while
 *     LCR.DLAB is set, that port is the divisor latch and the byte is not
 *     output); LSR reads "transmitter empty", IIR reads "16550A FIFOs
 *     enabled" so the guest writes 16 bytes per LSR poll, as under glue.
 *   - the i8042's status (0x64) reads 0: a controller, ready for the
 *     reset command the guest ends with by default;
 *   - port 0x80 (the exits test) and every other port: writes dropped,
 *     reads all ones (what an ISA bus with nothing on it gives);
 *   - MMIO: the same.
 * It ends at the guest's end: the i8042 reset (0xfe to port 0x64) or a
 * triple fault exits 0; HLT with interrupts off (glue.end=halt) exits 0,
 * or with -w waits to be killed, so that the benchmarks can read /proc
 * while the VM and all its memory are still there, as with the other VMMs.
 *
 * Errors go to stderr with exit status 1; usage errors exit 2.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Guest-physical layout: the addresses glue uses (x86/layout.go). */
#define GDT_ADDR      0x500
#define ZERO_PAGE     0x7000
#define STACK_TOP     0x8ff0
#define PML4_ADDR     0x9000
#define PDPT_ADDR     0xa000
#define PD_ADDR       0xb000 /* four page directories: 0-4 GiB */
#define CMDLINE_ADDR  0x20000
#define CMDLINE_MAX   0x10000
#define LOW_RAM_END   0x9fc00 /* the EBDA and the legacy hole above */
#define HIGH_RAM      0x100000

/* struct boot_params offsets the guest reads (Documentation/arch/x86/zero-page.rst). */
#define ZP_E820_ENTRIES 0x1e8
#define ZP_CMDLINE_PTR  0x228
#define ZP_E820_TABLE   0x2d0
#define E820_RAM        1

#define COM1        0x3f8
#define UART_THR    0
#define UART_IIR    2
#define UART_LCR    3
#define UART_LSR    5
#define LCR_DLAB    0x80 /* ports 0 and 1 are the baud rate divisor */
#define LSR_EMPTY   0x60 /* THRE | TEMT: take bytes at any time */
#define IIR_FIFO    0xc1 /* FIFOs enabled, no interrupt pending */
#define I8042_STATUS 0x64 /* read */
#define I8042_CMD   0x64 /* write */
#define I8042_RESET 0xfe

static const char *prog = "bare";

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);
	if (r < 0)
		die(what);
	return r;
}

/* Loads the ELF's PT_LOAD segments at their physical addresses. RAM is a
 * fresh anonymous mapping, so the zero tail of each segment (its .bss) is
 * zero without being touched: only the file's bytes become resident. */
static uint64_t load_elf(const char *path, uint8_t *ram, uint64_t ram_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		die(path);
	uint8_t *f = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (f == MAP_FAILED)
		die(path);
	close(fd);

	const Elf64_Ehdr *eh = (const void *)f;
	if ((size_t)st.st_size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64)
		fail("not an x86-64 ELF");
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff > (uint64_t)st.st_size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > st.st_size - eh->e_phoff)
		fail("ELF program headers out of the file");
	const Elf64_Phdr *ph = (const void *)(f + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		if (p->p_type != PT_LOAD)
			continue;
		if (p->p_filesz > p->p_memsz || p->p_offset > (uint64_t)st.st_size ||
		    p->p_filesz > st.st_size - p->p_offset)
			fail("ELF segment out of the file");
		if (p->p_paddr < HIGH_RAM || p->p_paddr > ram_size || p->p_memsz > ram_size - p->p_paddr)
			fail("ELF segment outside guest RAM above 1 MiB");
		memcpy(ram + p->p_paddr, f + p->p_offset, p->p_filesz);
	}
	uint64_t entry = eh->e_entry;
	munmap(f, st.st_size);
	return entry;
}

/* Writes what the Linux 64-bit boot protocol promises at entry: the zero
 * page with the command line and the memory map, a flat GDT, and page
 * tables identity-mapping 0-4 GiB with 2 MiB pages. */
static void write_boot_structures(uint8_t *ram, uint64_t ram_size, const char *cmdline)
{
	size_t n = strlen(cmdline);
	if (n >= CMDLINE_MAX)
		fail("command line too long");
	memcpy(ram + CMDLINE_ADDR, cmdline, n + 1);

	uint8_t *zp = ram + ZERO_PAGE;
	*(uint32_t *)(zp + ZP_CMDLINE_PTR) = CMDLINE_ADDR;
	struct __attribute__((packed)) e820 { uint64_t addr, size; uint32_t type; } map[] = {
		{0, LOW_RAM_END, E820_RAM},
		{HIGH_RAM, ram_size - HIGH_RAM, E820_RAM},
	};
	memcpy(zp + ZP_E820_TABLE, map, sizeof(map));
	zp[ZP_E820_ENTRIES] = sizeof(map) / sizeof(map[0]);

	uint64_t *gdt = (uint64_t *)(ram + GDT_ADDR);
	gdt[0] = 0;
	gdt[1] = 0x00af9b000000ffffull; /* 0x08: 64-bit code, present, DPL 0 */
	gdt[2] = 0x00cf93000000ffffull; /* 0x10: flat 4 GiB data */

	uint64_t *pml4 = (uint64_t *)(ram + PML4_ADDR);
	uint64_t *pdpt = (uint64_t *)(ram + PDPT_ADDR);
	uint64_t *pd = (uint64_t *)(ram + PD_ADDR);
	pml4[0] = PDPT_ADDR | 0x3; /* present, writable */
	for (uint64_t g = 0; g < 4; g++)
		pdpt[g] = (PD_ADDR + g * 0x1000) | 0x3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB */
}

/* Gives the vCPU what KVM supports, as every VMM does: the guest reads
 * CPUID (the TSC frequency), and KVM checks long mode against it. */
static void set_cpuid(int kvm, int vcpu)
{
	enum { MAX_ENTRIES = 256 };
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		fail("out of memory");
	c->nent = MAX_ENTRIES;
	xioctl(kvm, KVM_GET_SUPPORTED_CPUID, c, "KVM_GET_SUPPORTED_CPUID");
	xioctl(vcpu, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
}

/* Puts the vCPU in 64-bit mode at entry with RSI = the zero page. */
static void set_long_mode(int vcpu, uint64_t entry)
{
	struct kvm_sregs s;
	xioctl(vcpu, KVM_GET_SREGS, &s, "KVM_GET_SREGS");
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 11,
		.present = 1, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	data.selector = 0x10;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = GDT_ADDR;
	s.gdt.limit = 3 * 8 - 1;
	s.cr0 = 0x80050033; /* PG | AM | WP | NE | ET | MP | PE */
	s.cr3 = PML4_ADDR;
	s.cr4 = 0x20;       /* PAE */
	s.efer = 0x500;     /* LMA | LME */
	xioctl(vcpu, KVM_SET_SREGS, &s, "KVM_SET_SREGS");

	struct kvm_regs r = {.rip = entry, .rsi = ZERO_PAGE, .rsp = STACK_TOP, .rflags = 2};
	xioctl(vcpu, KVM_SET_REGS, &r, "KVM_SET_REGS");
}

static uint8_t uart_lcr; /* the last value written to LCR */

/* Handles one port-I/O exit; returns 0 to go on, 1 at the guest's reset. */
static int port_io(struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	size_t len = (size_t)run->io.size * run->io.count;
	uint16_t port = run->io.port;

	if (run->io.direction == KVM_EXIT_IO_IN) {
		uint8_t v = 0xff;
		if (port == COM1 + UART_LSR)
			v = LSR_EMPTY;
		else if (port == COM1 + UART_IIR)
			v = IIR_FIFO;
		else if (port == COM1 + UART_LCR)
			v = uart_lcr;
		else if (port == I8042_STATUS)
			v = 0; /* input buffer empty */
		memset(data, v, len);
		return 0;
	}
	if (port == COM1 + UART_LCR) {
		uart_lcr = data[len - 1];
	} else if (port == COM1 + UART_THR && run->io.size == 1 && !(uart_lcr & LCR_DLAB)) {
		/* Unbuffered: each byte reaches stdout before the guest goes
		 * on, which is what "first guest byte" times. */
		if (write(STDOUT_FILENO, data, len) < 0 && errno != EAGAIN)
			die("write to stdout");
	} else if (port == I8042_CMD && data[0] == I8042_RESET) {
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int wait_at_halt = 0;
	uint64_t mib = 512;
	int opt;
	while ((opt = getopt(argc, argv, "wm:")) != -1) {
		switch (opt) {
		case 'w':
			wait_at_halt = 1;
			break;
		case 'm':
			mib = strtoull(optarg, NULL, 10);
			if (mib < 4 || mib > 3072) {
				fprintf(stderr, "%s: -m: want 4 to 3072 (MiB, below the PCI hole)\n", prog);
				return 2;
			}
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2) {
usage:
		fprintf(stderr, "usage: %s [-w] [-m MiB] guest.elf 'command line'\n", prog);
		return 2;
	}
	uint64_t ram_size = mib << 20;

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		die("/dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		fail("unexpected KVM API version");
	int vm = xioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");

	uint8_t *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap guest RAM");
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = ram_size,
		.userspace_addr = (uintptr_t)ram,
	};
	xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot, "KVM_SET_USER_MEMORY_REGION");

	uint64_t entry = load_elf(argv[optind], ram, ram_size);
	write_boot_structures(ram, ram_size, argv[optind + 1]);

	int vcpu = xioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	int run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		die("mmap kvm_run");
	set_cpuid(kvm, vcpu);
	set_long_mode(vcpu, entry);

	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN");
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (port_io(run))
				return 0; /* the guest's reset */
			break;
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
			break;
		case KVM_EXIT_HLT:
			/* No irqchip and interrupts off: nothing can wake
			 * the vCPU, so this is the guest's end. */
			if (!wait_at_halt)
				return 0;
			for (;;)
				pause();
		case KVM_EXIT_SHUTDOWN:
			return 0; /* a triple fault: the glue.end=triple end */
		case KVM_EXIT_FAIL_ENTRY:
			fprintf(stderr, "%s: KVM_EXIT_FAIL_ENTRY, reason 0x%llx\n", prog,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return 1;
		case KVM_EXIT_INTERNAL_ERROR:
			fprintf(stderr, "%s: KVM_EXIT_INTERNAL_ERROR, suberror %u\n", prog,
				run->internal.suberror);
			return 1;
		default:
			fprintf(stderr, "%s: unexpected exit reason %u\n", prog, run->exit_reason);
			return 1;
		}
	}
}
