/*
 * tests.c - the tests glue.test= can name. Each prints exactly one line,
 * "GLUE-OK <name> <details>" or "GLUE-FAIL <name> <reason>" (blk: one per
 * disk; blk-bench: one per phase), and returns whether it passed. The
 * virtio tests live with their drivers (virtio.h). README.md lists them
 * all with their output.
 */
#include "guest.h"
#include "io.h"
#include "virtio.h"
#include "pci.h"

#define I8042_STATUS 0x64
#define DEBUG_PORT   0x80
#define DEFAULT_EXITS 100000
#define MAX_EXITS     ((uint64_t)1000000000)
/*
 * The mmio-exits test's address: in the PC's 32-bit MMIO hole, above glue's
 * ECAM window and below the IOAPIC, where neither glue, QEMU's microvm,
 * kvmtool nor the bare harnesses map anything, so that each write is an
 * MMIO exit to the VMM, which ignores it.
 */
#define MMIO_EXIT_ADDR 0xf0000000u

extern char __image_start[], __image_end[]; /* guest.ld */

/* Results the demo summary uses. */
static uint64_t mem_usable;
static int cpus_online;

static bool test_cmdline(void)
{
	if (boot.cmdline_truncated) {
		print("GLUE-FAIL cmdline longer than %d bytes\n", CMDLINE_MAX - 1);
		return false;
	}
	print("GLUE-OK cmdline %s\n", boot.cmdline);
	return true;
}

/*
 * Writes a pattern (each word's own address, scrambled) over the 4 KiB page
 * at addr, one 8-byte word per 64-byte cache line, reads it back and
 * restores the old contents. Pages that overlap the guest image are
 * skipped (the stack in use is there); returns false only on a mismatch.
 */
#define PROBE_STEP 8 /* in words: one per cache line */

static uint64_t pattern(uint64_t a)
{
	return a ^ 0xa5a5a5a55a5a5a5aull;
}

static bool probe_page(uint64_t addr, int *probes)
{
	uint64_t saved[512 / PROBE_STEP];
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)addr;

	if (addr < (uintptr_t)__image_end && addr + 4096 > (uintptr_t)__image_start)
		return true;
	for (int i = 0; i < 512; i += PROBE_STEP) {
		saved[i / PROBE_STEP] = p[i];
		p[i] = pattern(addr + 8 * i);
	}
	bool ok = true;
	for (int i = 0; i < 512; i += PROBE_STEP) {
		if (p[i] != pattern(addr + 8 * i))
			ok = false;
		p[i] = saved[i / PROBE_STEP];
	}
	(*probes)++;
	return ok;
}

static bool test_mem(void)
{
	uint64_t usable = 0, top = 0;
	int regions = 0, probes = 0;

	for (int i = 0; i < boot.memmap_n; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (e->type != E820_RAM || e->size == 0)
			continue;
		uint64_t end = e->addr + e->size;
		if (end < e->addr) {
			print("GLUE-FAIL mem region 0x%lx+0x%lx wraps around\n", e->addr, e->size);
			return false;
		}
		usable += e->size;
		regions++;
		if (end > top)
			top = end;
	}
	if (regions == 0) {
		print("GLUE-FAIL mem no usable RAM in the memory map (%s)\n",
		      boot.problem ? boot.problem : "empty");
		return false;
	}

	/* First and last whole 4 KiB page of each usable region. */
	for (int i = 0; i < boot.memmap_n; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (e->type != E820_RAM)
			continue;
		uint64_t first = (e->addr + 4095) & ~4095ull;
		uint64_t last = ((e->addr + e->size) & ~4095ull) - 4096;
		if (e->size < 4096 || last < first || last + 4096 > mapped_top)
			continue; /* no whole page, or beyond what we map */
		if (!probe_page(first, &probes) || !probe_page(last, &probes)) {
			print("GLUE-FAIL mem pattern mismatch in region 0x%lx+0x%lx\n", e->addr, e->size);
			return false;
		}
	}
	mem_usable = usable;
	print("GLUE-OK mem usable=%lu regions=%d top=0x%lx probes=%d\n", usable, regions, top, probes);
	return true;
}

