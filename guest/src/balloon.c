/*
 * balloon.c - the virtio memory balloon (virtio 1.2, 5.5) and the balloon
 * test.
 *
 * Queues: inflateq 0 and deflateq 1 take arrays of 32-bit page frame
 * numbers (4 KiB pages); then statsq if VIRTIO_BALLOON_F_STATS_VQ was
 * negotiated and reporting_vq if VIRTIO_BALLOON_F_PAGE_REPORTING was, in
 * that order (the numbering Linux uses). Configuration: le32 num_pages,
 * the host's target; le32 actual, what the driver holds.
 *
 * The test first touches every page of RAM above the image (one word per
 * page, its own address scrambled), so that the host has to back all of
 * it. It reports statistics, and reports one free 2 MiB block, which the
 * host must discard (the block reads zeros when it comes back). Without
 * glue.balloon.follow=1 that is all. With it, the test follows the
 * host's target: it gives up the highest pages it touched, 256 per
 * request, announces "GLUE-BALLOON actual=N" each time it reaches the
 * target, and answers the host's requests for statistics; when the target
 * goes down it takes pages back, checks that each reads zero (the host
 * really discarded it) and touches it again. It ends, with one GLUE-OK
 * line, once it has given pages up and taken them all back, or fails
 * after glue.balloon.timeout seconds (default 300).
 */
#include "virtio.h"
#include "io.h"

#define VIRTIO_ID_BALLOON 5
#define F_STATS_VQ        (1ull << 1)
#define F_DEFLATE_ON_OOM  (1ull << 2)
#define F_PAGE_REPORTING  (1ull << 5)

#define CFG_NUM_PAGES 0
#define CFG_ACTUAL    4

#define PAGE      4096ull
#define BATCH     256 /* page numbers per request, as Linux sends them */
#define REPORT    (2ull << 20)
#define MAX_RANGES 32

/* Stats tags (5.5.6.3). */
#define S_SWAP_IN  0
#define S_SWAP_OUT 1
#define S_MAJFLT   2
#define S_MINFLT   3
#define S_MEMFREE  4
#define S_MEMTOT   5
#define S_AVAIL    6
#define N_STATS    7

