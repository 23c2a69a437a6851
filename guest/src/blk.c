/*
 * blk.c - a polled virtio-blk driver (virtio 1.2, 5.2) and its tests.
 *
 * One request at a time on queue 0, as a chain of descriptors:
 *
 *   header {u32 type, u32 reserved, u64 sector}   device reads
 *   data, in one or more segments                 device reads (write) or writes (read)
 *   status, one byte: 0 OK, 1 IOERR, 2 UNSUPP     device writes
 *
 * Sectors are 512 bytes whatever the device's block size. Config space:
 * 0 u64 capacity (sectors), 8 u32 size_max (bytes per segment, with
 * F_SIZE_MAX), 12 u32 seg_max (segments per request, with F_SEG_MAX),
 * 20 u32 blk_size (with F_BLK_SIZE).
 */
#include "virtio.h"
#include "io.h"

#define BLK_F_SIZE_MAX (1ull << 1)
#define BLK_F_SEG_MAX  (1ull << 2)
#define BLK_F_RO       (1ull << 5)
#define BLK_F_BLK_SIZE (1ull << 6)
#define BLK_F_FLUSH    (1ull << 9)

#define BLK_T_IN     0 /* read */
#define BLK_T_OUT    1 /* write */
#define BLK_T_FLUSH  4
#define BLK_T_GET_ID 8

#define BLK_S_OK     0
#define BLK_S_IOERR  1
#define BLK_S_UNSUPP 2

#define SECTOR     512
#define BUF_SIZE   (64 * 1024) /* the largest request we make */
#define QUEUE_SIZE 16
#define ID_BYTES   20

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
	uint8_t status; /* its own descriptor, device-writable */
};

struct blk {
	struct virtio_dev *dev;
	struct virtq q;
	struct blk_req *req;  /* DMA */
	uint8_t *buf;         /* DMA, BUF_SIZE bytes */
	uint64_t capacity;    /* in 512-byte sectors */
	uint32_t unit;        /* sectors per logical block (blk_size / 512) */
	uint32_t seg_bytes;   /* the most one data descriptor may hold */
	uint32_t max_segs;    /* the most data descriptors in one request */
	uint32_t max_bytes;   /* the most one request may move */
	const char *error;    /* why the last request failed */
};

static const char *blk_open(struct blk *b, struct virtio_dev *d)
{
	const char *err = virtio_init(d, BLK_F_SIZE_MAX | BLK_F_SEG_MAX | BLK_F_RO |
					      BLK_F_BLK_SIZE | BLK_F_FLUSH);
	if (err)
		return err;
	*b = (struct blk){.dev = d, .unit = 1, .seg_bytes = BUF_SIZE};
	if ((err = virtq_setup(d, &b->q, 0, QUEUE_SIZE)))
		return err;
	if (b->q.size < 4)
		return "queue too small (QueueNumMax < 4)";
	b->req = dma_alloc(sizeof(*b->req), 16);
	b->buf = dma_alloc(BUF_SIZE, 4096);
	if (!b->req || !b->buf)
		return "out of DMA memory";

	b->capacity = virtio_cfg64(d, 0);
	if (d->features & BLK_F_BLK_SIZE) {
		uint32_t bs = virtio_cfg32(d, 20);
		if (bs > SECTOR && bs <= 4096 && (bs & (bs - 1)) == 0)
			b->unit = bs / SECTOR;
	}
	if (d->features & BLK_F_SIZE_MAX) {
		uint32_t sm = virtio_cfg32(d, 8) & ~(uint32_t)(SECTOR - 1);
		if (sm && sm < b->seg_bytes)
			b->seg_bytes = sm;
	}
	uint32_t segs = b->q.size - 2; /* header and status take one each */
	if (d->features & BLK_F_SEG_MAX) {
		uint32_t sg = virtio_cfg32(d, 12);
		if (sg && sg < segs)
			segs = sg;
	}
	b->max_segs = segs;
	uint64_t max = (uint64_t)segs * b->seg_bytes;
	b->max_bytes = max < BUF_SIZE ? (uint32_t)max : BUF_SIZE;
	b->max_bytes &= ~(b->unit * SECTOR - 1);
	virtio_driver_ok(d);
	return NULL;
}

/*
 * One request: `bytes` of data at `data` (in the DMA arena), split into
 * descriptors of at most `seg` bytes (and no more than the device takes).
 * Returns the status byte the device wrote, or -1 (b->error says why) if
 * the device did not complete the request.
 */
