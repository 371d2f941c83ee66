/* strings.c - string values: MAXSTRINGLEN-bounded copies, concatenation, numbers, regex. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

size_t stp_strmax(void)
{
	return (size_t)stp_script.limits.maxstringlen;
}

size_t stp_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memmove(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

char *stp_strset(char *dst, const char *src)
{
	if (dst != src)
		stp_strlcpy(dst, src, stp_strmax());
	return dst;
}

/* dst may be a: the left part is already in place then. */
char *stp_concat(char *dst, const char *a, const char *b)
{
	size_t max = stp_strmax() - 1;
	size_t alen = strlen(a);
	if (alen > max)
		alen = max;
	if (dst != a)
		memmove(dst, a, alen);
	size_t blen = strlen(b);
	if (blen > max - alen)
		blen = max - alen;
	memmove(dst + alen, b, blen);
	dst[alen + blen] = '\0';
	return dst;
}

char *stp_long_to_string(char *dst, int64_t v)
{
	snprintf(dst, stp_strmax(), "%lld", (long long)v);
	return dst;
}

/* A small cache of compiled patterns: scripts use a handful of literal regexes. */
#define REGEX_CACHE 32
static struct {
	const char *pattern; /* the literal's address in the generated code */
	regex_t re;
	int ok;
} regex_cache[REGEX_CACHE];

static regex_t *compiled(struct context *c, const char *pattern)
{
	for (int i = 0; i < REGEX_CACHE; i++) {
		if (regex_cache[i].pattern == pattern)
			return regex_cache[i].ok ? &regex_cache[i].re : NULL;
		if (regex_cache[i].pattern == NULL) {
			regex_cache[i].pattern = pattern;
			regex_cache[i].ok = regcomp(&regex_cache[i].re, pattern, REG_EXTENDED | REG_NOSUB) == 0;
			if (!regex_cache[i].ok)
				c->last_error = "invalid regular expression";
			return regex_cache[i].ok ? &regex_cache[i].re : NULL;
		}
	}
	c->last_error = "too many distinct regular expressions";
	return NULL;
}

int stp_regex_match(struct context *c, const char *s, const char *pattern)
{
	regex_t *re = compiled(c, pattern);
	if (re == NULL)
		return 0;
	return regexec(re, s, 0, NULL, 0) == 0;
}
