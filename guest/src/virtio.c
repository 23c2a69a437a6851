/*
 * virtio.c - the device-independent half of the virtio drivers: memory
 * the devices may use, and split virtqueues (virtio 1.2, 2.7).
 *
 * A driver gives the device a chain of descriptors (buffers, linked by
 * .next) by writing the chain's head into the available ring and then
 * advancing avail->idx; the device returns the head through the used ring
 * and advances used->idx. Each driver here owns its descriptor numbers
 * outright (descriptor i is always buffer i), so no free list is needed,
 * and waits by polling used->idx: interrupts stay off.
 */
#include "virtio.h"
#include "io.h"
#include "intr.h"

/*
 * The arena: in the image, but neither in the file nor cleared at boot
 * (guest.ld puts .bss.dma outside .bss), so it costs no boot time. Queue
 * pages are zeroed when handed out; data buffers are written before use.
 */
#define DMA_SIZE (192 * 1024)
static uint8_t dma_arena[DMA_SIZE] __attribute__((section(".bss.dma"), aligned(4096)));
static size_t dma_used;

void dma_reset(void)
{
	dma_used = 0;
}

/* align: a power of two; the address itself is aligned, not just the
 * offset in the arena (the arena is only page-aligned). */
void *dma_alloc(size_t size, size_t align)
{
	uintptr_t base = (uintptr_t)dma_arena;
	size_t at = ((base + dma_used + align - 1) & ~(uintptr_t)(align - 1)) - base;
	if (at > DMA_SIZE || size > DMA_SIZE - at)
		return NULL;
	dma_used = at + size;
	return dma_arena + at;
}

/* Eight bytes per store: a byte loop costs eight times as many emulated
 * instructions on PVM hosts (docs/testing.md). */
void zero_words(void *p, size_t bytes)
{
	uint64_t *w = p;
	for (size_t i = 0; i < bytes / 8; i++)
		w[i] = 0;
}

uint64_t ms_to_tsc(uint64_t ms)
{
	return ms * tsc_khz(false);
}

/* Offers the chain starting at descriptor `head` to the device. The ring
 * entry must be visible before the index that covers it. */
void virtq_push(struct virtq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	barrier();
	q->avail_idx++;
	*(volatile uint16_t *)&q->avail->idx = q->avail_idx;
}

/* Tells the device to look at the queue: one VM exit. */
void virtq_notify(struct virtq *q)
{
	barrier();
	q->dev->ops->notify(q);
}

/*
 * Takes the next used entry, if the device has returned one. The entry
 * is read only after the index that covers it. A queue with an interrupt
 * vector looks at the used ring only after an interrupt on that vector
 * (and then until the ring is empty, as one interrupt may stand for
 * several entries): if interrupts do not arrive, nothing completes, so a
 * passing test proves they were delivered. The window opens only while
 * no interrupt is pending: draining after one must not wait, up to the
 * window's 1 ms backstop, for another that may never come.
 */
bool virtq_pop(struct virtq *q, uint32_t *id, uint32_t *len)
{
	if (q->vector && !q->irq_pending) {
		intr_window();
		uint32_t n = intr_count(q->vector);
		if (n == q->irq_seen)
			return false;
		q->irq_seen = n;
		q->irq_pending = true;
	}
	if (q->used->idx == q->used_seen) {
		q->irq_pending = false;
		return false;
	}
	barrier();
	const volatile struct virtq_used_elem *e = &q->used->ring[q->used_seen & (q->size - 1)];
	*id = e->id;
	*len = e->len;
	q->used_seen++;
	return true;
}

/* Polls for a used entry, up to timeout_ms. */
bool virtq_wait(struct virtq *q, uint32_t *id, uint32_t *len, uint64_t timeout_ms)
{
	uint64_t start = rdtsc(), limit = ms_to_tsc(timeout_ms);
	while (!virtq_pop(q, id, len)) {
		if (rdtsc() - start > limit)
			return false;
		cpu_relax();
	}
	return true;
}

/* With interrupts, the one request in flight must also have brought one:
 * an entry taken on the strength of an earlier interrupt (virtq_pop's
 * draining) does not count until its own has arrived. */
const char *virtq_run(struct virtq *q, uint16_t head, uint32_t *len)
{
	uint32_t id, before = q->vector ? intr_count(q->vector) : 0;
	virtq_push(q, head);
	virtq_notify(q);
	if (!virtq_wait(q, &id, len, VIRTIO_REQ_TIMEOUT_MS))
		return "timeout: the device did not return the request";
	uint64_t start = rdtsc(), limit = ms_to_tsc(VIRTIO_REQ_TIMEOUT_MS);
	while (q->vector && intr_count(q->vector) == before) {
		if (rdtsc() - start > limit)
			return "the device returned the request but sent no interrupt";
		intr_window();
	}
	if (id != head)
		return "the device returned a descriptor that was not submitted";
	return NULL;
}

