/* tapset_random.c - randint(): uniform random numbers below a bound. */
#define _GNU_SOURCE  /* arc4random_uniform */
#include "tapset_support.h"

#include <stdlib.h>

/* stap limits the range to 2**20. */
#define RANDINT_MAX (1 << 20)

int64_t tapset_randint(int64_t n)
{
	if ((uint64_t)n > RANDINT_MAX)
		return -1;
	if (n == 0)
		return 0;
	return (int64_t)arc4random_uniform((uint32_t)n);
}
