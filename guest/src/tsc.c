/*
 * tsc.c - time from the TSC, for the few delays the guest needs.
 *
 * The TSC frequency comes from CPUID where the CPU or hypervisor reports
 * it (leaf 0x40000010, the hypervisor timing leaf QEMU and VMware fill in;
 * leaf 0x15, crystal clock ratio; leaf 0x16, nominal MHz). Otherwise it is
 * measured against the RTC's seconds (up to 2 s, only when asked to), or
 * assumed to be 3 GHz: good enough for the bounded waits of SMP startup,
 * which only need to be "roughly milliseconds, never forever".
 */
#include "guest.h"
#include "io.h"

#define DEFAULT_KHZ 3000000ull

static uint64_t khz_known;   /* from CPUID or the RTC; 0: unknown */
static bool cpuid_asked;     /* CPUID is asked once (each CPUID exits) */
static bool rtc_asked;       /* the RTC is asked once (it takes ~2 s) */

static uint64_t khz_from_cpuid(void)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	uint32_t max = r[0];
	cpuid(1, 0, r);
	if (r[2] & (1u << 31)) { /* CPUID.1:ECX.hypervisor: leaves 0x400000xx exist */
		cpuid(0x40000000, 0, r);
		if (r[0] >= 0x40000010 && r[0] < 0x40000100) {
			cpuid(0x40000010, 0, r);
			if (r[0])
				return r[0];
		}
	}
	if (max >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (uint64_t)r[2] * r[1] / r[0] / 1000;
	}
	if (max >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0] & 0xffff)
			return (uint64_t)(r[0] & 0xffff) * 1000;
	}
	return 0;
}

/* Waits for the RTC's seconds to change; returns the TSC then, 0 if it
 * does not change within ~4 s of (assumed 3 GHz) TSC time. */
static uint64_t next_second(void)
{
	uint8_t s0 = cmos_read(0);
	uint64_t start = rdtsc();
	while (rdtsc() - start < 4 * DEFAULT_KHZ * 1000) {
		if (!(cmos_read(0x0a) & 0x80) && cmos_read(0) != s0)
			return rdtsc();
	}
	return 0;
}

static uint64_t khz_from_rtc(void)
{
	uint64_t t0 = rtc_present() ? next_second() : 0;
	uint64_t t1 = t0 ? next_second() : 0;
	return t1 ? (t1 - t0) / 1000 : 0;
}

uint64_t tsc_khz(bool calibrate)
{
	if (!khz_known && !cpuid_asked) {
		cpuid_asked = true;
		khz_known = khz_from_cpuid();
	}
	if (!khz_known && calibrate && !rtc_asked) {
		rtc_asked = true;
		khz_known = khz_from_rtc();
	}
	return khz_known ? khz_known : DEFAULT_KHZ;
}

void delay_us(uint64_t us)
{
	uint64_t ticks = us * tsc_khz(false) / 1000, start = rdtsc();
	while (rdtsc() - start < ticks)
		cpu_relax();
}
