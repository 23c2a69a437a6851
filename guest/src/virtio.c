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

void *dma_alloc(size_t size, size_t align)
{
	size_t at = (dma_used + align - 1) & ~(align - 1);
	if (at > DMA_SIZE || size > DMA_SIZE - at)
		return NULL;
	dma_used = at + size;
	return dma_arena + at;
}

/* Eight bytes per store: a byte loop costs eight times as many emulated
 * instructions on the hosts of KVM-HOST.md. */
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
	vreg_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/* Takes the next used entry, if the device has returned one. The entry
 * is read only after the index that covers it. */
bool virtq_pop(struct virtq *q, uint32_t *id, uint32_t *len)
{
	if (q->used->idx == q->used_seen)
		return false;
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

const char *virtq_run(struct virtq *q, uint16_t head, uint32_t *len)
{
	uint32_t id;
	virtq_push(q, head);
	virtq_notify(q);
	if (!virtq_wait(q, &id, len, VIRTIO_REQ_TIMEOUT_MS))
		return "timeout: the device did not return the request";
	if (id != head)
		return "the device returned a descriptor that was not submitted";
	return NULL;
}