struct balloon_stat {
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

extern char __image_end[]; /* guest.ld */

/* The pages the test may use: RAM above the image, as ranges; page i of
 * all of them in order is page_addr(i). */
static struct {
	uint64_t base, pages;
} ranges[MAX_RANGES];
static int n_ranges;
static uint64_t total_pages;

static uint64_t page_addr(uint64_t i)
{
	for (int r = 0; r < n_ranges; r++) {
		if (i < ranges[r].pages)
			return ranges[r].base + i * PAGE;
		i -= ranges[r].pages;
	}
	return 0; /* not reached: i < total_pages */
}

static uint64_t pattern(uint64_t a)
{
	return a ^ 0x5a5aa5a5c3c33c3cull;
}

static void find_ranges(void)
{
	uint64_t low = ((uintptr_t)__image_end + PAGE - 1) & ~(PAGE - 1);
	n_ranges = 0;
	total_pages = 0;
	for (int i = 0; i < boot.memmap_n && n_ranges < MAX_RANGES; i++) {
		const struct memmap_entry *e = &boot.memmap[i];
		if (e->type != E820_RAM)
			continue;
		uint64_t start = (e->addr + PAGE - 1) & ~(PAGE - 1);
		uint64_t end = (e->addr + e->size) & ~(PAGE - 1);
		if (start < low)
			start = low;
		if (end > mapped_top)
			end = mapped_top;
		if (end <= start)
			continue;
		ranges[n_ranges].base = start;
		ranges[n_ranges].pages = (end - start) / PAGE;
		total_pages += ranges[n_ranges].pages;
		n_ranges++;
	}
}

static void touch(uint64_t addr)
{
	*(volatile uint64_t *)(uintptr_t)addr = pattern(addr);
}

static bool touched(uint64_t addr)
{
	return *(volatile uint64_t *)(uintptr_t)addr == pattern(addr);
}

static bool is_zero(uint64_t addr)
{
	return *(volatile uint64_t *)(uintptr_t)addr == 0;
}

struct balloon {
	struct virtio_dev *d;
	struct virtq inflate, deflate, stats, report;
	bool has_stats, has_report;
	uint32_t *pfns;            /* BATCH page numbers for one request */
	struct balloon_stat *stat; /* N_STATS entries */
	uint32_t actual;           /* pages in the balloon: the top ones */
	uint64_t stats_sent, minor;
};

static void send_stats(struct balloon *b)
{
	uint64_t free = (total_pages - b->actual) * PAGE;
	const uint64_t vals[N_STATS] = {
		[S_SWAP_IN] = 0, [S_SWAP_OUT] = 0, [S_MAJFLT] = 0, [S_MINFLT] = b->minor,
		[S_MEMFREE] = free, [S_MEMTOT] = total_pages * PAGE, [S_AVAIL] = free,
	};
	for (int i = 0; i < N_STATS; i++)
		b->stat[i] = (struct balloon_stat){(uint16_t)i, vals[i]};
	b->stats.desc[0] = (struct virtq_desc){(uintptr_t)b->stat, N_STATS * sizeof(struct balloon_stat), 0, 0};
	virtq_push(&b->stats, 0);
	virtq_notify(&b->stats);
	b->stats_sent++;
}

/* The host returned the statistics buffer: it wants fresh numbers. */
static void serve_stats(struct balloon *b)
{
	uint32_t id, len;
	if (b->has_stats && virtq_pop(&b->stats, &id, &len))
		send_stats(b);
}

/* Sends the n page numbers in b->pfns on q and waits for the device. */
static const char *send_pfns(struct balloon *b, struct virtq *q, uint32_t n)
{
	uint32_t len;
	q->desc[0] = (struct virtq_desc){(uintptr_t)b->pfns, n * 4, 0, 0};
	return virtq_run(q, 0, &len);
}

/* Reports one free 2 MiB block (the lowest aligned one we may use) and
 * checks the host discarded it; returns the pages reported. */
static const char *report_free(struct balloon *b, uint64_t *reported)
{
	*reported = 0;
	if (!b->has_report || n_ranges == 0)
		return NULL;
	uint64_t start = (ranges[0].base + REPORT - 1) & ~(REPORT - 1);
	uint64_t end = ranges[0].base + ranges[0].pages * PAGE;
	if (start + REPORT > end || (start + REPORT - ranges[0].base) / PAGE > total_pages / 4)
		return NULL; /* not enough memory to spare a block below the balloon */
	uint32_t len;
	b->report.desc[0] = (struct virtq_desc){start, (uint32_t)REPORT, VIRTQ_DESC_F_WRITE, 0};
	const char *err = virtq_run(&b->report, 0, &len);
	if (err)
		return err;
	for (uint64_t a = start; a < start + REPORT; a += PAGE) {
		if (!is_zero(a))
			return "a reported free page was not discarded (it kept its contents)";
		touch(a);
	}
	*reported = REPORT / PAGE;
	return NULL;
}

static const char *setup(struct balloon *b)
{
	const char *err = virtio_init(b->d, F_STATS_VQ | F_DEFLATE_ON_OOM | F_PAGE_REPORTING);
	b->has_stats = b->d->features & F_STATS_VQ;
	b->has_report = b->d->features & F_PAGE_REPORTING;
	uint16_t next = 2;
	if (!err)
		err = virtq_setup(b->d, &b->inflate, 0, 8);
	if (!err)
		err = virtq_setup(b->d, &b->deflate, 1, 8);
	if (!err && b->has_stats)
		err = virtq_setup(b->d, &b->stats, next++, 8);
	if (!err && b->has_report)
		err = virtq_setup(b->d, &b->report, next++, 8);
	b->pfns = dma_alloc(BATCH * 4, 16);
	b->stat = dma_alloc(N_STATS * sizeof(struct balloon_stat), 16);
	if (!err && (!b->pfns || !b->stat))
		err = "out of DMA memory";
	return err;
}

struct follow_result {
	uint64_t inflated, deflated, zeroed, retouched;
};

/* Moves the balloon one request toward target. */
static const char *step(struct balloon *b, uint32_t target, struct follow_result *r)
{
	if (target > b->actual) {
		uint32_t n = target - b->actual < BATCH ? target - b->actual : BATCH;
		for (uint32_t i = 0; i < n; i++)
			b->pfns[i] = (uint32_t)(page_addr(total_pages - b->actual - 1 - i) / PAGE);
		const char *err = send_pfns(b, &b->inflate, n);
		if (err)
			return err;
		b->actual += n;
		r->inflated += n;
	} else {
		uint32_t n = b->actual - target < BATCH ? b->actual - target : BATCH;
		for (uint32_t i = 0; i < n; i++)
			b->pfns[i] = (uint32_t)(page_addr(total_pages - b->actual + i) / PAGE);
		const char *err = send_pfns(b, &b->deflate, n);
		if (err)
			return err;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t a = (uint64_t)b->pfns[i] * PAGE;
			r->zeroed += is_zero(a);
			touch(a);
			r->retouched += touched(a);
			b->minor++;
		}
		b->actual -= n;
		r->deflated += n;
	}
	*(volatile uint32_t *)(b->d->config + CFG_ACTUAL) = b->actual;
	return NULL;
}