static int blk_rw(struct blk *b, uint32_t type, uint64_t sector, uint8_t *data, uint32_t bytes,
		  uint32_t seg)
{
	struct virtq_desc *desc = b->q.desc;
	uint16_t flags = type == BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE;
	uint16_t n = 0;

	if (seg > b->seg_bytes)
		seg = b->seg_bytes;
	*b->req = (struct blk_req){.type = type, .sector = sector, .status = 0xff};
	desc[n] = (struct virtq_desc){(uintptr_t)b->req, 16, VIRTQ_DESC_F_NEXT, n + 1};
	n++;
	for (uint32_t off = 0; off < bytes; off += seg) {
		uint32_t len = bytes - off < seg ? bytes - off : seg;
		if (n > b->max_segs) {
			b->error = "request needs more segments than the device allows";
			return -1;
		}
		desc[n] = (struct virtq_desc){(uintptr_t)data + off, len, flags | VIRTQ_DESC_F_NEXT, n + 1};
		n++;
	}
	desc[n] = (struct virtq_desc){(uintptr_t)&b->req->status, 1, VIRTQ_DESC_F_WRITE, 0};

	uint32_t len;
	if ((b->error = virtq_run(&b->q, 0, &len)))
		return -1;
	barrier();
	return *(volatile uint8_t *)&b->req->status;
}

/* ---- the blk test ---- */

/* What sector `s` holds after the test wrote it: 64 words, all distinct. */
static uint64_t pattern(uint64_t sector, unsigned word)
{
	return (sector * 64 + word) * 0x9e3779b97f4a7c15ull ^ 0x676c75652d626c6bull; /* "glue-blk" */
}

static void fill(uint8_t *p, uint64_t sector, uint64_t count)
{
	uint64_t *w = (uint64_t *)p;
	for (uint64_t s = 0; s < count; s++)
		for (unsigned i = 0; i < SECTOR / 8; i++)
			*w++ = pattern(sector + s, i);
}

/* glue.blk.marker=<hex>: sector 0 then holds "<hex>\n" and zeros.
 * 0: not given, 1: copied into m, -1: not 1 to 128 hex digits. */
static int marker(char m[129])
{
	const char *hex;
	size_t len;
	if (!cmdline_get("glue.blk.marker", &hex, &len))
		return 0;
	if (len == 0 || len > 128)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (hex_digit(hex[i]) < 0)
			return -1;
		m[i] = hex[i];
	}
	m[len] = '\0';
	return 1;
}

/* The GET_ID string: up to 20 bytes, NUL-padded; shown with anything
 * that is not printable ASCII, and space, as '?'; "-" when empty. */
static const char *get_id(struct blk *b, char id[ID_BYTES + 1])
{
	zero_words(b->buf, 32);
	int st = blk_rw(b, BLK_T_GET_ID, 0, b->buf, ID_BYTES, ID_BYTES);
	if (st < 0)
		return b->error;
	if (st != BLK_S_OK)
		return "GET_ID failed";
	size_t n = 0;
	for (; n < ID_BYTES && b->buf[n]; n++)
		id[n] = b->buf[n] > ' ' && b->buf[n] < 0x7f ? (char)b->buf[n] : '?';
	if (n == 0)
		id[n++] = '-';
	id[n] = '\0';
	return NULL;
}

/* A read-only disk: sector 0 read, then written back unchanged (so
 * nothing is lost if the device wrongly takes it); the device must
 * answer IOERR or UNSUPP. */
static bool blk_test_ro(struct blk *b, const char *dev, const char *id)
{
	uint32_t bytes = b->unit * SECTOR;
	int st = blk_rw(b, BLK_T_IN, 0, b->buf, bytes, bytes);
	if (st != BLK_S_OK) {
		print("GLUE-FAIL blk %sread of sector 0: %s\n", dev, st < 0 ? b->error : "status not OK");
		return false;
	}
	st = blk_rw(b, BLK_T_OUT, 0, b->buf, bytes, bytes);
	if (st != BLK_S_IOERR && st != BLK_S_UNSUPP) {
		print("GLUE-FAIL blk %sro=1 write %s (status %d)\n", dev,
		      st < 0 ? b->error : "was not rejected", st);
		return false;
	}
	print("GLUE-OK blk %sro=1 write-rejected=1 status=%d feature-ro=%d capacity=%lu id=%s",
	      dev, st, (b->dev->features & BLK_F_RO) != 0, b->capacity, id);
	virtio_print_transport(b->dev);
	print("\n");
	return true;
}

