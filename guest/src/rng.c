/*
 * rng.c - the virtio entropy device (virtio 1.2, 5.4) and the rng test.
 *
 * One queue (requestq, 0). The driver offers a device-writable buffer;
 * the device fills some of it with random bytes and says how many in the
 * used entry's len. No feature bits, no configuration space.
 */
#include "virtio.h"

#define WANT      64
#define MAX_TRIES 16 /* a device may return fewer bytes than asked */

bool test_rng(void)
{
	struct virtio_dev *d = virtio_find(VIRTIO_ID_RNG, 0);
	struct virtq q;
	uint32_t got = 0, len = 0;
	int requests = 0;

	if (!d) {
		virtio_missing("rng", "virtio-rng");
		return false;
	}
	dma_reset();
	uint8_t *buf = dma_alloc(WANT, 16);
	const char *err = virtio_init(d, 0);
	if (!err)
		err = virtq_setup(d, &q, 0, 8);
	if (err) {
		print("GLUE-FAIL rng %s\n", err);
		virtio_fail(d);
		return false;
	}
	virtio_driver_ok(d);
	zero_words(buf, WANT);

	while (got < WANT && requests < MAX_TRIES && !err) {
		q.desc[0] = (struct virtq_desc){(uintptr_t)buf + got, WANT - got, VIRTQ_DESC_F_WRITE, 0};
		requests++;
		err = virtq_run(&q, 0, &len);
		if (!err && len > WANT - got)
			err = "the device claims to have written more than the buffer holds";
		if (!err)
			got += len;
	}
	virtio_reset(d);
	if (!err && got < WANT)
		err = "the device returned too few bytes";
	bool all_equal = true;
	for (int i = 1; i < WANT; i++)
		all_equal &= buf[i] == buf[0];
	if (!err && all_equal)
		err = "all 64 bytes are equal";
	if (err) {
		print("GLUE-FAIL rng bytes=%u requests=%d", got, requests);
		virtio_print_transport(d);
		print(": %s\n", err);
		return false;
	}
	print("GLUE-OK rng bytes=%u requests=%d", got, requests);
	virtio_print_transport(d);
	print("\n");
	return true;
}
