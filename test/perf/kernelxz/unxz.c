/*
 * unxz SIZE < STREAM > VMLINUX
 *
 * The kernel's own xz decoder (lib/xz) as the x86 boot code builds it in
 * lib/decompress_unxz.c: one translation unit with every function static,
 * only the x86 BCJ filter, single-call mode (the whole stream in, the
 * whole output into one buffer, no dictionary buffer of its own). SIZE is
 * the decompressed size, the payload's size trailer, which the boot code
 * also knows. Built by test/perf (extract_test.go) with
 * -iquote pointing at this directory and at the kernel source's lib/xz
 * and include/linux.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#define XZ_EXTERN static
#define XZ_DEC_X86

#include "xz_private.h"
#include "xz_crc32.c"
#include "xz_dec_stream.c"
#include "xz_dec_lzma2.c"
#include "xz_dec_bcj.c"

static int fail(const char *what)
{
	fprintf(stderr, "unxz: %s\n", what);
	return 1;
}

/* read_all reads fd to its end into a malloc'd buffer. */
static uint8_t *read_all(int fd, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	uint8_t *buf = malloc(cap);

	while (buf != NULL) {
		ssize_t got;

		if (n == cap) {
			uint8_t *bigger = realloc(buf, cap *= 2);

			if (bigger == NULL)
				break;
			buf = bigger;
		}
		got = read(fd, buf + n, cap - n);
		if (got == 0) {
			*len = n;
			return buf;
		}
		if (got < 0 && errno != EINTR)
			break;
		if (got > 0)
			n += (size_t)got;
	}
	free(buf);
	return NULL;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t put = write(fd, p, len);

		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		p += put;
		len -= (size_t)put;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct xz_buf b;
	struct xz_dec *s;
	enum xz_ret ret;
	char *end;
	unsigned long long size;
	size_t in_len;
	uint8_t *in, *out;

	if (argc != 2)
		return fail("usage: unxz SIZE < STREAM > OUTPUT");
	errno = 0;
	size = strtoull(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[1] || size > SIZE_MAX)
		return fail("SIZE: not a byte count");
	in = read_all(STDIN_FILENO, &in_len);
	out = malloc(size > 0 ? size : 1);
	if (in == NULL || out == NULL)
		return fail("reading the stream: out of memory or read error");

	xz_crc32_init();
	s = xz_dec_init(XZ_SINGLE, 0);
	if (s == NULL)
		return fail("xz_dec_init: out of memory");
	b.in = in;
	b.in_pos = 0;
	b.in_size = in_len;
	b.out = out;
	b.out_pos = 0;
	b.out_size = size;
	ret = xz_dec_run(s, &b);
	xz_dec_end(s);
	if (ret != XZ_STREAM_END) {
		fprintf(stderr, "unxz: xz_dec_run returned %d after %zu bytes out\n", ret, b.out_pos);
		return 1;
	}
	if (write_all(STDOUT_FILENO, out, b.out_pos) != 0)
		return fail("writing the output");
	return 0;
}
