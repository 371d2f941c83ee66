/* tapset_string.c - the string tapset's functions that need more than a line. */
#include "tapset_support.h"

#include <ctype.h>
#include <string.h>

void tapset_substr(char *out, size_t size, const char *s, int64_t start, int64_t length)
{
	size_t len = strlen(s);
	size_t take;

	out[0] = '\0';
	if (start < 0 || (uint64_t)start >= len || length <= 0)
		return;
	take = len - (size_t)start;
	if ((uint64_t)length < take)
		take = (size_t)length;
	if (take > size - 1)
		take = size - 1;
	memcpy(out, s + start, take);
	out[take] = '\0';
}

/* Appends `n` bytes of `s` to `out` (holding `*used` bytes), truncating at size-1. */
static void append(char *out, size_t size, size_t *used, const char *s, size_t n)
{
	if (n > size - 1 - *used)
		n = size - 1 - *used;
	memcpy(out + *used, s, n);
	*used += n;
	out[*used] = '\0';
}

void tapset_str_replace(char *out, size_t size, const char *s, const char *find, const char *repl)
{
	size_t find_len = strlen(find);
	size_t repl_len = strlen(repl);
	size_t used = 0;
	const char *hit;

	out[0] = '\0';
	if (find_len == 0) {
		append(out, size, &used, s, strlen(s));
		return;
	}
	while ((hit = strstr(s, find)) != NULL) {
		append(out, size, &used, s, (size_t)(hit - s));
		append(out, size, &used, repl, repl_len);
		s = hit + find_len;
	}
	append(out, size, &used, s, strlen(s));
}

/* The value of digit character `c`, or 36 when it is not a digit in any base. */
static int digit_value(int c)
{
	if (isdigit(c))
		return c - '0';
	if (isalpha(c))
		return tolower(c) - 'a' + 10;
	return 36;
}

/* Like the kernel's simple_strtol, which stap's strtol uses: no leading
 * blanks, an optional '-', base 0 picks 16/8/10 from a 0x/0 prefix, digits
 * are taken until the first that is not valid in the base; no overflow check. */
int64_t tapset_strtol(const char *s, int64_t base)
{
	int negative = *s == '-';
	uint64_t value = 0;

	if (negative)
		s++;
	if (base == 0)
		base = s[0] != '0' ? 10 : (tolower((unsigned char)s[1]) == 'x' && isxdigit((unsigned char)s[2])) ? 16 : 8;
	if (base == 16 && s[0] == '0' && tolower((unsigned char)s[1]) == 'x' && isxdigit((unsigned char)s[2]))
		s += 2;
	for (; *s; s++) {
		int d = digit_value((unsigned char)*s);
		if (d >= base)
			break;
		value = value * (uint64_t)base + (uint64_t)d;
	}
	return (int64_t)(negative ? 0 - value : value);
}

int64_t tapset_strpos(const char *haystack, const char *needle)
{
	const char *hit = strstr(haystack, needle);
	return hit ? (int64_t)(hit - haystack) : -1;
}

void tapset_case(char *out, size_t size, const char *s, int upper)
{
	size_t i;

	for (i = 0; s[i] && i < size - 1; i++)
		out[i] = (char)(upper ? toupper((unsigned char)s[i]) : tolower((unsigned char)s[i]));
	out[i] = '\0';
}
