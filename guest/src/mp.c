/*
 * mp.c - count CPUs from the MP table (Intel MultiProcessor Specification
 * 1.4, chapter 4), which glue writes at the start of the EBDA.
 *
 * The floating pointer is 16 bytes, 16-byte aligned:
 *   0 "_MP_"   4 u32 config table address   8 u8 length (in 16-byte units)
 *   9 u8 spec revision   10 u8 checksum   11 feature bytes (0: a table exists)
 * The configuration table header is 44 bytes:
 *   0 "PCMP"   4 u16 base table length   6 u8 revision   7 u8 checksum
 *   34 u16 entry count   36 u32 local APIC address
 * followed by entries; a processor entry (type 0) is 20 bytes:
 *   0 type   1 local APIC ID   2 APIC version   3 flags (bit 0: enabled)
 * and the other base entry types (1-4) are 8 bytes.
 */
#include "guest.h"

static const uint8_t *find_floating_pointer(uintptr_t start, uintptr_t end)
{
	for (uintptr_t a = start; a + 16 <= end; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		if (memcmp(p, "_MP_", 4) == 0 && p[8] == 1 && checksum8(p, 16) == 0)
			return p;
	}
	return NULL;
}

bool mp_find_cpus(struct cpu_list *cpus)
{
	const uint8_t *fp = find_floating_pointer(0x9fc00, 0xa0000);
	if (!fp)
		fp = find_floating_pointer(0xf0000, 0x100000);
	if (!fp)
		return false;

	uint32_t cfg_addr;
	memcpy(&cfg_addr, fp + 4, 4);
	if (fp[11] != 0 || cfg_addr == 0)
		return false; /* a "default configuration": no table to read */
	/* The table is in low memory in practice; insist on the identity map. */
	if (cfg_addr >= mapped_top || mapped_top - cfg_addr < 44)
		return false;

	const uint8_t *cfg = (const uint8_t *)(uintptr_t)cfg_addr;
	uint16_t len;
	memcpy(&len, cfg + 4, 2);
	if (memcmp(cfg, "PCMP", 4) != 0 || len < 44 || mapped_top - cfg_addr < len ||
	    checksum8(cfg, len) != 0)
		return false;

	cpus->n = 0;
	for (uint32_t off = 44; off < len;) {
		uint8_t type = cfg[off];
		uint32_t size = type == 0 ? 20 : 8;
		if (type > 4 || off + size > len)
			break; /* unknown or truncated entry: stop, keep what we have */
		if (type == 0 && (cfg[off + 3] & 1) && cpus->n < MAX_CPUS)
			cpus->apic_id[cpus->n++] = cfg[off + 1];
		off += size;
	}
	cpus->source = "mptable";
	return cpus->n > 0;
}
