/*
 * vconsole.c - the virtio console (virtio 1.2, 5.3), port 0 only, and
 * the console test.
 *
 * Without VIRTIO_CONSOLE_F_MULTIPORT the device has one port (hvc0 in
 * Linux) and two queues: receiveq (0), whose device-writable buffers the
 * device fills with input, and transmitq (1), whose buffers it reads as
 * output. No feature besides VERSION_1 is negotiated.
 */
#include "virtio.h"
#include "io.h"

#define RX_BUFS    4
#define RX_SIZE    64
#define LINE_MAX   128
#define DEFAULT_TIMEOUT_S 60

static const char hello[] = "GLUE-CONSOLE hello from hvc0\n";

bool test_console(void)
{
	struct virtio_dev *d = virtio_find(VIRTIO_ID_CONSOLE, 0);
	struct virtq rx, tx;
	uint64_t timeout_s = DEFAULT_TIMEOUT_S;

	if (!cmdline_num("glue.console.timeout", 86400, &timeout_s)) {
		print("GLUE-FAIL console glue.console.timeout= wants seconds\n");
		return false;
	}
	if (!d) {
		virtio_missing("console", "virtio-console");
		return false;
	}
	dma_reset();
	uint8_t *in = dma_alloc(RX_BUFS * RX_SIZE, 16);
	uint8_t *out = dma_alloc(sizeof(hello), 16);
	const char *err = virtio_init(d, 0);
	if (!err)
		err = virtq_setup(d, &rx, 0, RX_BUFS);
	if (!err)
		err = virtq_setup(d, &tx, 1, 4);
	if (!err && rx.size < RX_BUFS)
		err = "receiveq too small";
	if (err) {
		print("GLUE-FAIL console %s\n", err);
		virtio_fail(d);
		return false;
	}
	virtio_driver_ok(d);

	/* Input buffers first, so nothing typed early is lost. */
	for (uint16_t i = 0; i < RX_BUFS; i++) {
		rx.desc[i] = (struct virtq_desc){(uintptr_t)in + i * RX_SIZE, RX_SIZE, VIRTQ_DESC_F_WRITE, 0};
		virtq_push(&rx, i);
	}
	virtq_notify(&rx);

	uint32_t len;
	uint64_t limit = timeout_s * 1000 * tsc_khz(true); /* may calibrate: before READY */
	memcpy(out, hello, sizeof(hello) - 1);
	tx.desc[0] = (struct virtq_desc){(uintptr_t)out, sizeof(hello) - 1, 0, 0};
	if ((err = virtq_run(&tx, 0, &len))) {
		print("GLUE-FAIL console transmitq: %s\n", err);
		virtio_fail(d);
		return false;
	}
	print("GLUE-READY console\n");

	/* A line: bytes up to '\r' or '\n', at most LINE_MAX. */
	char line[LINE_MAX + 1];
	size_t n = 0;
	bool done = false;
	uint64_t start = rdtsc();
	while (!done) {
		uint32_t id;
		if (!virtq_pop(&rx, &id, &len)) {
			if (rdtsc() - start > limit) {
				line[n] = '\0';
				print("GLUE-FAIL console no line within %lu s (got \"%s\")\n", timeout_s, line);
				virtio_reset(d);
				return false;
			}
			cpu_relax();
			continue;
		}
		if (id >= RX_BUFS || len > RX_SIZE) {
			print("GLUE-FAIL console bad used entry id=%u len=%u\n", id, len);
			virtio_reset(d);
			return false;
		}
		const uint8_t *b = in + id * RX_SIZE;
		for (uint32_t i = 0; i < len && !done; i++) {
			if (b[i] == '\r' || b[i] == '\n')
				done = true;
			else
				line[n++] = (char)b[i];
			done |= n == LINE_MAX;
		}
		virtq_push(&rx, (uint16_t)id); /* the buffer goes back to the device */
		virtq_notify(&rx);
	}
	line[n] = '\0';
	virtio_reset(d);
	print("GLUE-OK console");
	virtio_print_transport(d);
	print(" echo=%s\n", line);
	return true;
}

/* ---- console-flood ---- */

#define FLOOD_CHUNK 4096
#define FLOOD_LINE 64

/*
 * glue.flood.kib= KiB (default 1024) of 63-byte lines of 'x' to hvc0, in
 * 4 KiB writes as fast as the device takes them, for rate-limit tests to
 * count how much got through. Then a pause of glue.flood.pause_ms=
 * (default 500), so that a rate-limited console has room again for the
 * result line, printed on COM1.
 */
bool test_console_flood(void)
{
	struct virtio_dev *d = virtio_find(VIRTIO_ID_CONSOLE, 0);
	struct virtq rx, tx;
	uint64_t kib = 1024, pause_ms = 500;
	uint32_t len;

	if (!cmdline_num("glue.flood.kib", 1 << 20, &kib) || !cmdline_num("glue.flood.pause_ms", 60000, &pause_ms)) {
		print("GLUE-FAIL console-flood glue.flood.kib= and glue.flood.pause_ms= want numbers\n");
		return false;
	}
	if (!d) {
		virtio_missing("console-flood", "virtio-console");
		return false;
	}
	dma_reset();
	uint8_t *buf = dma_alloc(FLOOD_CHUNK, 16);
	const char *err = virtio_init(d, 0);
	if (!err)
		err = virtq_setup(d, &rx, 0, 1);
	if (!err)
		err = virtq_setup(d, &tx, 1, 1);
	if (err) {
		print("GLUE-FAIL console-flood %s\n", err);
		virtio_fail(d);
		return false;
	}
	virtio_driver_ok(d);
	for (size_t i = 0; i < FLOOD_CHUNK; i++)
		buf[i] = i % FLOOD_LINE == FLOOD_LINE - 1 ? '\n' : 'x';
	tx.desc[0] = (struct virtq_desc){(uintptr_t)buf, FLOOD_CHUNK, 0, 0};
	uint64_t t0 = rdtsc();
	for (uint64_t i = 0; i < kib * 1024 / FLOOD_CHUNK; i++) {
		if ((err = virtq_run(&tx, 0, &len))) {
			print("GLUE-FAIL console-flood transmitq: %s\n", err);
			virtio_fail(d);
			return false;
		}
	}
	uint64_t t1 = rdtsc();
	virtio_reset(d);
	uint64_t until = rdtsc() + ms_to_tsc(pause_ms);
	while ((int64_t)(rdtsc() - until) < 0)
		cpu_relax();
	print("GLUE-OK console-flood kib=%lu tsc=%lu\n", kib, t1 - t0);
	return true;
}
