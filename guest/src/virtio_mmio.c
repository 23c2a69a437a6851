/*
 * virtio_mmio.c - finding virtio-mmio devices and bringing them up.
 *
 * The VMM describes each device on the kernel command line, as for Linux
 * (drivers/virtio/virtio_mmio.c):
 *
 *     virtio_mmio.device=<size>@<base>:<irq>[:<id>]
 *
 * size and base as Linux's memparse reads them (0x... hex, 0... octal,
 * else decimal; size may end in K, M or G), irq decimal; the id is
 * ignored. glue puts its devices at 0xd0000000 + n * 0x1000; QEMU's microvm
 * (with acpi=off) at 0xfeb00000 + n * 0x200. Malformed entries, windows
 * that are too small, overlap RAM or another window, or lie outside the
 * identity map are ignored; at most VIRTIO_MMIO_MAX are kept.
 *
 * Without any such word, the windows come from the DSDT instead: each
 * LNRO0005 device's Memory32Fixed and interrupt (aml.c), as Linux's
 * virtio_mmio driver finds them under ACPI. Then the virtio-pci functions
 * (virtio_pci.c) are added after them.
 *
 * Each window is probed: MagicValue "virt", Version 2 (1 is the legacy
 * interface: counted and skipped), DeviceID (0: an empty slot). Then
 * virtio_init and virtq_setup do what 3.1.1 and 4.2.3 ask of a driver.
 */
#include "virtio.h"
#include "io.h"
#include "aml.h"

static struct virtio_list list;
static bool probed;

/* ---- the transport's registers (4.2.2) ---- */

static uint32_t vreg_read(struct virtio_dev *d, unsigned reg)
{
	return mmio_read32(d->base + reg);
}

static void vreg_write(struct virtio_dev *d, unsigned reg, uint32_t v)
{
	mmio_write32(d->base + reg, v);
}

static uint32_t mmio_get_status(struct virtio_dev *d)
{
	return vreg_read(d, VIRTIO_MMIO_STATUS);
}

static void mmio_set_status(struct virtio_dev *d, uint32_t status)
{
	vreg_write(d, VIRTIO_MMIO_STATUS, status);
}

static uint64_t mmio_get_features(struct virtio_dev *d)
{
	vreg_write(d, VIRTIO_MMIO_DEV_FEAT_SEL, 0);
	uint64_t f = vreg_read(d, VIRTIO_MMIO_DEV_FEATURES);
	vreg_write(d, VIRTIO_MMIO_DEV_FEAT_SEL, 1);
	return f | (uint64_t)vreg_read(d, VIRTIO_MMIO_DEV_FEATURES) << 32;
}

static void mmio_set_features(struct virtio_dev *d, uint64_t f)
{
	vreg_write(d, VIRTIO_MMIO_DRV_FEAT_SEL, 0);
	vreg_write(d, VIRTIO_MMIO_DRV_FEATURES, (uint32_t)f);
	vreg_write(d, VIRTIO_MMIO_DRV_FEAT_SEL, 1);
	vreg_write(d, VIRTIO_MMIO_DRV_FEATURES, (uint32_t)(f >> 32));
}

