/*
 * The userspace definitions the kernel's lib/xz/xz_private.h asks for when
 * built without __KERNEL__: the allocation, byte-order and helper macros
 * the kernel headers would otherwise provide. Our own shim, not part of
 * the kernel's source.
 */
#ifndef GLUE_PERF_XZ_CONFIG_H
#define GLUE_PERF_XZ_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xz.h"

/* The kernel's allocators, as lib/decompress_unxz.c maps them at boot. */
#define GFP_KERNEL 0
#define kmalloc(size, flags) malloc(size)
#define kfree(ptr) free(ptr)
#define vmalloc(size) malloc(size)
#define vfree(ptr) free(ptr)

#define memeq(a, b, size) (memcmp(a, b, size) == 0)
#define memzero(buf, size) memset(buf, 0, size)

#ifndef min
#define min(x, y) ((x) < (y) ? (x) : (y))
#endif
#define min_t(type, x, y) min((type)(x), (type)(y))

#ifndef __always_inline /* glibc's sys/cdefs.h has one */
#define __always_inline inline __attribute__((__always_inline__))
#endif
#define fallthrough __attribute__((__fallthrough__))

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the byte-order helpers below assume a little-endian host"
#endif

/* Unaligned loads and stores through memcpy, which gcc turns into plain
 * moves on x86, as the kernel's get_unaligned_* are. */
static inline uint32_t get_unaligned_le32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t get_unaligned_be32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return __builtin_bswap32(v);
}

static inline void put_unaligned_le32(uint32_t v, uint8_t *p)
{
	memcpy(p, &v, sizeof(v));
}

static inline void put_unaligned_be32(uint32_t v, uint8_t *p)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, sizeof(v));
}

#define get_le32(p) get_unaligned_le32((const uint8_t *)(p))

#endif
