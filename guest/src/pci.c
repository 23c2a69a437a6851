/*
 * pci.c - PCI configuration access, bus 0 discovery, BARs, capabilities
 * and MSI-X, and the pci test.
 *
 * Configuration space is reached through ECAM (PCIe base spec 7.2.2: 4 KiB
 * per function at base + bus << 20 | device << 15 | function << 12, the
 * base from the ACPI MCFG, or from the host bridge's _CBA in the DSDT
 * where there is no MCFG, as on QEMU's microvm) or, without either, through the ports
 * 0xcf8/0xcfc (configuration mechanism #1: an enable bit, bus, device,
 * function and dword register at 0xcf8, the data at 0xcfc + (offset & 3)).
 * glue.pci.via=ecam|cf8 forces one.
 *
 * Bus 0 is scanned: 32 devices, functions 1-7 too where function 0's
 * header type says multi-function. Each type-0 function's BARs are sized
 * (decoding off, all ones written, read back, restored); a memory BAR
 * that reads 0 (nothing assigned it: QEMU's microvm runs no firmware that
 * would) gets a naturally aligned address in the host bridge's first
 * memory window from the DSDT. Then memory space (and I/O space, where it
 * has I/O BARs) and bus mastering are enabled, and the capability list is
 * walked: pointers must be dword-aligned and inside the 256-byte header
 * above the standard part, at most 48 steps (a loop ends there).
 */
#include "pci.h"
#include "aml.h"
#include "io.h"
#include "virtio.h"

#define CF8_ADDR 0xcf8
#define CF8_DATA 0xcfc
#define CF8_ENABLE 0x80000000u
#define MAX_CAPS 48

static struct pci_bus bus;
static bool scanned;

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static bool use_ecam(void)
{
	return bus.via[0] == 'e';
}

static volatile uint8_t *ecam_ptr(uint8_t b, uint8_t d, uint8_t fn, unsigned off)
{
	return (volatile uint8_t *)(uintptr_t)(bus.ecam + ((uint64_t)b << 20 | (uint64_t)d << 15 |
							   (uint64_t)fn << 12 | (off & 0xfff)));
}

static void cf8_select(uint8_t b, uint8_t d, uint8_t fn, unsigned off)
{
	outl(CF8_ADDR, CF8_ENABLE | (uint32_t)b << 16 | (uint32_t)d << 11 | (uint32_t)fn << 8 |
			       (off & 0xfc));
}

static uint32_t raw_read32(uint8_t b, uint8_t d, uint8_t fn, unsigned off)
{
	if (use_ecam())
		return *(volatile uint32_t *)ecam_ptr(b, d, fn, off & ~3u);
	cf8_select(b, d, fn, off);
	return inl(CF8_DATA);
}

uint32_t pci_read32(const struct pci_func *f, unsigned off)
{
	return raw_read32(f->bus, f->dev, f->fn, off);
}

uint16_t pci_read16(const struct pci_func *f, unsigned off)
{
	if (use_ecam())
		return *(volatile uint16_t *)ecam_ptr(f->bus, f->dev, f->fn, off & ~1u);
	cf8_select(f->bus, f->dev, f->fn, off);
	return inw((uint16_t)(CF8_DATA + (off & 2)));
}

uint8_t pci_read8(const struct pci_func *f, unsigned off)
{
	if (use_ecam())
		return *ecam_ptr(f->bus, f->dev, f->fn, off);
	cf8_select(f->bus, f->dev, f->fn, off);
	return inb((uint16_t)(CF8_DATA + (off & 3)));
}

void pci_write32(const struct pci_func *f, unsigned off, uint32_t v)
{
	if (use_ecam()) {
		*(volatile uint32_t *)ecam_ptr(f->bus, f->dev, f->fn, off & ~3u) = v;
		return;
	}
	cf8_select(f->bus, f->dev, f->fn, off);
	outl(CF8_DATA, v);
}

