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
 * identity map are ignored; at most VIRTIO_MAX_DEVS are kept.
 *
 * Each window is probed: MagicValue "virt", Version 2 (1 is the legacy
 * interface: counted and skipped), DeviceID (0: an empty slot). Then
 * virtio_init and virtq_setup do what 3.1.1 and 4.2.3 ask of a driver.
 */
#include "virtio.h"
#include "io.h"

static struct virtio_list list;
static int ignored; /* malformed or unusable command-line entries */
static bool probed;

uint32_t vreg_read(struct virtio_dev *d, unsigned reg)
{
	return mmio_read32(d->base + reg);
}

void vreg_write(struct virtio_dev *d, unsigned reg, uint32_t v)
{
	mmio_write32(d->base + reg, v);
}

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

const struct virtio_list *virtio_probe(void)
{
	const char *cursor = NULL, *v;
	size_t len;

	if (probed)
		return &list;
	probed = true;
	while (cmdline_next("virtio_mmio.device", &cursor, &v, &len)) {
		uint64_t size, base, irq;
		if (list.n == VIRTIO_MAX_DEVS || !parse_entry(v, len, &size, &base, &irq) ||
		    !usable_window(base, size)) {
			ignored++;
			continue;
		}
		struct virtio_dev *d = &list.dev[list.n++];
		*d = (struct virtio_dev){.base = (uintptr_t)base, .size = size, .irq = (uint32_t)irq};
		probe_window(d);
	}
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

/* ---- configuration space ---- */

uint8_t virtio_cfg8(struct virtio_dev *d, unsigned off)
{
	return *(volatile uint8_t *)(d->base + VIRTIO_MMIO_CONFIG + off);
}

uint32_t virtio_cfg32(struct virtio_dev *d, unsigned off)
{
	return mmio_read32(d->base + VIRTIO_MMIO_CONFIG + off);
}

/* Two 32-bit reads; ConfigGeneration tells if the device changed the
 * field in between (2.5.1), then we read again. */
uint64_t virtio_cfg64(struct virtio_dev *d, unsigned off)
{
	uint64_t v;
	for (int tries = 0;; tries++) {
		uint32_t gen = vreg_read(d, VIRTIO_MMIO_CONFIG_GEN);
		v = virtio_cfg32(d, off) | (uint64_t)virtio_cfg32(d, off + 4) << 32;
		if (gen == vreg_read(d, VIRTIO_MMIO_CONFIG_GEN) || tries == 10)
			return v;
	}
}

/* ---- bringing a device up (3.1.1) ---- */

/* Writing 0 resets the device; it has finished when Status reads 0. */
void virtio_reset(struct virtio_dev *d)
{
	vreg_write(d, VIRTIO_MMIO_STATUS, 0);
	uint64_t start = rdtsc(), limit = ms_to_tsc(1000);
	while (vreg_read(d, VIRTIO_MMIO_STATUS) != 0 && rdtsc() - start < limit)
		cpu_relax();
}

void virtio_fail(struct virtio_dev *d)
{
	vreg_write(d, VIRTIO_MMIO_STATUS, vreg_read(d, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_FAILED);
	virtio_reset(d);
}

static void add_status(struct virtio_dev *d, uint32_t bits)
{
	vreg_write(d, VIRTIO_MMIO_STATUS, vreg_read(d, VIRTIO_MMIO_STATUS) | bits);
}

const char *virtio_init(struct virtio_dev *d, uint64_t want)
{
	virtio_reset(d);
	if (vreg_read(d, VIRTIO_MMIO_STATUS) != 0)
		return "the device did not reset (Status stays nonzero)";
	add_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(d, VIRTIO_STATUS_DRIVER);

	vreg_write(d, VIRTIO_MMIO_DEV_FEAT_SEL, 0);
	uint64_t offered = vreg_read(d, VIRTIO_MMIO_DEV_FEATURES);
	vreg_write(d, VIRTIO_MMIO_DEV_FEAT_SEL, 1);
	offered |= (uint64_t)vreg_read(d, VIRTIO_MMIO_DEV_FEATURES) << 32;
	if (!(offered & VIRTIO_F_VERSION_1)) {
		virtio_fail(d);
		return "the device does not offer VIRTIO_F_VERSION_1";
	}

	d->features = offered & (want | VIRTIO_F_VERSION_1);
	vreg_write(d, VIRTIO_MMIO_DRV_FEAT_SEL, 0);
	vreg_write(d, VIRTIO_MMIO_DRV_FEATURES, (uint32_t)d->features);
	vreg_write(d, VIRTIO_MMIO_DRV_FEAT_SEL, 1);
	vreg_write(d, VIRTIO_MMIO_DRV_FEATURES, (uint32_t)(d->features >> 32));
	add_status(d, VIRTIO_STATUS_FEATURES_OK);
	if (!(vreg_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_fail(d);
		return "the device did not accept our features (FEATURES_OK cleared)";
	}
	return NULL;
}

static void write64(struct virtio_dev *d, unsigned reg, const volatile void *p)
{
	vreg_write(d, reg, (uint32_t)(uintptr_t)p);
	vreg_write(d, reg + 4, (uint32_t)((uintptr_t)p >> 32));
}

/* One 4 KiB page per queue: descriptors at 0 (16 bytes each, up to 64),
 * the available ring at 1024, the used ring at 2048. */
const char *virtq_setup(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t size)
{
	vreg_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (vreg_read(d, VIRTIO_MMIO_QUEUE_READY))
		return "a queue is still live after reset";
	uint32_t max = vreg_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		return "a queue the driver needs is not available (QueueNumMax 0)";
	uint16_t n = 1;
	while (n * 2 <= size && n * 2 <= max && n * 2 <= VIRTQ_MAX_SIZE)
		n *= 2;

	uint8_t *page = dma_alloc(4096, 4096);
	if (!page)
		return "out of DMA memory";
	zero_words(page, 4096);
	*q = (struct virtq){
		.dev = d,
		.index = index,
		.size = n,
		.desc = (struct virtq_desc *)page,
		.avail = (struct virtq_avail *)(page + 1024),
		.used = (volatile struct virtq_used *)(page + 2048),
	};
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

	vreg_write(d, VIRTIO_MMIO_QUEUE_NUM, n);
	write64(d, VIRTIO_MMIO_QUEUE_DESC, q->desc);
	write64(d, VIRTIO_MMIO_QUEUE_DRIVER, q->avail);
	write64(d, VIRTIO_MMIO_QUEUE_DEVICE, q->used);
	vreg_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	return NULL;
}

void virtio_driver_ok(struct virtio_dev *d)
{
	add_status(d, VIRTIO_STATUS_DRIVER_OK);
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
	if (ignored)
		print(" ignored=%d", ignored);
	print("\n");
	return true;
}
