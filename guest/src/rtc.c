/*
 * rtc.c - the CMOS real-time clock (MC146818) and CMOS memory.
 *
 * Index port 0x70, data port 0x71. Time registers: 0 seconds, 2 minutes,
 * 4 hours, 7 day, 8 month, 9 year, 0x32 century (by convention). Register
 * A bit 7 (UIP) is set while the clock updates; register B bit 2 selects
 * binary (else BCD), bit 1 selects 24-hour mode (else bit 7 of the hour
 * register means PM). A time is read twice until both reads agree, each
 * after UIP has cleared.
 */
#include "guest.h"
#include "io.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA  0x71
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_A_UIP    0x80
#define REG_B_24H    0x02
#define REG_B_BINARY 0x04

uint8_t cmos_read(uint8_t reg)
{
	outb(CMOS_INDEX, reg); /* bit 7 clear: NMIs stay enabled */
	return inb(CMOS_DATA);
}

/* No RTC: the ports float, and both status registers read 0xff. */
bool rtc_present(void)
{
	return !(cmos_read(REG_A) == 0xff && cmos_read(REG_B) == 0xff);
}

static unsigned from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0x0f);
}

static void read_raw(uint8_t r[7])
{
	/* An update takes under 2 ms; a broken clock that never leaves UIP
	 * is read anyway after ~10 ms. */
	uint64_t limit = 10 * tsc_khz(false), start = rdtsc();
	while ((cmos_read(REG_A) & REG_A_UIP) && rdtsc() - start < limit)
		cpu_relax();
	static const uint8_t regs[7] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32};
	for (int i = 0; i < 7; i++)
		r[i] = cmos_read(regs[i]);
}

bool rtc_read(struct rtc_time *t)
{
	if (!rtc_present())
		return false;
	uint8_t a[7], b[7];
	read_raw(b);
	for (int tries = 0; tries < 10; tries++) {
		memcpy(a, b, sizeof(a));
		read_raw(b);
		if (memcmp(a, b, sizeof(a)) == 0)
			break;
	}
	uint8_t regb = cmos_read(REG_B);
	bool pm = !(regb & REG_B_24H) && (b[2] & 0x80);
	b[2] &= 0x7f;
	unsigned v[7];
	for (int i = 0; i < 7; i++)
		v[i] = regb & REG_B_BINARY ? b[i] : from_bcd(b[i]);

	unsigned century = v[6] >= 19 && v[6] <= 21 ? v[6] : 20;
	t->second = v[0];
	t->minute = v[1];
	t->hour = v[2];
	if (!(regb & REG_B_24H))
		t->hour = t->hour % 12 + (pm ? 12 : 0); /* 12 AM is 0 h, 12 PM 12 h */
	t->day = v[3];
	t->month = v[4];
	t->year = century * 100 + v[5] % 100;
	return t->second < 60 && t->minute < 60 && t->hour < 24 && t->day >= 1 &&
	       t->day <= 31 && t->month >= 1 && t->month <= 12;
}