/* Follows the host's target until pages went out and all came back. */
static const char *follow(struct balloon *b, struct follow_result *r)
{
	uint64_t timeout_s = 300;
	if (!cmdline_num("glue.balloon.timeout", 86400, &timeout_s))
		return "glue.balloon.timeout= wants seconds";
	uint64_t start = rdtsc(), limit = ms_to_tsc(timeout_s * 1000);
	uint32_t announced = 0;
	print("GLUE-READY balloon pages=%lu\n", total_pages);
	for (;;) {
		if (rdtsc() - start > limit)
			return "timeout: the target did not go up and back down to 0";
		serve_stats(b);
		uint32_t target = virtio_cfg32(b->d, CFG_NUM_PAGES);
		if (target > total_pages)
			target = (uint32_t)total_pages;
		if (target != b->actual) {
			const char *err = step(b, target, r);
			if (err)
				return err;
			continue;
		}
		if (b->actual != announced) {
			print("GLUE-BALLOON actual=%u\n", b->actual);
			announced = b->actual;
		}
		if (b->actual == 0 && r->inflated > 0)
			return NULL;
		delay_us(2000);
	}
}

bool test_balloon(void)
{
	static struct balloon b;
	struct follow_result r = {0};
	uint64_t follow_on = 0, reported = 0;

	b = (struct balloon){.d = virtio_find(VIRTIO_ID_BALLOON, 0)};
	if (!b.d) {
		virtio_missing("balloon", "virtio-balloon");
		return false;
	}
	const char *err = NULL;
	if (!cmdline_num("glue.balloon.follow", 1, &follow_on))
		err = "glue.balloon.follow= wants 0 or 1";
	dma_reset();
	find_ranges();
	if (!err)
		err = setup(&b);
	if (err) {
		print("GLUE-FAIL balloon %s\n", err);
		virtio_fail(b.d);
		return false;
	}
	virtio_driver_ok(b.d);
	for (uint64_t i = 0; i < total_pages; i++)
		touch(page_addr(i));
	if (b.has_stats)
		send_stats(&b);
	err = report_free(&b, &reported);
	if (!err && follow_on)
		err = follow(&b, &r);
	if (!err && r.zeroed != r.inflated)
		err = "pages given up still had their contents when taken back: the host did not discard them";
	if (!err && r.retouched != r.deflated)
		err = "a page taken back did not keep what was written to it";
	uint32_t target = virtio_cfg32(b.d, CFG_NUM_PAGES);
	virtio_reset(b.d);
	if (err) {
		print("GLUE-FAIL balloon pages=%lu actual=%u inflated=%lu deflated=%lu: %s\n",
		      total_pages, b.actual, r.inflated, r.deflated, err);
		return false;
	}
	print("GLUE-OK balloon pages=%lu target=%u inflated=%lu deflated=%lu zeroed=%lu retouched=%lu reported=%lu stats=%lu features=0x%lx",
	      total_pages, target, r.inflated, r.deflated, r.zeroed, r.retouched, reported, b.stats_sent,
	      (unsigned long)(b.d->features & (F_STATS_VQ | F_DEFLATE_ON_OOM | F_PAGE_REPORTING)));
	virtio_print_transport(b.d);
	print("\n");
	return true;
}
