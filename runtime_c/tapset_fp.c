/* tapset_fp.c - the floating point tapset: IEEE-754 doubles carried in longs.
 *
 * A script holds a double as the 64 bits of its encoding (as a target
 * variable of type double arrives); these helpers convert and compute with
 * the hardware's IEEE arithmetic.
 */
#define _GNU_SOURCE  /* remainder, nearbyint */
#include "tapset_support.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double tapset_fp_value(int64_t bits)
{
	double d;
	memcpy(&d, &bits, sizeof d);
	return d;
}

int64_t tapset_fp_bits(double d)
{
	int64_t bits;
	memcpy(&bits, &d, sizeof bits);
	return bits;
}

int64_t tapset_fp32_to_fp64(int64_t bits32)
{
	uint32_t raw = (uint32_t)bits32;
	float f;
	memcpy(&f, &raw, sizeof f);
	return tapset_fp_bits((double)f);
}

int64_t tapset_fp_arith(int64_t a, int64_t b, char op)
{
	double x = tapset_fp_value(a), y = tapset_fp_value(b);

	switch (op) {
	case '+': return tapset_fp_bits(x + y);
	case '-': return tapset_fp_bits(x - y);
	case '*': return tapset_fp_bits(x * y);
	case '/': return tapset_fp_bits(x / y);
	case '%': return tapset_fp_bits(remainder(x, y));
	default: return tapset_fp_bits(sqrt(x));
	}
}

/* Rounds to an integral double in mode 0 (nearest, ties to even), 1 (toward
 * zero), 2 (down), 3 (up), 4 (nearest, ties away), 6 (to odd). */
static double round_in_mode(double d, int mode)
{
	double t;

	switch (mode) {
	case 1: return trunc(d);
	case 2: return floor(d);
	case 3: return ceil(d);
	case 4: return round(d);
	case 6:
		t = trunc(d);
		return (t != d && fmod(t, 2.0) == 0) ? t + (d > 0 ? 1 : -1) : t;
	default: return nearbyint(d);
	}
}

int64_t tapset_fp_to_long(int64_t bits, int mode)
{
	double d = round_in_mode(tapset_fp_value(bits), mode);

	if (isnan(d) || d < -9223372036854775808.0)
		return INT64_MIN;
	if (d >= 9223372036854775808.0)
		return INT64_MAX;
	return (int64_t)d;
}

void tapset_fp_to_string(char *out, size_t size, int64_t bits, int64_t precision)
{
	int digits = precision < 1 ? 1 : precision > 60 ? 60 : (int)precision;
	snprintf(out, size, "%.*f", digits, tapset_fp_value(bits));
}

int tapset_string_to_fp(const char *s, int64_t *bits)
{
	const char *p = s;
	int digits = 0;

	/* [sign] digits [. digits] [e|E [sign] digits], and nothing else */
	p += (*p == '-' || *p == '+');
	for (; isdigit((unsigned char)*p); p++)
		digits++;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			digits++;
	if (digits && (*p == 'e' || *p == 'E')) {
		p++;
		p += (*p == '-' || *p == '+');
		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (!digits || *p)
		return -1;
	*bits = tapset_fp_bits(strtod(s, NULL));
	return 0;
}
