/*
 * acpi_dev.c - devices the DSDT describes, found with aml.c's patterns:
 * the PCI host bridge's windows and INTx routes, virtio-mmio transports.
 *
 *   PCI0: _HID PNP0A08 (or PNP0A03); _CBA the ECAM base (where there is
 *         no MCFG: a constant, or a method returning one); _CRS memory windows as DWord/QWord
 *         address space descriptors; _PRT a package of {address
 *         (slot << 16 | 0xffff), pin (0 = INTA), source, index}: source 0
 *         means index is the GSI (level, active low: PCI's own wires),
 *         a name means the link device of that name, whose _CRS holds the
 *         interrupt (QEMU's GPEX: GSI0..GSI3, level, active high).
 *   virtio-mmio: _HID "LNRO0005", _CRS Memory32Fixed and an interrupt.
 */
#include "guest.h"
#include "aml.h"

/* The first Device whose _HID is one of these, or false. */
static bool find_device(const char *hid, const char *alt, struct aml_scope *dev)
{
	uint32_t len, cursor = 0;
	const uint8_t *aml = acpi_dsdt(&len);
	if (!aml)
		return false;
	while (aml_next_device(aml, len, &cursor, dev))
		if (aml_hid_is(dev, hid) || (alt && aml_hid_is(dev, alt)))
			return true;
	return false;
}

static bool find_named(const char seg[4], struct aml_scope *dev)
{
	uint32_t len, cursor = 0;
	const uint8_t *aml = acpi_dsdt(&len);
	if (!aml)
		return false;
	while (aml_next_device(aml, len, &cursor, dev))
		if (memcmp(dev->name, seg, 4) == 0)
			return true;
	return false;
}

bool acpi_pci_cba(uint64_t *base)
{
	struct aml_scope pci;
	return find_device("PNP0A08", "PNP0A03", &pci) && aml_constant(&pci, "_CBA", base);
}

int acpi_pci_windows(struct aml_res *out, int max)
{
	struct aml_scope pci;
	struct aml_res res[16];
	if (!find_device("PNP0A08", "PNP0A03", &pci))
		return 0;
	int n = aml_crs(&pci, res, (int)ARRAY_LEN(res)), k = 0;
	for (int pass = 0; pass < 2; pass++) /* below 4 GiB first */
		for (int i = 0; i < n && k < max; i++)
			if (res[i].kind == AML_RES_WINDOW && res[i].b && (res[i].a < (1ull << 32)) == (pass == 0))
				out[k++] = res[i];
	return k;
}

bool acpi_pci_route(unsigned slot, unsigned pin, struct aml_res *irq)
{
	struct aml_scope pci;
	if (!find_device("PNP0A08", "PNP0A03", &pci))
		return false;
	const uint8_t *end, *p = aml_name(&pci, "_PRT", &end), *pend;
	uint64_t count;
	if (!p || !aml_package(&p, end, &pend, &count))
		return false;
	for (uint64_t i = 0; i < count && p < pend; i++) {
		const uint8_t *e, *q = p;
		uint64_t n, addr, epin, index = 0, source = 1;
		char link[4];
		bool named = false;
		if (!aml_package(&q, pend, &e, &n) || n != 4)
			return false;
		p = e; /* the next route */
		if (!aml_integer(&q, e, &addr) || !aml_integer(&q, e, &epin))
			continue;
		if (aml_element_name(&q, e, link))
			named = true;
		else if (!aml_integer(&q, e, &source))
			continue;
		if (!aml_integer(&q, e, &index) || addr >> 16 != slot || epin != pin)
			continue;
		if (!named) {
			if (source != 0)
				continue;
			*irq = (struct aml_res){AML_RES_IRQ, index, 0, true, true};
			return true;
		}
		struct aml_scope dev;
		struct aml_res res[4];
		if (!find_named(link, &dev))
			return false;
		int k = aml_crs(&dev, res, (int)ARRAY_LEN(res));
		for (int j = 0; j < k; j++)
			if (res[j].kind == AML_RES_IRQ) {
				*irq = res[j];
				return true;
			}
		return false;
	}
	return false;
}

int acpi_virtio_mmio(struct aml_res mem[], struct aml_res irq[], int max)
{
	uint32_t len, cursor = 0;
	const uint8_t *aml = acpi_dsdt(&len);
	struct aml_scope dev;
	int n = 0;
	if (!aml)
		return 0;
	while (n < max && aml_next_device(aml, len, &cursor, &dev)) {
		if (!aml_hid_is(&dev, "LNRO0005"))
			continue;
		struct aml_res res[4];
		int k = aml_crs(&dev, res, (int)ARRAY_LEN(res));
		mem[n] = irq[n] = (struct aml_res){0};
		for (int j = 0; j < k; j++) {
			if (res[j].kind == AML_RES_MEM && !mem[n].kind)
				mem[n] = res[j];
			if (res[j].kind == AML_RES_IRQ && !irq[n].kind)
				irq[n] = res[j];
		}
		n++;
	}
	return n;
}
