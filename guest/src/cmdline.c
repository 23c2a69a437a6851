/*
 * cmdline.c - look up "key=value" words in the command line.
 *
 * Words are separated by spaces (any byte <= ' '); there is no quoting.
 * The copy in boot.cmdline is bounded and NUL-terminated (bootinfo.c), so
 * any byte sequence is safe to scan.
 */
#include "guest.h"

/* Iterates over the words "key=value" in order: start with *cursor =
 * NULL; each call finds the next one, false after the last. */
bool cmdline_next(const char *key, const char **cursor, const char **val, size_t *len)
{
	const char *s = *cursor ? *cursor : boot.cmdline;
	size_t klen = strlen(key);

	while (*s) {
		while (*s && (unsigned char)*s <= ' ')
			s++;
		const char *w = s;
		while (*s && (unsigned char)*s > ' ')
			s++;
		size_t wlen = (size_t)(s - w);
		if (wlen > klen && w[klen] == '=' && memcmp(w, key, klen) == 0) {
			*val = w + klen + 1;
			*len = wlen - klen - 1;
			*cursor = s;
			return true;
		}
	}
	*cursor = s;
	return false;
}

/* Finds the last word "key=value" (later words override earlier ones, as
 * when a user appends to a default command line). */
bool cmdline_get(const char *key, const char **val, size_t *len)
{
	const char *cursor = NULL;
	bool found = false;
	while (cmdline_next(key, &cursor, val, len))
		found = true;
	return found;
}

/* A decimal number up to max: leaves *out alone if the key is absent,
 * false if it is there but not such a number. */
bool cmdline_num(const char *key, uint64_t max, uint64_t *out)
{
	const char *v;
	size_t len;
	return !cmdline_get(key, &v, &len) || parse_u64(v, len, max, out);
}
