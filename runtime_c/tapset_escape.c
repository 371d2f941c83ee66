/* tapset_escape.c - printable renderings of strings for text_str, text_strn
 * and string_quoted.
 *
 * Printable ASCII passes through; '"' and '\\' and the C control characters
 * with short names become two-character escapes; other bytes become three
 * octal digits; well-formed multi-byte UTF-8 becomes \uXXXX or \UXXXXXXXX.
 * A result that must be shortened never ends inside an escape sequence.
 * Buffers (tapset_escape_n) may hold NUL bytes, which become \000.
 */
#include "tapset_support.h"

#include <string.h>

/* Decodes one UTF-8 character of 2-4 bytes at `s`; returns its length, or
 * 1 when the bytes are not a valid shortest-form sequence (then the lead
 * byte stands for itself). */
static int utf8_decode(const unsigned char *s, size_t avail, uint32_t *cp)
{
	static const uint32_t minimum[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	int len = 1;
	uint32_t value = s[0];

	if ((s[0] & 0xE0) == 0xC0) {
		len = 2;
		value = s[0] & 0x1F;
	} else if ((s[0] & 0xF0) == 0xE0) {
		len = 3;
		value = s[0] & 0x0F;
	} else if ((s[0] & 0xF8) == 0xF0) {
		len = 4;
		value = s[0] & 0x07;
	}
	*cp = s[0];
	if (len == 1 || (size_t)len > avail)
		return 1;
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 1;
		value = (value << 6) | (s[i] & 0x3F);
	}
	if (value < minimum[len] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
		return 1;
	*cp = value;
	return len;
}

/* Writes the printable form of one character into `esc`; returns its length. */
static int escape_char(uint32_t cp, int multibyte, char esc[12])
{
	static const char hex[] = "0123456789ABCDEF";
	static const char named[] = "\a\b\f\n\r\t\v\"\\";
	static const char names[] = "abfnrtv\"\\";
	const char *hit;

	if (multibyte) {
		int digits = cp <= 0xFFFF ? 4 : 8;
		esc[0] = '\\';
		esc[1] = cp <= 0xFFFF ? 'u' : 'U';
		for (int i = 0; i < digits; i++)
			esc[2 + i] = hex[(cp >> (4 * (digits - 1 - i))) & 0xF];
		return 2 + digits;
	}
	if (cp >= 0x20 && cp < 0x7F && cp != '"' && cp != '\\') {
		esc[0] = (char)cp;
		return 1;
	}
	hit = cp ? strchr(named, (int)cp) : NULL;
	esc[0] = '\\';
	if (hit) {
		esc[1] = names[hit - named];
		return 2;
	}
	esc[1] = (char)('0' + ((cp >> 6) & 3));
	esc[2] = (char)('0' + ((cp >> 3) & 7));
	esc[3] = (char)('0' + (cp & 7));
	return 4;
}

void tapset_escape(char *out, size_t size, const char *in, int64_t out_limit, int quoted)
{
	tapset_escape_n(out, size, in, strlen(in), out_limit, quoted);
}

void tapset_escape_n(char *out, size_t size, const char *in, size_t len, int64_t out_limit, int quoted)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t avail = len;
	int64_t limit = (out_limit <= 0 || out_limit > (int64_t)size - 1) ? (int64_t)size - 1 : out_limit;
	int64_t budget = quoted ? (limit < 5 ? 5 : limit) - 2 : limit;
	int64_t cut = budget - 3;  /* where a truncated quoted body ends */
	char *body = out + (quoted ? 1 : 0);
	int64_t used = 0;
	size_t pos = 0;
	char esc[12];

	if (avail > size - 1)
		avail = size - 1;
	if (quoted && size < 6) {  /* no room for the shortest quoted form, `"..."` */
		out[0] = '\0';
		return;
	}
	while (pos < avail) {
		uint32_t cp;
		int n = utf8_decode(s + pos, avail - pos, &cp);
		int len = escape_char(cp, n > 1, esc);
		if (len > budget - used)
			break;
		if (len > 1 && used < cut && cut < used + len)
			cut = used;  /* never split an escape sequence */
		memcpy(body + used, esc, (size_t)len);
		used += len;
		pos += (size_t)n;
	}
	if (!quoted) {
		body[used] = '\0';
		return;
	}
	out[0] = '"';
	if (pos < avail) {
		used = cut < used ? cut : used;
		memcpy(body + used, "\"...", 5);
		return;
	}
	memcpy(body + used, "\"", 2);
}