static bool blk_test_one(struct virtio_dev *d, const char *dev)
{
	struct blk b;
	char id[ID_BYTES + 1];
	const char *err = blk_open(&b, d);
	if (!err)
		err = get_id(&b, id);
	if (err) {
		print("GLUE-FAIL blk %s%s\n", dev, err);
		virtio_fail(d);
		return false;
	}
	uint64_t ro = 0;
	if (!cmdline_num("glue.blk.ro", 1, &ro)) {
		print("GLUE-FAIL blk %sglue.blk.ro= wants 0 or 1\n", dev);
		virtio_reset(d);
		return false;
	}
	if (ro || (d->features & BLK_F_RO)) {
		bool ok = blk_test_ro(&b, dev, id);
		virtio_reset(d);
		return ok;
	}

	/* First, middle and last block; the middle request is several
	 * sectors in two descriptors. They must not overlap. */
	uint64_t u = b.unit, multi = 8 > 2 * u ? 8 : 2 * u;
	if (b.capacity < 4 * multi) {
		print("GLUE-FAIL blk %scapacity=%lu sectors: too small to test\n", dev, b.capacity);
		virtio_reset(d);
		return false;
	}
	struct {
		uint64_t sector, count;
		uint8_t *data;
	} part[3] = {
		{0, u, b.buf},
		{b.capacity / 2 / u * u, multi, b.buf + 8192},
		{(b.capacity - u) / u * u, u, b.buf + 8192 + multi * SECTOR},
	};
	char hex[129];
	int mark = marker(hex);
	if (mark < 0) {
		print("GLUE-FAIL blk %sglue.blk.marker= wants 1 to 128 hex digits\n", dev);
		virtio_reset(d);
		return false;
	}

	uint64_t wrote = 0, verified = 0;
	int st = BLK_S_OK;
	for (int i = 0; i < 3 && st == BLK_S_OK; i++) {
		uint32_t bytes = (uint32_t)(part[i].count * SECTOR);
		fill(part[i].data, part[i].sector, part[i].count);
		if (i == 0 && mark) {
			zero_words(part[0].data, bytes);
			memcpy(part[0].data, hex, strlen(hex));
			part[0].data[strlen(hex)] = '\n';
		}
		st = blk_rw(&b, BLK_T_OUT, part[i].sector, part[i].data, bytes, i == 1 ? bytes / 2 : bytes);
		if (st == BLK_S_OK)
			wrote += part[i].count;
	}
	bool flush = d->features & BLK_F_FLUSH;
	if (st == BLK_S_OK && flush)
		st = blk_rw(&b, BLK_T_FLUSH, 0, NULL, 0, 1);
	/* Read each part back into poisoned memory, then compare. */
	for (int i = 0; i < 3 && st == BLK_S_OK; i++) {
		uint32_t bytes = (uint32_t)(part[i].count * SECTOR);
		uint8_t *in = b.buf + BUF_SIZE / 2;
		for (uint32_t k = 0; k < bytes / 8; k++)
			((uint64_t *)in)[k] = 0x5a5a5a5a5a5a5a5aull;
		st = blk_rw(&b, BLK_T_IN, part[i].sector, in, bytes, bytes);
		if (st != BLK_S_OK)
			break;
		if (memcmp(in, part[i].data, bytes) != 0) {
			print("GLUE-FAIL blk %sread back of sectors %lu+%lu differs from what was written\n",
			      dev, part[i].sector, part[i].count);
			virtio_reset(d);
			return false;
		}
		verified += part[i].count;
	}
	virtio_reset(d);
	if (st != BLK_S_OK) {
		print("GLUE-FAIL blk %swrote=%lu verified=%lu: %s (status %d)\n", dev, wrote, verified,
		      st < 0 ? b.error : "request failed", st);
		return false;
	}
	print("GLUE-OK blk %scapacity=%lu id=%s wrote=%lu verified=%lu flushed=%d", dev, b.capacity, id,
	      wrote, verified, flush);
	if (mark)
		print(" marker=%s", hex);
	virtio_print_transport(d);
	print("\n");
	return true;
}

