/*
 * main.c - start64, where both entries meet, and the end of the VM.
 *
 * Reached from entry64.S (Linux 64-bit boot protocol) or pvh.S (PVH), in
 * long mode on our own stack with .bss cleared and the banner already out.
 *
 *   1. GDT and IDT of our own (desc.c): exceptions are reported from here on;
 *   2. boot information copied out of low memory (bootinfo.c);
 *   3. our own page tables, covering what the memory map names (paging.c);
 *   4. the tests glue.test= names, in order, or the demo without it;
 *   5. "GLUE-DONE" and the end glue.end= asks for.
 */
#include "guest.h"
#include "io.h"

#define I8042_STATUS 0x64
#define I8042_CMD    0x64
#define I8042_IBF    0x02 /* input buffer full: not ready for a command */
#define I8042_RESET  0xfe /* pulse the CPU reset line */

enum end_mode { END_RESET, END_TRIPLE, END_HALT };
static enum end_mode end_mode = END_RESET;

static void parse_end_mode(void)
{
	const char *v;
	size_t len;
	if (!cmdline_get("glue.end", &v, &len))
		return;
	if (span_eq(v, len, "reset"))
		end_mode = END_RESET;
	else if (span_eq(v, len, "triple"))
		end_mode = END_TRIPLE;
	else if (span_eq(v, len, "halt"))
		end_mode = END_HALT;
	else
		print("GLUE-FAIL glue.end unknown value (want reset, triple or halt); using reset\n");
}

/* Ends the VM as glue.end= asked: reset through the i8042 (glue stops the
 * VM; where there is no i8042, as on QEMU's microvm, the guest halts
 * instead), a triple fault, or halting forever. */
void vm_end(void)
{
	switch (end_mode) {
	case END_TRIPLE:
		triple_fault();
	case END_HALT:
		halt_forever();
	case END_RESET:
		if (inb(I8042_STATUS) != 0xff) { /* 0xff: no controller */
			for (int spin = 0; spin < 1000 && (inb(I8042_STATUS) & I8042_IBF); spin++)
				cpu_relax();
			outb(I8042_CMD, I8042_RESET);
			delay_us(100000); /* a reset takes effect at once, or never */
		}
		halt_forever();
	}
	halt_forever();
}

/* The end of the highest range in the memory map: what to identity-map. */
static uint64_t memmap_top(void)
{
	uint64_t top = 0;
	for (int i = 0; i < boot.memmap_n; i++) {
		uint64_t end = boot.memmap[i].addr + boot.memmap[i].size;
		if (end >= boot.memmap[i].addr && end > top)
			top = end;
	}
	return top;
}

static void run_tests(const char *list, size_t len)
{
	size_t i = 0;
	while (i < len) {
		size_t start = i;
		while (i < len && list[i] != ',')
			i++;
		const char *name = list + start;
		size_t n = i - start;
		i++; /* the comma */
		if (n == 0)
			continue;

		const struct test *t = find_test(name, n);
		if (!t) {
			char shown[65];
			size_t k = n < 64 ? n : 64;
			memcpy(shown, name, k);
			shown[k] = '\0';
			print("GLUE-FAIL %s unknown test\n", shown);
			continue;
		}
		current_test = t->name;
		t->run();
	}
	current_test = "end";
}

NORETURN void start64(int protocol, uint64_t info);
void start64(int protocol, uint64_t info)
{
	serial_init();
	desc_init();
	bootinfo_read(protocol, info);
	/* Which entry ran: the VMM's choice of protocol, seen from inside. */
	print("GLUE-BOOT boot=%s\n", protocol == BOOT_PVH ? "pvh" : "linux64");
	paging_init(memmap_top());
	parse_end_mode();
	if (boot.problem)
		print("GLUE-FAIL boot %s\n", boot.problem);

	const char *list;
	size_t len;
	if (cmdline_get("glue.test", &list, &len)) {
		run_tests(list, len);
	} else {
		current_test = "demo";
		test_demo();
	}
	print("GLUE-DONE\n");
	vm_end();
}