static uint32_t mmio_queue_max(struct virtio_dev *d, uint16_t index, bool *live)
{
	vreg_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	*live = vreg_read(d, VIRTIO_MMIO_QUEUE_READY) != 0;
	return vreg_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

static void write64(struct virtio_dev *d, unsigned reg, const volatile void *p)
{
	vreg_write(d, reg, (uint32_t)(uintptr_t)p);
	vreg_write(d, reg + 4, (uint32_t)((uintptr_t)p >> 32));
}

static const char *mmio_queue_enable(struct virtio_dev *d, struct virtq *q)
{
	vreg_write(d, VIRTIO_MMIO_QUEUE_SEL, q->index);
	vreg_write(d, VIRTIO_MMIO_QUEUE_NUM, q->size);
	write64(d, VIRTIO_MMIO_QUEUE_DESC, q->desc);
	write64(d, VIRTIO_MMIO_QUEUE_DRIVER, q->avail);
	write64(d, VIRTIO_MMIO_QUEUE_DEVICE, q->used);
	vreg_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return NULL;
}

static void mmio_notify(struct virtq *q)
{
	vreg_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

static uint32_t mmio_config_gen(struct virtio_dev *d)
{
	return vreg_read(d, VIRTIO_MMIO_CONFIG_GEN);
}

static const struct virtio_ops mmio_ops = {
	.name = "mmio",
	.get_status = mmio_get_status,
	.set_status = mmio_set_status,
	.get_features = mmio_get_features,
	.set_features = mmio_set_features,
	.queue_max = mmio_queue_max,
	.queue_enable = mmio_queue_enable,
	.notify = mmio_notify,
	.config_gen = mmio_config_gen,
};

/* ---- the command line ---- */

/* Reads a number at *s (before end) as memparse does, advancing *s. */
static bool parse_num(const char **s, const char *end, bool suffix, uint64_t *out)
{
	const char *p = *s;
	unsigned base = 10;
	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (end - p > 1 && p[0] == '0' && p[1] >= '0' && p[1] <= '7') {
		base = 8;
	}
	const char *digits = p;
	uint64_t v = 0;
	for (int d; p < end && (d = hex_digit(*p)) >= 0 && (unsigned)d < base; p++) {
		if (v > (UINT64_MAX - (unsigned)d) / base)
			return false;
		v = v * base + (unsigned)d;
	}
	if (p == digits)
		return false;
	if (suffix && p < end) {
		int shift = 0;
		switch (*p) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		}
		if (shift) {
			if (v > UINT64_MAX >> shift)
				return false;
			v <<= shift;
			p++;
		}
	}
	*s = p;
	*out = v;
	return true;
}

/* "<size>@<base>:<irq>[:<id>]", all of it. */
static bool parse_entry(const char *s, size_t len, uint64_t *size, uint64_t *base, uint64_t *irq)
{
	const char *end = s + len;
	uint64_t id;
	if (!parse_num(&s, end, true, size) || s == end || *s++ != '@' ||
	    !parse_num(&s, end, false, base) || s == end || *s++ != ':' ||
	    !parse_num(&s, end, false, irq) || *irq > UINT32_MAX)
		return false;
	if (s < end && (*s++ != ':' || !parse_num(&s, end, false, &id)))
		return false;
	return s == end;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* A window we may touch: big enough, mapped, clear of RAM and the others. */
static bool usable_window(uint64_t base, uint64_t size)
{
	if (size < VIRTIO_MMIO_MIN_SIZE || base == 0 || (base & 3) ||
	    base >= mapped_top || size > mapped_top - base)
		return false;
	for (int i = 0; i < boot.memmap_n; i++)
		if (boot.memmap[i].type == E820_RAM &&
		    overlaps(base, size, boot.memmap[i].addr, boot.memmap[i].size))
			return false;
	for (int i = 0; i < list.n; i++)
		if (overlaps(base, size, list.dev[i].base, list.dev[i].size))
			return false;
	return true;
}

static void probe_window(struct virtio_dev *d)
{
	d->version = 0;
	d->id = 0;
	if (vreg_read(d, VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE) {
		list.bad++;
		return;
	}
	d->version = vreg_read(d, VIRTIO_MMIO_VERSION);
	if (d->version == 1) {
		list.legacy++;
		return;
	}
	if (d->version != 2) {
		list.bad++;
		return;
	}
	d->id = vreg_read(d, VIRTIO_MMIO_DEVICE_ID);
	if (d->id == 0)
		list.empty++;
}

static void add_window(uint64_t base, uint64_t size, uint64_t irq)
{
	if (list.n == VIRTIO_MMIO_MAX || !usable_window(base, size) || irq > UINT32_MAX) {
		list.ignored++;
		return;
	}
	struct virtio_dev *d = &list.dev[list.n++];
	*d = (struct virtio_dev){.ops = &mmio_ops, .base = (uintptr_t)base, .size = size,
				 .irq = (uint32_t)irq,
				 .config = (volatile uint8_t *)(uintptr_t)base + VIRTIO_MMIO_CONFIG};
	probe_window(d);
}

/* Without virtio_mmio.device= words, the DSDT's LNRO0005 devices (where
 * glue with ACPI, and QEMU's microvm with acpi=on, announce them). */
static void probe_dsdt(void)
{
	struct aml_res mem[VIRTIO_MMIO_MAX], irq[VIRTIO_MMIO_MAX];
	int n = acpi_virtio_mmio(mem, irq, VIRTIO_MMIO_MAX);
	if (n)
		list.mmio_from = "dsdt";
	for (int i = 0; i < n; i++) {
		if (mem[i].kind != AML_RES_MEM) {
			list.ignored++;
			continue;
		}
		add_window(mem[i].a, mem[i].b, irq[i].a);
	}
}

const struct virtio_list *virtio_probe(void)
{
	const char *cursor = NULL, *v;
	size_t len;

	if (probed)
		return &list;
	probed = true;
	while (cmdline_next("virtio_mmio.device", &cursor, &v, &len)) {
		uint64_t size, base, irq;
		list.mmio_from = "cmdline";
		if (!parse_entry(v, len, &size, &base, &irq)) {
			list.ignored++;
			continue;
		}
		add_window(base, size, irq);
	}
	if (!list.mmio_from)
		probe_dsdt();
	virtio_pci_probe(&list);
	return &list;
}

struct virtio_dev *virtio_find(uint32_t id, int nth)
{
	virtio_probe();
	for (int i = 0; i < list.n; i++)
		if (list.dev[i].version == 2 && list.dev[i].id == id && nth-- == 0)
			return &list.dev[i];
	return NULL;
}

int virtio_count(uint32_t id)
{
	int n = 0;
	while (virtio_find(id, n))
		n++;
	return n;
}

void virtio_missing(const char *test, const char *what)
{
	virtio_probe();
	print("GLUE-FAIL %s no %s device", test, what);
	if (list.legacy)
		print(" (%d legacy virtio-mmio device(s) skipped: only version 2 is driven)", list.legacy);
	print("\n");
}

/* ---- the virtio test: what is there ---- */

bool test_virtio(void)
{
	char ids[VIRTIO_MAX_DEVS * 11 + 2] = "-";
	size_t at = 0;
	int n = 0;

	virtio_probe();
	for (int i = 0; i < list.n; i++) {
		if (list.dev[i].version != 2 || list.dev[i].id == 0)
			continue;
		char num[11];
		int k = 0;
		for (uint32_t v = list.dev[i].id; k == 0 || v; v /= 10)
			num[k++] = (char)('0' + v % 10);
		if (n++)
			ids[at++] = ',';
		while (k)
			ids[at++] = num[--k];
		ids[at] = '\0';
	}
	print("GLUE-OK virtio devices=%d ids=%s", n, ids);
	if (list.legacy)
		print(" legacy=%d", list.legacy);
	if (list.empty)
		print(" empty=%d", list.empty);
	if (list.bad)
		print(" bad=%d", list.bad);
	if (list.ignored)
		print(" ignored=%d", list.ignored);
	if (list.pci)
		print(" pci=%d", list.pci);
	if (list.pci_bad)
		print(" pci-bad=%d", list.pci_bad);
	if (list.pci_legacy)
		print(" pci-legacy=%d", list.pci_legacy);
	if (list.mmio_from && list.mmio_from[0] == 'd')
		print(" mmio-from=dsdt");
	print("\n");
	return true;
}
