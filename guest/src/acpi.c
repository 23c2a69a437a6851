/*
 * acpi.c - the ACPI tables: finding them with their checksums, the CPUs of
 * the MADT (for loaders that give no MP table: QEMU's microvm under PVH
 * hands over an RSDP instead), its IOAPICs, the MCFG, the DSDT, and the
 * acpi test.
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
 *       {4 u32 x2APIC id, 8 u32 flags}; flags bit 0: enabled; type 1 =
 *       I/O APIC {2 u8 id, 4 u32 address, 8 u32 GSI base}.
 * FADT ("FACP"): 40 u32 DSDT, 140 u64 X_DSDT; MCFG: see acpi_mcfg.
 *
 * The RSDP comes from the loader (hvm_start_info.rsdp_paddr or
 * boot_params.acpi_rsdp_addr) or, failing that, from the BIOS areas.
 */
#include "guest.h"
#include "aml.h"

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

static const uint8_t *search_rsdp(void)
{
	const uint8_t *p = valid_rsdp(boot.rsdp);
	if (p)
		return p;
	/* One 8-byte load per candidate before anything else: this loop is
	 * the whole cost of a boot without ACPI tables. */
	static const uint64_t sig = 0x2052545020445352ull; /* "RSD PTR " */
	for (uint64_t a = 0x9fc00; a < 0x100000; a += 16) {
		if (a == 0xa0000)
			a = 0xe0000;
		if (*(const volatile uint64_t *)(uintptr_t)a == sig && (p = valid_rsdp(a)))
			return p;
	}
	return NULL;
}

/* Searched once: the scan of the BIOS areas costs ~10^5 instructions,
 * which where KVM emulates them (PVM hosts, docs/testing.md) is a noticeable fraction of
 * a second, and every PCI and virtio probe asks for tables. */
