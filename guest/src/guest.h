/*
 * guest.h - declarations shared by the guest's C files.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NORETURN __attribute__((noreturn))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

/* lib.c: what the compiler may call even in freestanding code. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* True if the n bytes at s are exactly the NUL-terminated word. */
bool span_eq(const char *s, size_t n, const char *word);
/* Parses n decimal digits at s; false on anything else or overflow past max. */
bool parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);
/* 0-15 for a hex digit (either case), else -1. */
int hex_digit(char c);
uint8_t checksum8(const void *p, size_t n);

/* serial.c: COM1, polled. Output lines end in "\n" alone. */
void serial_init(void);
void serial_putc(char c);
void serial_end_line(void); /* '\n' unless at the start of a line */
int serial_getc(void); /* blocks until a byte arrives */
/*
 * print formats like printf (%s %c %d %u %x %%, with l/ll/z, width, '0' and
 * a %.Ns precision) and writes the result under the output lock, so lines
 * from different CPUs never interleave. Bytes of %s arguments outside
 * printable ASCII are shown as '?', so guest-controlled text cannot break
 * a line apart.
 */
void print(const char *fmt, ...) PRINTF(1, 2);
void vprint(const char *fmt, va_list ap);
/* The same without the lock, for the exception handler. */
void print_unlocked(const char *fmt, ...) PRINTF(1, 2);

/* bootinfo.c: what the loader told us, copied out of low memory. */
#define CMDLINE_MAX 4096 /* bytes kept, NUL included */
#define MEMMAP_MAX  128  /* e820 entries kept (the zero page holds 128) */
#define E820_RAM    1

struct memmap_entry {
	uint64_t addr, size;
	uint32_t type;
};

struct bootinfo {
	int protocol;           /* BOOT_LINUX64 or BOOT_PVH */
	char cmdline[CMDLINE_MAX];
	size_t cmdline_len;
	bool cmdline_truncated; /* longer than CMDLINE_MAX - 1 bytes */
	struct memmap_entry memmap[MEMMAP_MAX];
	int memmap_n;
	uint64_t rsdp;          /* ACPI RSDP from the loader, 0: none */
	const char *problem;    /* why some of it is missing, or NULL */
};
extern struct bootinfo boot;
void bootinfo_read(int protocol, uint64_t ptr);

/* paging.c */
extern uint64_t mapped_top; /* [0, mapped_top) is identity-mapped */
void paging_init(uint64_t top);

/* desc.c */
void desc_init(void);
void idt_load(void);
NORETURN void triple_fault(void);
extern const char *current_test; /* named in exception reports */

/* cmdline.c: "key=value" words of the command line. */
/* Finds the last word "key=..." and returns its value and length. */
bool cmdline_get(const char *key, const char **val, size_t *len);
/* Every word "key=...", first to last; start with *cursor = NULL. */
bool cmdline_next(const char *key, const char **cursor, const char **val, size_t *len);
/* glue.x=N: leaves *out (the default) alone if absent; false if malformed. */
bool cmdline_num(const char *key, uint64_t max, uint64_t *out);

/* CPU discovery (mp.c, acpi.c). */
struct cpu_list {
	int n;
	uint32_t apic_id[MAX_CPUS];
	const char *source; /* "mptable", "acpi" or "none" */
};
bool mp_find_cpus(struct cpu_list *cpus);
bool acpi_find_cpus(struct cpu_list *cpus);
bool test_acpi(void);
/* acpi_power.c: S5, after the power button if asked; returns only on failure. */
void acpi_power_off(bool wait_button);
bool test_power(void);

/* smp.c */
struct smp_result {
	int started;    /* APs we sent INIT-SIPI-SIPI to */
	int online;     /* CPUs that reported, BSP included */
	uint32_t online_id[MAX_CPUS];
	const char *error;
};
void smp_start_aps(const struct cpu_list *cpus, struct smp_result *res);
uint32_t cpu_apic_id(void); /* of the CPU that calls it */
void lapic_setup(void);      /* enables the LAPIC (again: harmless) */
void lapic_eoi(void);
void lapic_timer_setup(uint8_t vector); /* one-shot, divide by 1 */
void lapic_timer_start(uint32_t count);

/* tsc.c */
uint64_t tsc_khz(bool calibrate); /* calibrate: may spend ~2 s on the RTC */
void delay_us(uint64_t us);

/* rtc.c */
struct rtc_time {
	unsigned year, month, day, hour, minute, second;
};
bool rtc_present(void);
bool rtc_read(struct rtc_time *t);
uint8_t cmos_read(uint8_t reg);

/* tests.c */
struct test {
	const char *name;
	bool (*run)(void); /* prints one GLUE-OK/GLUE-FAIL line (tests.c) */
};
const struct test *find_test(const char *name, size_t len);
bool test_demo(void);
NORETURN void test_counter_loop(void);

/* main.c */
NORETURN void vm_end(void);

#endif
