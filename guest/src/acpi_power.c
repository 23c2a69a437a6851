/*
 * acpi_power.c - the ACPI power button and soft-off (S5).
 *
 * S5 (ACPI 6.5, 7.4.2 and 16.1): SLP_TYPa comes from the DSDT's \_S5
 * package (its first element). A hardware-reduced machine (FADT flags
 * bit 20) has the FADT's SLEEP_CONTROL_REG (offset 244, a Generic Address
 * Structure {u8 space (0 memory, 1 I/O), u8 bit width, u8 bit offset,
 * u8 access size, u64 address}): write SLP_TYPx << 2 | SLP_EN (bit 5).
 * Otherwise PM1a_CNT_BLK (offset 64, an I/O port): SLP_TYPx << 10 |
 * SLP_EN (bit 13), the other bits kept.
 *
 * The power button: hardware-reduced, the Generic Event Device (_HID
 * ACPI0013) interrupts on its _CRS interrupt (as that says: edge, active
 * high for glue's and QEMU's); its
 * _EVT method reads a 32-bit event register (the device's
 * OperationRegion) and notifies the power button if a bit is set (the
 * mask of the first "And(Local0, <mask>)" in the GED's body; QEMU's is 2,
 * glue's 1). The guest reads that register itself when the interrupt
 * comes. Otherwise the fixed-feature button: PWRBTN_STS (bit 8) of
 * PM1a_EVT_BLK (offset 56, an I/O port; the enable half follows at
 * PM1_EVT_LEN (offset 88) / 2), polled: no SCI handler here.
 */
#include "guest.h"
#include "aml.h"
#include "intr.h"
#include "io.h"