bool test_blk(void)
{
	int n = virtio_count(VIRTIO_ID_BLOCK);
	bool ok = true;
	if (n == 0) {
		virtio_missing("blk", "virtio-blk");
		return false;
	}
	for (int i = 0; i < n; i++) {
		char dev[12] = "", *p = dev + 4;
		if (n > 1) { /* "dev=<i> " before the details */
			memcpy(dev, "dev=", 4);
			if (i >= 10)
				*p++ = (char)('0' + i / 10);
			*p++ = (char)('0' + i % 10);
			*p++ = ' ';
			*p = '\0';
		}
		dma_reset();
		ok &= blk_test_one(virtio_find(VIRTIO_ID_BLOCK, i), dev);
	}
	return ok;
}

/* ---- blk-bench ---- */

static bool bench_phase(struct blk *b, const char *name, uint32_t type, uint64_t mib)
{
	uint64_t total = mib << 20, sectors_per = b->max_bytes / SECTOR;
	print("GLUE-START %s mib=%lu\n", name, mib);
	uint64_t t0 = rdtsc();
	for (uint64_t sector = 0; sector < total / SECTOR; sector += sectors_per) {
		uint64_t left = total / SECTOR - sector;
		uint32_t bytes = (uint32_t)((left < sectors_per ? left : sectors_per) * SECTOR);
		if (type == BLK_T_OUT)
			*(uint64_t *)b->buf = sector; /* read back below */
		int st = blk_rw(b, type, sector, b->buf, bytes, b->seg_bytes);
		if (st != BLK_S_OK) {
			print("GLUE-FAIL %s sector=%lu: %s (status %d)\n", name, sector,
			      st < 0 ? b->error : "request failed", st);
			return false;
		}
		if (type == BLK_T_IN && *(uint64_t *)b->buf != sector) {
			print("GLUE-FAIL %s sector=%lu: not what blk-seq-write wrote there\n", name, sector);
			return false;
		}
	}
	uint64_t t1 = rdtsc();
	print("GLUE-OK %s mib=%lu req=%u tsc=%lu\n", name, mib, b->max_bytes, t1 - t0);
	return true;
}

static bool bench_random(struct blk *b, uint64_t ops)
{
	uint64_t blocks = b->capacity / 8, x = 0x676c7565626c6b21ull; /* xorshift64 */
	print("GLUE-START blk-rand-read ops=%lu\n", ops);
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < ops; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t sector = x % blocks * 8;
		int st = blk_rw(b, BLK_T_IN, sector, b->buf, 4096, b->seg_bytes);
		if (st != BLK_S_OK) {
			print("GLUE-FAIL blk-rand-read sector=%lu: %s (status %d)\n", sector,
			      st < 0 ? b->error : "request failed", st);
			return false;
		}
	}
	uint64_t t1 = rdtsc();
	print("GLUE-OK blk-rand-read ops=%lu tsc=%lu\n", ops, t1 - t0);
	return true;
}

bool test_blk_bench(void)
{
	uint64_t mib = 16, ops = 2000;
	struct blk b;
	struct virtio_dev *d = virtio_find(VIRTIO_ID_BLOCK, 0);

	if (!cmdline_num("glue.blk.mib", 1 << 20, &mib) || !cmdline_num("glue.blk.iops", 100000000, &ops)) {
		print("GLUE-FAIL blk-bench glue.blk.mib= and glue.blk.iops= want numbers\n");
		return false;
	}
	if (!d) {
		virtio_missing("blk-bench", "virtio-blk");
		return false;
	}
	dma_reset();
	const char *err = blk_open(&b, d);
	if (!err && b.capacity < mib * 2048)
		err = "the disk is smaller than glue.blk.mib";
	if (!err && (b.capacity < 8 || b.unit > 8 || b.max_bytes < 4096))
		err = "the disk is too small, or its blocks too large, for 4 KiB requests";
	if (err) {
		print("GLUE-FAIL blk-bench %s\n", err);
		virtio_fail(d);
		return false;
	}
	bool ok = false;
	if (d->features & BLK_F_RO) /* nothing to write: random reads only */
		print("GLUE-FAIL blk-seq-write read-only disk\n");
	else
		ok = bench_phase(&b, "blk-seq-write", BLK_T_OUT, mib) &&
		     bench_phase(&b, "blk-seq-read", BLK_T_IN, mib);
	if (ok || (d->features & BLK_F_RO))
		ok = bench_random(&b, ops) && ok;
	virtio_reset(d);
	return ok;
}
