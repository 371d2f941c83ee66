/* tapset_utf.c - UTF-16 and UTF-32 strings in user memory, as UTF-8
 * (user_string_utf16, user_string_utf32). */
#include "tapset_support.h"

#include <errno.h>
#include <string.h>

/* Appends code point `cp` as UTF-8 if it fits in `room` bytes (keeping one
 * for the NUL); returns the bytes written, 0 when it does not fit, -1 when
 * `cp` is not a character (a surrogate or beyond U+10FFFF). */
static int utf8_encode(uint32_t cp, char *out, size_t room)
{
	static const unsigned char lead[5] = { 0, 0, 0xC0, 0xE0, 0xF0 };  /* by length */
	int n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;

	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return -1;
	if ((size_t)n >= room)
		return 0;
	if (n == 1) {
		out[0] = (char)cp;
		return 1;
	}
	for (int i = n - 1; i > 0; i--, cp >>= 6)
		out[i] = (char)(0x80 | (cp & 0x3F));
	out[0] = (char)(lead[n] | cp);
	return n;
}

/* The next code point at *addr: one unit, or a UTF-16 surrogate pair. */
static int next_code_point(int64_t pid, uint64_t *addr, int unit, uint32_t *cp)
{
	int64_t value, low;
	int rc = tapset_read_user_int(pid, *addr, unit, 0, &value);

	if (rc < 0)
		return rc;
	*cp = (uint32_t)value;
	if (unit == 2 && value >= 0xD800 && value <= 0xDBFF
	    && tapset_read_user_int(pid, *addr + 2, 2, 0, &low) == 0 && low >= 0xDC00 && low <= 0xDFFF) {
		*cp = 0x10000 + (((uint32_t)value & 0x3FF) << 10) + ((uint32_t)low & 0x3FF);
		*addr += 2;
	}
	return 0;
}

int tapset_read_user_utf(int64_t pid, uint64_t addr, int unit, char *out, size_t size, uint64_t *where,
			 uint32_t *bad)
{
	size_t used = 0;

	out[0] = '\0';
	for (;;) {
		uint32_t cp;
		int n;

		*where = addr;
		if (next_code_point(pid, &addr, unit, &cp) < 0)
			return -EFAULT;
		if (cp == 0)
			return 0;
		n = utf8_encode(cp, out + used, size - used);
		if (n < 0) {
			*bad = cp;
			return -EILSEQ;
		}
		if (n == 0)
			return 0;  /* full: the string is truncated, as stap's */
		used += (size_t)n;
		out[used] = '\0';
		addr += (uint64_t)unit;
	}
}
