/*
 * acpi.c - count CPUs from the ACPI MADT, for loaders that give no MP table
 * (QEMU's microvm machine under PVH hands over an RSDP instead).
 *
 * RSDP: "RSD PTR " 0, checksum over 20 bytes, 15 u8 revision,
 *       16 u32 RSDT address; revision >= 2: 20 u32 length, 24 u64 XSDT
 *       address, extended checksum over `length` bytes.
 * Every other table starts with a 36-byte header: 0 signature,
 *       4 u32 length, 9 u8 checksum (over the whole table).
 * RSDT/XSDT: the header, then u32/u64 table addresses.
 * MADT ("APIC"): the header, u32 LAPIC address, u32 flags, then entries
 *       {u8 type, u8 length, ...}: type 0 = processor local APIC
 *       {2 u8 ACPI id, 3 u8 APIC id, 4 u32 flags}, type 9 = x2APIC
 *       {4 u32 x2APIC id, 8 u32 flags}; flags bit 0: enabled.
 *
 * The RSDP comes from the loader (hvm_start_info.rsdp_paddr or
 * boot_params.acpi_rsdp_addr) or, failing that, from the BIOS areas.
 */
#include "guest.h"

#define HDR_LEN 36

/* A pointer to len bytes at addr if they are mapped, else NULL. */
static const uint8_t *mapped(uint64_t addr, uint64_t len)
{
	if (addr == 0 || addr >= mapped_top || mapped_top - addr < len)
		return NULL;
	return (const uint8_t *)(uintptr_t)addr;
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static const uint8_t *valid_rsdp(uint64_t addr)
{
	const uint8_t *p = mapped(addr, 36);
	if (!p || memcmp(p, "RSD PTR ", 8) != 0 || checksum8(p, 20) != 0)
		return NULL;
	return p;
}

static const uint8_t *find_rsdp(void)
{
	const uint8_t *p = valid_rsdp(boot.rsdp);
	if (p)
		return p;
	for (uint64_t a = 0x9fc00; a < 0xa0000; a += 16)
		if ((p = valid_rsdp(a)))
			return p;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if ((p = valid_rsdp(a)))
			return p;
	return NULL;
}

/* A table with a valid header and checksum at addr, or NULL. */
static const uint8_t *table(uint64_t addr, uint32_t *len)
{
	const uint8_t *t = mapped(addr, HDR_LEN);
	if (!t)
		return NULL;
	*len = le32(t + 4);
	if (*len < HDR_LEN || *len > (1u << 20) || !mapped(addr, *len) || checksum8(t, *len) != 0)
		return NULL;
	return t;
}

static const uint8_t *find_madt(const uint8_t *rsdp)
{
	uint64_t root = le32(rsdp + 16);
	unsigned entry = 4;
	if (rsdp[15] >= 2 && le64(rsdp + 24) != 0) {
		uint32_t rlen = le32(rsdp + 20);
		if (rlen >= 36 && mapped((uintptr_t)rsdp, rlen) && checksum8(rsdp, rlen) == 0) {
			root = le64(rsdp + 24);
			entry = 8;
		}
	}
	uint32_t len;
	const uint8_t *rt = table(root, &len);
	if (!rt)
		return NULL;
	for (uint32_t off = HDR_LEN; off + entry <= len; off += entry) {
		uint64_t a = entry == 8 ? le64(rt + off) : le32(rt + off);
		uint32_t tlen;
		const uint8_t *t = table(a, &tlen);
		if (t && memcmp(t, "APIC", 4) == 0)
			return t;
	}
	return NULL;
}

bool acpi_find_cpus(struct cpu_list *cpus)
{
	const uint8_t *rsdp = find_rsdp();
	if (!rsdp)
		return false;
	const uint8_t *madt = find_madt(rsdp);
	if (!madt)
		return false;

	uint32_t len = le32(madt + 4);
	cpus->n = 0;
	for (uint32_t off = HDR_LEN + 8; off + 2 <= len;) {
		uint8_t type = madt[off], elen = madt[off + 1];
		if (elen < 2 || off + elen > len)
			break;
		if (type == 0 && elen >= 8 && (le32(madt + off + 4) & 1) && cpus->n < MAX_CPUS)
			cpus->apic_id[cpus->n++] = madt[off + 3];
		if (type == 9 && elen >= 16 && (le32(madt + off + 8) & 1) && cpus->n < MAX_CPUS)
			cpus->apic_id[cpus->n++] = le32(madt + off + 4);
		off += elen;
	}
	cpus->source = "acpi";
	return cpus->n > 0;
}