/* Writes "a,b,c" into buf (bounded; "..." if it does not fit). */
static void id_list(char *buf, size_t size, const uint32_t *ids, int n)
{
	size_t at = 0;
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		char num[12];
		int len = 0;
		uint32_t v = ids[i];
		do {
			num[len++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		if (at + (i > 0) + (size_t)len + 4 > size) {
			memcpy(buf + at, "...", 4);
			return;
		}
		if (i > 0)
			buf[at++] = ',';
		while (len)
			buf[at++] = num[--len];
		buf[at] = '\0';
	}
}

static bool test_cpus(void)
{
	static struct cpu_list cpus;
	static struct smp_result res;
	static char ids[1024];

	if (!mp_find_cpus(&cpus) && !acpi_find_cpus(&cpus)) {
		cpus.n = 1;
		cpus.apic_id[0] = cpu_apic_id();
		cpus.source = "none";
	}
	smp_start_aps(&cpus, &res);
	cpus_online = res.online;
	id_list(ids, sizeof(ids), res.online_id, res.online);
	if (res.error || res.online < cpus.n) {
		print("GLUE-FAIL cpus n=%d online=%d apic=%s from=%s %s\n", cpus.n, res.online, ids,
		      cpus.source, res.error ? res.error : "not all CPUs came online");
		return false;
	}
	print("GLUE-OK cpus n=%d online=%d apic=%s from=%s\n", cpus.n, res.online, ids, cpus.source);
	return true;
}

static bool test_serial_in(void)
{
	char line[129];
	size_t n = 0;

	print("GLUE-READY serial-in\n");
	while (n < sizeof(line) - 1) {
		int c = serial_getc();
		if (c == '\r' || c == '\n')
			break;
		line[n++] = (char)c;
	}
	line[n] = '\0';
	print("GLUE-OK serial-in %s\n", line);
	return true;
}

static bool test_rtc(void)
{
	struct rtc_time t;

	if (!rtc_present()) {
		print("GLUE-FAIL rtc no RTC (CMOS registers read 0xff)\n");
		return false;
	}
	if (!rtc_read(&t)) {
		print("GLUE-FAIL rtc invalid time %u-%u-%u %u:%u:%u\n", t.year, t.month, t.day,
		      t.hour, t.minute, t.second);
		return false;
	}
	/* CMOS memory size, in 64 KiB units: 0x34/0x35 above 16 MiB (below
	 * 4 GiB), 0x5b-0x5d above 4 GiB (QEMU's and glue's convention). */
	uint64_t above16m = ((uint64_t)cmos_read(0x35) << 8 | cmos_read(0x34)) << 16;
	uint64_t above4g = ((uint64_t)cmos_read(0x5d) << 16 | (uint64_t)cmos_read(0x5c) << 8 |
			    cmos_read(0x5b)) << 16;
	print("GLUE-OK rtc %04u-%02u-%02uT%02u:%02u:%02u cmos-above-16m=%lu cmos-above-4g=%lu\n",
	      t.year, t.month, t.day, t.hour, t.minute, t.second, above16m, above4g);
	return true;
}

/* The exit count both exits tests take from glue.exits=; false (and a
 * GLUE-FAIL line for test) if it is not a number up to MAX_EXITS. */
static bool exits_count(const char *test, uint64_t *n)
{
	const char *v;
	size_t len;

	*n = DEFAULT_EXITS;
	if (cmdline_get("glue.exits", &v, &len) && !parse_u64(v, len, MAX_EXITS, n)) {
		print("GLUE-FAIL %s glue.exits= wants a number up to %lu\n", test, MAX_EXITS);
		return false;
	}
	return true;
}

static bool test_exits(void)
{
	uint64_t n;

	if (!exits_count("exits", &n))
		return false;
	print("GLUE-START exits n=%lu\n", n);
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++)
		outb(DEBUG_PORT, (uint8_t)i); /* each one exits to the VMM */
	uint64_t t1 = rdtsc();
	print("GLUE-OK exits n=%lu tsc=%lu\n", n, t1 - t0);
	return true;
}