#define FADT_PM1A_EVT   56
#define FADT_PM1A_CNT   64
#define FADT_PM1_EVT_LEN 88
#define FADT_FLAGS     112
#define FADT_SLEEP_CTL 244
#define FADT_HW_REDUCED (1u << 20)
#define PM1_PWRBTN     (1u << 8)
#define POWER_VECTOR   0xd8 /* above the virtio-pci devices' vectors */

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline void outw16(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw16(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl32(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* SLP_TYPa of \_S5: "Name(\_S5, Package() {typ, ...})". */
static bool s5_type(uint8_t *typ)
{
	uint32_t len;
	const uint8_t *aml = acpi_dsdt(&len);
	if (!aml)
		return false;
	for (uint32_t i = 0; i + 5 < len; i++) {
		if (i == 0 || memcmp(aml + i, "_S5_", 4) != 0 || (aml[i - 1] != 0x08 && aml[i - 1] != '\\'))
			continue;
		const uint8_t *p = aml + i + 4, *end = aml + len, *pend;
		uint64_t n, v;
		if (aml_package(&p, end, &pend, &n) && n >= 1 && aml_integer(&p, pend, &v) && v <= 7) {
			*typ = (uint8_t)v;
			return true;
		}
	}
	return false;
}

static bool gas_write8(const uint8_t *gas, uint8_t v)
{
	uint64_t a = rd64(gas + 4);
	if (gas[0] == 1 && a <= 0xffff) {
		outb((uint16_t)a, v);
		return true;
	}
	if (gas[0] == 0 && a && a < mapped_top) {
		*(volatile uint8_t *)(uintptr_t)a = v;
		return true;
	}
	return false;
}

/* Writes S5; returns (with the reason) only if that did not end the VM. */
static const char *enter_s5(void)
{
	uint32_t len;
	uint8_t typ;
	const uint8_t *fadt = acpi_table("FACP", &len);
	if (!fadt || len < FADT_FLAGS + 4)
		return "no FADT";
	if (!s5_type(&typ))
		return "no \\_S5 package in the DSDT";
	bool ok;
	if (rd32(fadt + FADT_FLAGS) & FADT_HW_REDUCED)
		ok = len >= FADT_SLEEP_CTL + 12 && gas_write8(fadt + FADT_SLEEP_CTL, (uint8_t)(typ << 2 | 1 << 5));
	else if ((ok = rd32(fadt + FADT_PM1A_CNT) != 0 && rd32(fadt + FADT_PM1A_CNT) <= 0xffff)) {
		uint16_t port = (uint16_t)rd32(fadt + FADT_PM1A_CNT);
		outw16(port, (uint16_t)((inw16(port) & ~(7u << 10)) | (unsigned)typ << 10 | 1u << 13));
	}
	if (!ok)
		return "no usable sleep control register";
	delay_us(1000000);
	return "the S5 write did not end the VM";
}

/* The GED: its interrupt, its event register, the power button's bit. */
struct ged {
	uint32_t gsi;
	bool level, active_low; /* from the _CRS: edge, active high for a GED */
	uint8_t space;
	uint64_t reg;
	uint32_t mask;
};

static bool find_ged(struct ged *g)
{
	uint32_t len, cursor = 0;
	const uint8_t *aml = acpi_dsdt(&len);
	struct aml_scope dev;
	while (aml && aml_next_device(aml, len, &cursor, &dev)) {
		if (!aml_hid_is(&dev, "ACPI0013"))
			continue;
		struct aml_res res[4];
		int n = aml_crs(&dev, res, (int)ARRAY_LEN(res));
		uint64_t rlen;
		*g = (struct ged){.mask = 0xffffffffu};
		bool irq = false;
		for (int i = 0; i < n && !irq; i++)
			if (res[i].kind == AML_RES_IRQ) {
				g->gsi = (uint32_t)res[i].a;
				g->level = res[i].level;
				g->active_low = res[i].active_low;
				irq = true;
			}
		if (!irq || !aml_opregion(&dev, &g->space, &g->reg, &rlen) || g->space > 1)
			return false;
		/* And(Local0, <mask>, ...): 0x7b 0x60 <integer> */
		for (const uint8_t *p = dev.body; p + 3 < dev.body + dev.len; p++) {
			const uint8_t *q = p + 2;
			uint64_t m;
			if (p[0] == 0x7b && p[1] == 0x60 && aml_integer(&q, dev.body + dev.len, &m) && m) {
				g->mask = (uint32_t)m;
				break;
			}
		}
		return true;
	}
	return false;
}

static uint32_t ged_read(const struct ged *g)
{
	if (g->space == 1)
		return inl32((uint16_t)g->reg);
	return g->reg < mapped_top ? mmio_read32((uintptr_t)g->reg) : 0;
}

/*
 * Waits up to timeout_s for the power button; prints the GLUE-OK power
 * line (or GLUE-FAIL) and returns whether it was pressed.
 */
static bool wait_for_button(uint64_t timeout_s)
{
	uint32_t len;
	const uint8_t *fadt = acpi_table("FACP", &len);
	if (!fadt || len < FADT_FLAGS + 4) {
		print("GLUE-FAIL power no FADT\n");
		return false;
	}
	uint64_t limit = timeout_s * 1000 * tsc_khz(true), start;
	if (rd32(fadt + FADT_FLAGS) & FADT_HW_REDUCED) {
		struct ged g;
		if (!find_ged(&g)) {
			print("GLUE-FAIL power hardware-reduced, but no GED (ACPI0013 with an interrupt and a register)\n");
			return false;
		}
		intr_arm(POWER_VECTOR, NULL, NULL);
		if (!ioapic_route(g.gsi, POWER_VECTOR, g.level, g.active_low, false)) {
			print("GLUE-FAIL power no IOAPIC input for the GED's GSI %u\n", g.gsi);
			return false;
		}
		uint32_t seen = intr_count(POWER_VECTOR), events = 0;
		print("GLUE-READY power via=ged gsi=%u\n", g.gsi);
		start = rdtsc();
		while (!(events & g.mask)) {
			if (rdtsc() - start > limit) {
				print("GLUE-FAIL power no power button event within %lu s\n", timeout_s);
				return false;
			}
			intr_window();
			if (intr_count(POWER_VECTOR) != seen) {
				seen = intr_count(POWER_VECTOR);
				events |= ged_read(&g); /* reading clears them */
			}
		}
		ioapic_mask(g.gsi, true);
		print("GLUE-OK power via=ged gsi=%u event=0x%x irqs=%u\n", g.gsi, events, seen);
		return true;
	}
	uint32_t evt = rd32(fadt + FADT_PM1A_EVT);
	unsigned half = len > FADT_PM1_EVT_LEN ? fadt[FADT_PM1_EVT_LEN] / 2 : 0;
	if (!evt || evt > 0xffff || half < 2) {
		print("GLUE-FAIL power no PM1a event block\n");
		return false;
	}
	outw16((uint16_t)evt, PM1_PWRBTN); /* clear a stale status (write 1) */
	outw16((uint16_t)(evt + half), (uint16_t)(inw16((uint16_t)(evt + half)) | PM1_PWRBTN));
	print("GLUE-READY power via=fixed\n");
	start = rdtsc();
	while (!(inw16((uint16_t)evt) & PM1_PWRBTN)) {
		if (rdtsc() - start > limit) {
			print("GLUE-FAIL power no power button event within %lu s\n", timeout_s);
			return false;
		}
		cpu_relax();
	}
	outw16((uint16_t)evt, PM1_PWRBTN);
	print("GLUE-OK power via=fixed event=0x%x\n", PM1_PWRBTN);
	return true;
}

void acpi_power_off(bool wait_button)
{
	uint64_t timeout_s = 60;
	if (!cmdline_num("glue.power.timeout", 86400, &timeout_s)) {
		print("GLUE-FAIL power glue.power.timeout= wants seconds\n");
		return;
	}
	if (wait_button && !wait_for_button(timeout_s))
		return;
	print("GLUE-S5\n");
	const char *why = enter_s5();
	print("GLUE-FAIL power %s\n", why);
}

/* The power test: the button, then S5; only returns if that fails. */
bool test_power(void)
{
	acpi_power_off(true);
	return false;
}
