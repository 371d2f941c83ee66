/* arith.c - stap's checked 64-bit arithmetic (wrap-around, C division, shift masking). */
#include "runtime.h"

int64_t stp_div(struct context *c, int64_t x, int64_t y)
{
	if (y == 0) {
		c->last_error = "division by 0";
		return 0;
	}
	if (y == -1)
		return (int64_t)(0 - (uint64_t)x); /* INT64_MIN / -1 wraps, as in stap */
	return x / y;
}

int64_t stp_mod(struct context *c, int64_t x, int64_t y)
{
	if (y == 0) {
		c->last_error = "division by 0";
		return 0;
	}
	if (y == 1 || y == -1)
		return 0;
	return x % y;
}

/* Shift counts are taken modulo 64, as the x86-64 instructions stap's C compiles to do. */
int64_t stp_shl(int64_t x, int64_t y)
{
	return (int64_t)((uint64_t)x << (y & 63));
}

int64_t stp_shr(int64_t x, int64_t y)
{
	return x >> (y & 63);
}

int64_t stp_ushr(int64_t x, int64_t y)
{
	return (int64_t)((uint64_t)x >> (y & 63));
}