void pci_write16(const struct pci_func *f, unsigned off, uint16_t v)
{
	if (use_ecam()) {
		*(volatile uint16_t *)ecam_ptr(f->bus, f->dev, f->fn, off & ~1u) = v;
		return;
	}
	cf8_select(f->bus, f->dev, f->fn, off);
	outw((uint16_t)(CF8_DATA + (off & 2)), v);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool overlaps_ram(uint64_t a, uint64_t len)
{
	for (int i = 0; i < boot.memmap_n; i++)
		if (boot.memmap[i].type == E820_RAM &&
		    overlaps(a, len, boot.memmap[i].addr, boot.memmap[i].size))
			return true;
	return false;
}

/* A region we may touch as MMIO: mapped, not RAM. */
static bool mmio_usable(uint64_t a, uint64_t len)
{
	return a != 0 && len != 0 && a < mapped_top && len <= mapped_top - a && !overlaps_ram(a, len);
}

/* ---- choosing the mechanism ---- */

/* Mechanism #1 is there if the address port keeps what is written. */
static bool cf8_present(void)
{
	uint32_t old = inl(CF8_ADDR);
	outl(CF8_ADDR, CF8_ENABLE);
	bool ok = inl(CF8_ADDR) == CF8_ENABLE;
	outl(CF8_ADDR, old);
	return ok;
}

static void choose_mechanism(void)
{
	const char *v;
	size_t len;
	bool want_cf8 = cmdline_get("glue.pci.via", &v, &len) && span_eq(v, len, "cf8");
	struct mcfg_entry m;
	bus.via = "none";
	if (!want_cf8 && acpi_mcfg(&m) && m.segment == 0 && m.bus_start == 0 &&
	    mmio_usable(m.base, (uint64_t)(m.bus_end + 1) << 20)) {
		bus.via = "ecam";
		bus.ecam = m.base;
		bus.bus = m.bus_start;
		return;
	}
	uint64_t cba;
	if (!want_cf8 && acpi_pci_cba(&cba) && mmio_usable(cba, 1 << 20)) { /* bus 0 */
		bus.via = "ecam";
		bus.ecam = cba;
		return;
	}
	if (cf8_present())
		bus.via = "cf8";
}

/* ---- BARs ---- */

static void size_bars(struct pci_func *f)
{
	uint16_t cmd = pci_read16(f, PCI_COMMAND);
	pci_write16(f, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
	for (unsigned i = 0; i < 6; i++) {
		unsigned off = PCI_BAR0 + 4 * i;
		uint32_t lo = pci_read32(f, off);
		pci_write32(f, off, 0xffffffff);
		uint32_t mask = pci_read32(f, off);
		pci_write32(f, off, lo);
		struct pci_bar *b = &f->bar[i];
		if (lo & 1) { /* I/O: 16-bit ports */
			uint32_t m = (mask & ~3u) | 0xffff0000u;
			b->io = true;
			b->addr = lo & ~3u;
			b->size = m == 0xffffffffu ? 0 : (uint32_t)(~m + 1);
			continue;
		}
		uint64_t m = mask & ~0xfu;
		b->addr = lo & ~0xfu;
		if (((lo >> 1) & 3) == 2 && i < 5) { /* 64-bit: the next BAR is the high half */
			unsigned hi_off = off + 4;
			uint32_t hi = pci_read32(f, hi_off);
			pci_write32(f, hi_off, 0xffffffff);
			uint32_t mhi = pci_read32(f, hi_off);
			pci_write32(f, hi_off, hi);
			b->is64 = true;
			b->addr |= (uint64_t)hi << 32;
			m |= (uint64_t)mhi << 32;
			b->size = m ? ~m + 1 : 0;
			i++;
			continue;
		}
		b->size = m ? (uint32_t)(~(uint32_t)m + 1) : 0;
	}
	pci_write16(f, PCI_COMMAND, cmd);
}

void pci_bar_move(struct pci_func *f, unsigned i, uint64_t addr)
{
	struct pci_bar *b = &f->bar[i];
	uint16_t cmd = pci_read16(f, PCI_COMMAND);
	pci_write16(f, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
	uint32_t type = pci_read32(f, PCI_BAR0 + 4 * i) & 0xf;
	pci_write32(f, PCI_BAR0 + 4 * i, (uint32_t)addr | type);
	if (b->is64)
		pci_write32(f, PCI_BAR0 + 4 * i + 4, (uint32_t)(addr >> 32));
	b->addr = addr;
	pci_write16(f, PCI_COMMAND, cmd);
}

uint64_t pci_alloc(struct pci_bus *pb, uint64_t size)
{
	if (!pb->windows || size == 0 || (size & (size - 1)))
		return 0;
	uint64_t a = (pb->next_free + size - 1) & ~(size - 1);
	uint64_t end = pb->win[0].base + pb->win[0].size;
	if (a < pb->next_free || a > end || size > end - a || !mmio_usable(a, size))
		return 0;
	pb->next_free = a + size;
	return a;
}

/* Memory windows from the DSDT, and the free space above every BAR. */
static void find_windows(void)
{
	struct aml_res w[4];
	int n = acpi_pci_windows(w, (int)ARRAY_LEN(w));
	for (int i = 0; i < n; i++)
		bus.win[bus.windows++] = (typeof(bus.win[0])){w[i].a, w[i].b};
	if (!bus.windows)
		return;
	bus.next_free = bus.win[0].base;
	for (int k = 0; k < bus.n; k++)
		for (unsigned i = 0; i < 6; i++) {
			struct pci_bar *b = &bus.f[k].bar[i];
			if (!b->io && b->size && b->addr && overlaps(b->addr, b->size, bus.win[0].base, bus.win[0].size) &&
			    b->addr + b->size > bus.next_free)
				bus.next_free = b->addr + b->size;
		}
}

static void place_bars(void)
{
	for (int k = 0; k < bus.n; k++) {
		struct pci_func *f = &bus.f[k];
		bool mem = false, io = false;
		for (unsigned i = 0; i < 6; i++) {
			struct pci_bar *b = &f->bar[i];
			if (!b->size)
				continue;
			if (b->io) {
				io |= b->addr != 0;
				continue;
			}
			if (b->addr == 0) {
				uint64_t a = pci_alloc(&bus, b->size);
				if (!a || (!b->is64 && a + b->size > (1ull << 32))) {
					bus.unplaced++;
					continue;
				}
				pci_bar_move(f, i, a);
				bus.assigned++;
			}
			if (!mmio_usable(b->addr, b->size))
				bus.unusable++;
			mem = true;
		}
		uint16_t cmd = pci_read16(f, PCI_COMMAND);
		if (mem)
			cmd |= PCI_CMD_MEM | PCI_CMD_MASTER;
		if (io)
			cmd |= PCI_CMD_IO | PCI_CMD_MASTER;
		pci_write16(f, PCI_COMMAND, cmd);
	}
}

volatile uint8_t *pci_bar_ptr(const struct pci_func *f, unsigned i, uint64_t off, uint64_t len)
{
	if (i >= 6)
		return NULL;
	const struct pci_bar *b = &f->bar[i];
	if (b->io || !b->size || off > b->size || len > b->size - off || !mmio_usable(b->addr, b->size))
		return NULL;
	return (volatile uint8_t *)(uintptr_t)(b->addr + off);
}

/* ---- capabilities ---- */

static void walk_caps(struct pci_func *f)
{
	if (!(pci_read16(f, PCI_STATUS) & PCI_STATUS_CAPS))
		return;
	uint8_t at = pci_read8(f, PCI_CAP_PTR) & 0xfc;
	uint64_t seen[4] = {0}; /* one bit per dword of the header */
	while (at) {
		if (at < 0x40 || f->caps == MAX_CAPS || (seen[at >> 6] >> (at >> 2 & 15) & 1)) {
			f->caps_bad = true;
			return;
		}
		seen[at >> 6] |= 1ull << (at >> 2 & 15);
		uint8_t id = pci_read8(f, at);
		f->caps++;
		if (id == PCI_CAP_MSIX && !f->msix) {
			uint16_t ctl = pci_read16(f, at + 2);
			uint32_t table = pci_read32(f, at + 4), pba = pci_read32(f, at + 8);
			f->msix = at;
			f->msix_n = (ctl & 0x7ff) + 1;
			f->msix_table_bir = table & 7;
			f->msix_table_off = table & ~7u;
			f->msix_pba_bir = pba & 7;
			f->msix_pba_off = pba & ~7u;
		}
		at = pci_read8(f, at + 1) & 0xfc;
	}
}

/* ---- the scan ---- */

static void add_function(uint8_t d, uint8_t fn, uint32_t id)
{
	if (bus.n == PCI_MAX_FUNCS) {
		bus.dropped++;
		return;
	}
	struct pci_func *f = &bus.f[bus.n++];
	*f = (struct pci_func){.bus = bus.bus, .dev = d, .fn = fn,
			       .vendor = (uint16_t)id, .device = (uint16_t)(id >> 16)};
	f->class = pci_read16(f, PCI_CLASS);
	f->header = pci_read8(f, PCI_HEADER);
	if ((f->header & 0x7f) != 0)
		return; /* bridges and others: not driven */
	f->subsys = pci_read16(f, PCI_SUBSYS_ID);
	f->irq_pin = pci_read8(f, PCI_INT_PIN);
	f->irq_line = pci_read8(f, PCI_INT_LINE);
	size_bars(f);
	walk_caps(f);
}

struct pci_bus *pci_scan(void)
{
	if (scanned)
		return &bus;
	scanned = true;
	choose_mechanism();
	if (bus.via[0] == 'n')
		return &bus;
	for (uint8_t d = 0; d < 32; d++) {
		uint32_t id = raw_read32(bus.bus, d, 0, PCI_VENDOR);
		if ((uint16_t)id == 0xffff || (uint16_t)id == 0)
			continue;
		add_function(d, 0, id);
		struct pci_func probe = {.bus = bus.bus, .dev = d};
		if (!(pci_read8(&probe, PCI_HEADER) & 0x80))
			continue;
		for (uint8_t fn = 1; fn < 8; fn++) {
			id = raw_read32(bus.bus, d, fn, PCI_VENDOR);
			if ((uint16_t)id != 0xffff && (uint16_t)id != 0)
				add_function(d, fn, id);
		}
	}
	find_windows();
	place_bars();
	return &bus;
}

/* ---- MSI-X ---- */

#define MSIX_ENABLE 0x8000
#define MSIX_FMASK  0x4000
#define LAPIC_MSI_BASE 0xfee00000u

static volatile uint32_t *msix_entry(struct pci_func *f, unsigned e)
{
	if (!f->msix || e >= f->msix_n)
		return NULL;
	return (volatile uint32_t *)pci_bar_ptr(f, f->msix_table_bir, f->msix_table_off + 16ull * e, 16);
}

bool msix_enable(struct pci_func *f, bool function_mask)
{
	if (!f->msix || !msix_entry(f, f->msix_n - 1))
		return false;
	uint16_t ctl = pci_read16(f, f->msix + 2) | MSIX_ENABLE;
	ctl = function_mask ? ctl | MSIX_FMASK : ctl & ~MSIX_FMASK;
	pci_write16(f, f->msix + 2, ctl);
	pci_write16(f, PCI_COMMAND, pci_read16(f, PCI_COMMAND) | PCI_CMD_INTX_OFF);
	return true;
}

void msix_function_mask(struct pci_func *f, bool masked)
{
	uint16_t ctl = pci_read16(f, f->msix + 2);
	pci_write16(f, f->msix + 2, masked ? ctl | MSIX_FMASK : ctl & ~MSIX_FMASK);
}

void msix_disable(struct pci_func *f)
{
	if (!f->msix)
		return;
	for (unsigned e = 0; e < f->msix_n; e++)
		msix_mask(f, e, true);
	pci_write16(f, f->msix + 2, pci_read16(f, f->msix + 2) & ~(MSIX_ENABLE | MSIX_FMASK));
	pci_write16(f, PCI_COMMAND, pci_read16(f, PCI_COMMAND) & ~PCI_CMD_INTX_OFF);
}

/* Address: the LAPIC's MSI window with the destination APIC ID in bits
 * 12-19 (physical mode); data: the vector, fixed delivery, edge. */
bool msix_program(struct pci_func *f, unsigned e, uint8_t vector, bool masked)
{
	volatile uint32_t *t = msix_entry(f, e);
	if (!t)
		return false;
	t[3] = 1; /* masked while it changes */
	t[0] = LAPIC_MSI_BASE | (cpu_apic_id() & 0xff) << 12;
	t[1] = 0;
	t[2] = vector;
	t[3] = masked;
	return true;
}

void msix_mask(struct pci_func *f, unsigned e, bool masked)
{
	volatile uint32_t *t = msix_entry(f, e);
	if (t)
		t[3] = masked;
}

bool msix_pending(struct pci_func *f, unsigned e)
{
	volatile uint64_t *pba = (volatile uint64_t *)pci_bar_ptr(f, f->msix_pba_bir,
								   f->msix_pba_off + 8ull * (e / 64), 8);
	return pba && (*pba >> (e % 64) & 1);
}

/* ---- moving BARs (glue.pci.move=) ---- */

static bool is_virtio(const struct pci_func *f)
{
	return f->vendor == 0x1af4 && f->device >= 0x1040 && f->device <= 0x107f;
}

/* A BAR decodes at base: one of its first 16 dwords reads neither zero
 * nor all ones (virtio-pci's common configuration has the device's
 * features there, an MSI-X table its masked vector controls). */
static bool answers(uint64_t base)
{
	for (unsigned i = 0; i < 16; i++) {
		uint32_t v = mmio_read32((uintptr_t)base + 4 * i);
		if (v != 0 && v != 0xffffffffu)
			return true;
	}
	return false;
}

/* glue.pci.move=1: every memory BAR of every virtio-pci function to a new
 * free address in the window; the later device tests then use them there. */
static bool move_bars(struct pci_bus *b)
{
	int moved = 0, fresh = 0;
	for (int k = 0; k < b->n; k++) {
		struct pci_func *f = &b->f[k];
		for (unsigned i = 0; is_virtio(f) && i < 6; i++) {
			struct pci_bar *bar = &f->bar[i];
			if (bar->io || !bar->size || !mmio_usable(bar->addr, bar->size))
				continue;
			uint64_t to = pci_alloc(b, bar->size);
			if (!to) {
				print("GLUE-FAIL pci-move no free room for a 0x%lx-byte BAR in the window\n", bar->size);
				return false;
			}
			pci_bar_move(f, i, to);
			moved++;
			fresh += answers(to);
		}
	}
	print("GLUE-%s pci-move moved=%d answer=%d\n", moved && fresh == moved ? "OK" : "FAIL", moved, fresh);
	return moved && fresh == moved;
}

/* glue.pci.move=ram: the first virtio-pci BAR onto guest RAM (a block
 * of the DMA arena holding a pattern), then back. A VMM must ignore the
 * move; a hostile guest must not get device registers over its RAM. */
static bool move_onto_ram(struct pci_bus *b)
{
	for (int k = 0; k < b->n; k++) {
		struct pci_func *f = &b->f[k];
		for (unsigned i = 0; is_virtio(f) && i < 6; i++) {
			struct pci_bar *bar = &f->bar[i];
			if (bar->io || !bar->size || !mmio_usable(bar->addr, bar->size))
				continue;
			dma_reset();
			uint64_t *ram = bar->size <= 64 * 1024 ? dma_alloc(bar->size, bar->size) : NULL;
			if (!ram) {
				print("GLUE-FAIL pci-move BAR of 0x%lx bytes: no RAM block that size\n", bar->size);
				return false;
			}
			for (uint64_t w = 0; w < bar->size / 8; w++)
				ram[w] = 0x676c75652d72616dull ^ w; /* "glue-ram" */
			uint64_t old = bar->addr;
			pci_bar_move(f, i, (uintptr_t)ram);
			bool old_answers = answers(old), intact = true;
			for (uint64_t w = 0; w < bar->size / 8; w++)
				intact &= ((volatile uint64_t *)ram)[w] == (0x676c75652d72616dull ^ w);
			pci_bar_move(f, i, old);
			bool back = answers(old);
			print("GLUE-%s pci-move target=ram bar=0x%lx ram=0x%lx old-answers=%d ram-intact=%d back=%d\n",
			      intact && back ? "OK" : "FAIL", old, (uint64_t)(uintptr_t)ram, old_answers, intact, back);
			return intact && back;
		}
	}
	print("GLUE-FAIL pci-move no virtio-pci BAR to move\n");
	return false;
}

/* ---- the pci test ---- */

bool test_pci(void)
{
	struct pci_bus *b = pci_scan();
	if (b->via[0] == 'n') {
		print("GLUE-FAIL pci no configuration mechanism (no MCFG, no 0xcf8)\n");
		return false;
	}
	int msix = 0, bad = 0;
	print("GLUE-OK pci devices=%d via=%s ids=", b->n, b->via);
	for (int k = 0; k < b->n; k++) {
		print("%s%04x:%04x", k ? "," : "", b->f[k].vendor, b->f[k].device);
		msix += b->f[k].msix != 0;
		bad += b->f[k].caps_bad;
	}
	print("%s msix=%d assigned=%d", b->n ? "" : "-", msix, b->assigned);
	if (b->dropped)
		print(" dropped=%d", b->dropped);
	if (b->unplaced)
		print(" unplaced=%d", b->unplaced);
	if (b->unusable)
		print(" unusable=%d", b->unusable);
	if (bad)
		print(" caps-bad=%d", bad);
	print("\n");

	const char *v;
	size_t len;
	if (!cmdline_get("glue.pci.move", &v, &len))
		return true;
	if (span_eq(v, len, "1"))
		return move_bars(b);
	if (span_eq(v, len, "ram"))
		return move_onto_ram(b);
	print("GLUE-FAIL pci-move glue.pci.move= wants 1 or ram\n");
	return false;
}