/* Whether any entry of the memory map covers addr. */
static bool memmap_covers(uint64_t addr)
{
	for (int i = 0; i < boot.memmap_n; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (addr >= e->addr && addr - e->addr < e->size)
			return true;
	}
	return false;
}

static bool test_mmio_exits(void)
{
	uint64_t n;

	if (!exits_count("mmio-exits", &n))
		return false;
	/* RAM or a reserved range there would make the writes no exits, or
	 * someone's registers. */
	if (memmap_covers(MMIO_EXIT_ADDR)) {
		print("GLUE-FAIL mmio-exits the memory map covers 0x%x\n", MMIO_EXIT_ADDR);
		return false;
	}
	print("GLUE-START mmio-exits n=%lu addr=0x%x\n", n, MMIO_EXIT_ADDR);
	volatile uint8_t *reg = (volatile uint8_t *)(uintptr_t)MMIO_EXIT_ADDR;
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++)
		*reg = (uint8_t)i; /* each one exits to the VMM */
	uint64_t t1 = rdtsc();
	print("GLUE-OK mmio-exits n=%lu tsc=%lu\n", n, t1 - t0);
	return true;
}

/* Prints "GLUE-COUNT <k>" about ten times a second, forever. */
void test_counter_loop(void)
{
	uint64_t period = tsc_khz(true) * 100; /* 100 ms of TSC ticks */
	uint64_t next = rdtsc();
	for (uint64_t k = 0;; k++) {
		print("GLUE-COUNT %lu\n", k);
		next += period;
		while ((int64_t)(rdtsc() - next) < 0)
			cpu_relax();
	}
}

static bool test_counter(void)
{
	test_counter_loop();
}

static bool test_demo_entry(void)
{
	return test_demo();
}

static const struct test tests[] = {
	{"cmdline", test_cmdline},
	{"mem", test_mem},
	{"cpus", test_cpus},
	{"serial-in", test_serial_in},
	{"rtc", test_rtc},
	{"exits", test_exits},
	{"mmio-exits", test_mmio_exits},
	{"counter", test_counter},
	{"demo", test_demo_entry},
	{"virtio", test_virtio},
	{"blk", test_blk},
	{"blk-bench", test_blk_bench},
	{"net", test_net},
	{"rng", test_rng},
	{"console", test_console},
	{"console-flood", test_console_flood},
	{"pci", test_pci},
	{"pci-msix", test_pci_msix},
	{"acpi", test_acpi},
	{"power", test_power},
	{"balloon", test_balloon},
	{"vsock", test_vsock},
};

const struct test *find_test(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(tests); i++)
		if (span_eq(name, len, tests[i].name))
			return &tests[i];
	return NULL;
}

/* The human-friendly run when the command line names no test. */
bool test_demo(void)
{
	char devices[32] = "serial";
	bool ok = test_cmdline();
	ok &= test_mem();
	ok &= test_cpus();
	if (rtc_present()) { /* QEMU's microvm has none unless rtc=on */
		ok &= test_rtc();
		memcpy(devices + strlen(devices), ",rtc", 5);
	}
	if (inb(I8042_STATUS) != 0xff) /* no controller: the port floats */
		memcpy(devices + strlen(devices), ",i8042", 7);
	test_virtio(); /* its own line: the virtio devices found */
	print("GLUE-%s demo cpus=%d mem=%lu devices=%s\n", ok ? "OK" : "FAIL", cpus_online,
	      mem_usable >> 20, devices);
	return ok;
}
