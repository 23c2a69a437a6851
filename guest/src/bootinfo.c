/*
 * bootinfo.c - copy the loader's boot information out of low memory.
 *
 * Both boot protocols leave their information in memory the guest is about
 * to reuse (the AP trampoline goes to 0x1000, the memory test writes the
 * first page of RAM), so start64 copies what it needs here first:
 *
 * Linux 64-bit boot protocol, struct boot_params ("zero page",
 * Documentation/arch/x86/zero-page.rst):
 *   0x070 u64 acpi_rsdp_addr      0x0c8 u32 ext_cmd_line_ptr (high half)
 *   0x1e8 u8  e820_entries        0x228 u32 cmd_line_ptr (low half)
 *   0x2d0     e820_table[128]: packed {u64 addr, u64 size, u32 type}
 *
 * PVH, struct hvm_start_info (Xen's arch-x86/hvm/start_info.h):
 *   0 u32 magic 0x336ec578   4 u32 version   24 u64 cmdline_paddr
 *   32 u64 rsdp_paddr   40 u64 memmap_paddr   48 u32 memmap_entries
 *   memmap entries: {u64 addr, u64 size, u32 type, u32 reserved}
 *
 * Every pointer the loader gave is checked against the identity map in use
 * at this point (the first 4 GiB) before it is followed.
 */
#include "guest.h"

#define BOOT_MAP_LIMIT (1ull << 32) /* what both entries guarantee is mapped */

#define ZP_ACPI_RSDP    0x070
#define ZP_EXT_CMDLINE  0x0c8
#define ZP_E820_ENTRIES 0x1e8
#define ZP_CMDLINE_PTR  0x228
#define ZP_E820_TABLE   0x2d0
#define ZP_E820_SIZE    20

#define PVH_MAGIC         0x336ec578
#define PVH_VERSION       4
#define PVH_CMDLINE       24
#define PVH_RSDP          32
#define PVH_MEMMAP        40
#define PVH_MEMMAP_N      48
#define PVH_MEMMAP_SIZE   24

struct bootinfo boot;

static uint64_t cmdline_addr; /* copied by read_cmdline */
static void read_cmdline(void);

static uint32_t rd32(uint64_t a) { return *(const volatile uint32_t *)(uintptr_t)a; }
static uint64_t rd64(uint64_t a) { return *(const volatile uint64_t *)(uintptr_t)a; }
static uint8_t rd8(uint64_t a) { return *(const volatile uint8_t *)(uintptr_t)a; }

/* True if [addr, addr+len) lies below limit, without overflow. */
static bool below(uint64_t addr, uint64_t len, uint64_t limit)
{
	return addr <= limit && len <= limit - addr;
}

static void add_entry(uint64_t addr, uint64_t size, uint32_t type)
{
	if (boot.memmap_n < MEMMAP_MAX)
		boot.memmap[boot.memmap_n++] = (struct memmap_entry){addr, size, type};
}

static void read_zero_page(uint64_t zp)
{
	if (!below(zp, 4096, BOOT_MAP_LIMIT)) {
		boot.problem = "zero page pointer out of range";
		return;
	}
	boot.rsdp = rd64(zp + ZP_ACPI_RSDP);
	cmdline_addr = rd32(zp + ZP_CMDLINE_PTR) | (uint64_t)rd32(zp + ZP_EXT_CMDLINE) << 32;
	unsigned n = rd8(zp + ZP_E820_ENTRIES);
	if (n > MEMMAP_MAX) {
		boot.problem = "zero page: e820_entries over 128";
		n = MEMMAP_MAX;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t e = zp + ZP_E820_TABLE + i * ZP_E820_SIZE;
		add_entry(rd64(e), rd64(e + 8), rd32(e + 16));
	}
}

static void read_pvh(uint64_t si)
{
	if (!below(si, 56, BOOT_MAP_LIMIT)) {
		boot.problem = "hvm_start_info pointer out of range";
		return;
	}
	if (rd32(si) != PVH_MAGIC) {
		boot.problem = "hvm_start_info: bad magic";
		return;
	}
	cmdline_addr = rd64(si + PVH_CMDLINE);
	boot.rsdp = rd64(si + PVH_RSDP);
	if (rd32(si + PVH_VERSION) < 1) {
		boot.problem = "hvm_start_info version 0: no memory map";
		return;
	}
	uint64_t map = rd64(si + PVH_MEMMAP);
	uint32_t n = rd32(si + PVH_MEMMAP_N);
	if (n > MEMMAP_MAX) {
		boot.problem = "hvm_start_info: over 128 memory map entries";
		n = MEMMAP_MAX;
	}
	if (!below(map, (uint64_t)n * PVH_MEMMAP_SIZE, BOOT_MAP_LIMIT)) {
		boot.problem = "hvm_start_info: memory map out of range";
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = map + i * PVH_MEMMAP_SIZE;
		add_entry(rd64(e), rd64(e + 8), rd32(e + 16));
	}
}

void bootinfo_read(int protocol, uint64_t ptr)
{
	boot.protocol = protocol;
	if (protocol == BOOT_PVH)
		read_pvh(ptr);
	else
		read_zero_page(ptr);
	read_cmdline();
}

/*
 * The command line is NUL-terminated; the copy is bounded by CMDLINE_MAX
 * and by the end of the identity map, so a missing NUL cannot run us off
 * mapped memory.
 */
static void read_cmdline(void)
{
	uint64_t a = cmdline_addr;
	size_t n = 0;
	if (a >= BOOT_MAP_LIMIT) {
		boot.problem = "command line above 4 GiB: not read";
	} else if (a != 0) {
		while (n < CMDLINE_MAX - 1 && a + n < BOOT_MAP_LIMIT && rd8(a + n) != 0) {
			boot.cmdline[n] = (char)rd8(a + n);
			n++;
		}
		boot.cmdline_truncated = n == CMDLINE_MAX - 1 && a + n < BOOT_MAP_LIMIT && rd8(a + n) != 0;
	}
	boot.cmdline[n] = '\0';
	boot.cmdline_len = n;
}