/* ---- bringing a device up (3.1.1), through the transport's ops ---- */

/* Writing 0 resets the device; it has finished when the status reads 0. */
void virtio_reset(struct virtio_dev *d)
{
	d->ops->set_status(d, 0);
	uint64_t start = rdtsc(), limit = ms_to_tsc(1000);
	while (d->ops->get_status(d) != 0 && rdtsc() - start < limit)
		cpu_relax();
	if (d->ops->stopped)
		d->ops->stopped(d);
}

void virtio_fail(struct virtio_dev *d)
{
	d->ops->set_status(d, d->ops->get_status(d) | VIRTIO_STATUS_FAILED);
	virtio_reset(d);
}

static void add_status(struct virtio_dev *d, uint32_t bits)
{
	d->ops->set_status(d, d->ops->get_status(d) | bits);
}

const char *virtio_init(struct virtio_dev *d, uint64_t want)
{
	const char *err = d->ops->map ? d->ops->map(d) : NULL;
	if (err)
		return err;
	virtio_reset(d);
	if (d->ops->get_status(d) != 0)
		return "the device did not reset (status stays nonzero)";
	if (d->ops->prepare && (err = d->ops->prepare(d))) {
		virtio_fail(d);
		return err;
	}
	d->irqs_at_init = 0;
	d->irqs_at_init = virtio_irqs(d);
	add_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(d, VIRTIO_STATUS_DRIVER);

	uint64_t offered = d->ops->get_features(d);
	if (!(offered & VIRTIO_F_VERSION_1)) {
		virtio_fail(d);
		return "the device does not offer VIRTIO_F_VERSION_1";
	}
	d->features = offered & (want | VIRTIO_F_VERSION_1);
	d->ops->set_features(d, d->features);
	add_status(d, VIRTIO_STATUS_FEATURES_OK);
	if (!(d->ops->get_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_fail(d);
		return "the device did not accept our features (FEATURES_OK cleared)";
	}
	return NULL;
}

/* One 4 KiB page per queue: descriptors at 0 (16 bytes each, up to 64),
 * the available ring at 1024, the used ring at 2048. */
const char *virtq_setup(struct virtio_dev *d, struct virtq *q, uint16_t index, uint16_t size)
{
	bool live = false;
	uint32_t max = d->ops->queue_max(d, index, &live);
	if (live)
		return "a queue is still live after reset";
	if (max == 0)
		return "a queue the driver needs is not available (queue size 0)";
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
	const char *err = d->ops->queue_enable(d, q);
	if (q->vector) { /* the transport gave it an interrupt: ask for them */
		q->avail->flags = 0;
		q->irq_seen = intr_count(q->vector);
	}
	return err;
}

void virtq_poll(struct virtq *q)
{
	q->vector = 0;
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

void virtio_driver_ok(struct virtio_dev *d)
{
	add_status(d, VIRTIO_STATUS_DRIVER_OK);
	if (d->ops->started)
		d->ops->started(d);
}

/* ---- configuration space ---- */

uint8_t virtio_cfg8(struct virtio_dev *d, unsigned off)
{
	return d->config[off];
}

uint32_t virtio_cfg32(struct virtio_dev *d, unsigned off)
{
	return *(volatile uint32_t *)(d->config + off);
}

/* Two 32-bit reads; the configuration generation tells if the device
 * changed the field in between (2.5.1), then we read again. */
uint64_t virtio_cfg64(struct virtio_dev *d, unsigned off)
{
	uint64_t v;
	for (int tries = 0;; tries++) {
		uint32_t gen = d->ops->config_gen(d);
		v = virtio_cfg32(d, off) | (uint64_t)virtio_cfg32(d, off + 4) << 32;
		if (gen == d->ops->config_gen(d) || tries == 10)
			return v;
	}
}

static const char *const intr_names[] = {"poll", "msix", "intx"};

/* The interrupts on the device's vectors since virtio_init. */
uint32_t virtio_irqs(struct virtio_dev *d)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < d->vectors; i++)
		n += intr_count((uint8_t)(d->vector_base + i));
	return n - d->irqs_at_init;
}

void virtio_print_transport(struct virtio_dev *d)
{
	print(" transport=%s intr=%s irqs=%u", d->ops->name, intr_names[d->intr], virtio_irqs(d));
}
