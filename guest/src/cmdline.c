/*
 * cmdline.c - look up "key=value" words in the command line.
 *
 * Words are separated by spaces (any byte <= ' '); there is no quoting.
 * The copy in boot.cmdline is bounded and NUL-terminated (bootinfo.c), so
 * any byte sequence is safe to scan.
 */
#include "guest.h"

/* Finds the last word "key=value" (later words override earlier ones, as
 * when a user appends to a default command line). */
bool cmdline_get(const char *key, const char **val, size_t *len)
{
	const char *s = boot.cmdline;
	size_t klen = strlen(key);
	bool found = false;

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
			found = true;
		}
	}
	return found;
}