static const uint8_t *find_rsdp(void)
{
	static const uint8_t *rsdp;
	static bool searched;
	if (!searched) {
		rsdp = search_rsdp();
		searched = true;
	}
	return rsdp;
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

/* The root table (XSDT if the RSDP has a valid one, else RSDT) and its
 * entry size. */
static const uint8_t *root_table(const uint8_t *rsdp, uint32_t *len, unsigned *entry)
{
	uint64_t root = le32(rsdp + 16);
	*entry = 4;
	if (rsdp[15] >= 2 && le64(rsdp + 24) != 0) {
		uint32_t rlen = le32(rsdp + 20);
		if (rlen >= 36 && mapped((uintptr_t)rsdp, rlen) && checksum8(rsdp, rlen) == 0) {
			root = le64(rsdp + 24);
			*entry = 8;
		}
	}
	return table(root, len);
}

const uint8_t *acpi_table(const char sig[4], uint32_t *tlen)
{
	const uint8_t *rsdp = find_rsdp();
	if (!rsdp)
		return NULL;
	uint32_t len;
	unsigned entry;
	const uint8_t *rt = root_table(rsdp, &len, &entry);
	if (!rt)
		return NULL;
	for (uint32_t off = HDR_LEN; off + entry <= len; off += entry) {
		uint64_t a = entry == 8 ? le64(rt + off) : le32(rt + off);
		const uint8_t *t = table(a, tlen);
		if (t && memcmp(t, sig, 4) == 0)
			return t;
	}
	return NULL;
}

/* FADT: 40 u32 DSDT; 140 u64 X_DSDT (preferred when the table has it). */
static uint64_t dsdt_address(const uint8_t *fadt, uint32_t len)
{
	uint64_t x = len >= 148 ? le64(fadt + 140) : 0;
	return x ? x : le32(fadt + 40);
}

const uint8_t *acpi_dsdt(uint32_t *len)
{
	uint32_t flen, dlen;
	const uint8_t *fadt = acpi_table("FACP", &flen);
	if (!fadt || flen < 44)
		return NULL;
	const uint8_t *d = table(dsdt_address(fadt, flen), &dlen);
	if (!d || memcmp(d, "DSDT", 4) != 0)
		return NULL;
	*len = dlen - HDR_LEN;
	return d + HDR_LEN;
}

/* MCFG: the header, 8 reserved bytes, then 16-byte entries {u64 base,
 * u16 segment, u8 first bus, u8 last bus, u32 reserved}. */
bool acpi_mcfg(struct mcfg_entry *e)
{
	uint32_t len;
	const uint8_t *t = acpi_table("MCFG", &len);
	if (!t || len < HDR_LEN + 8 + 16)
		return false;
	const uint8_t *p = t + HDR_LEN + 8;
	*e = (struct mcfg_entry){le64(p), (uint16_t)(p[8] | p[9] << 8), p[10], p[11]};
	return e->bus_end >= e->bus_start;
}

/* MADT type 1, I/O APIC: 2 u8 id, 4 u32 address, 8 u32 GSI base. The one
 * with the highest GSI base not above gsi. */
bool acpi_ioapic(uint32_t gsi, uint64_t *base, uint32_t *gsi_base)
{
	uint32_t len;
	const uint8_t *madt = acpi_table("APIC", &len);
	bool found = false;
	if (!madt)
		return false;
	for (uint32_t off = HDR_LEN + 8; off + 2 <= len;) {
		uint8_t type = madt[off], elen = madt[off + 1];
		if (elen < 2 || off + elen > len)
			break;
		if (type == 1 && elen >= 12) {
			uint32_t gb = le32(madt + off + 8);
			if (gb <= gsi && (!found || gb > *gsi_base)) {
				*base = le32(madt + off + 4);
				*gsi_base = gb;
				found = true;
			}
		}
		off += elen;
	}
	return found;
}

bool acpi_find_cpus(struct cpu_list *cpus)
{
	uint32_t len;
	const uint8_t *madt = acpi_table("APIC", &len);
	if (!madt)
		return false;
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

/* ---- the acpi test ---- */

/* Every table the root table lists, and the DSDT, with their checksums:
 * "GLUE-OK acpi rsdp=0x... tables=XSDT,FACP,... cpus=<MADT> checksums=ok". */
bool test_acpi(void)
{
	const uint8_t *rsdp = find_rsdp();
	if (!rsdp) {
		print("GLUE-FAIL acpi no RSDP (boot information, EBDA, 0xe0000-0xfffff)\n");
		return false;
	}
	uint32_t len;
	unsigned entry;
	const uint8_t *rt = root_table(rsdp, &len, &entry);
	if (!rt) {
		print("GLUE-FAIL acpi rsdp=0x%lx: no valid RSDT or XSDT\n", (uint64_t)(uintptr_t)rsdp);
		return false;
	}
	int bad = 0;
	print("GLUE-OK acpi rsdp=0x%lx tables=%.4s", (uint64_t)(uintptr_t)rsdp, (const char *)rt);
	for (uint32_t off = HDR_LEN; off + entry <= len; off += entry) {
		uint64_t a = entry == 8 ? le64(rt + off) : le32(rt + off);
		uint32_t tlen;
		const uint8_t *t = mapped(a, HDR_LEN);
		if (!t) {
			bad++;
			continue;
		}
		print(",%.4s", (const char *)t);
		if (!table(a, &tlen))
			bad++;
		if (memcmp(t, "FACP", 4) == 0 && table(a, &tlen) && tlen >= 44) {
			uint32_t dlen;
			const uint8_t *d = mapped(dsdt_address(t, tlen), HDR_LEN);
			if (d)
				print(",%.4s", (const char *)d);
			if (!d || !table(dsdt_address(t, tlen), &dlen))
				bad++;
		}
	}
	struct cpu_list cpus = {0};
	acpi_find_cpus(&cpus);
	print(" cpus=%d checksums=%s", cpus.n, bad ? "bad" : "ok");
	if (bad)
		print(" bad=%d", bad);
	print("\n");
	return bad == 0;
}
