/* A function known by several symbols, as glibc's malloc is: the DWARF names only
 * `__scale_impl`; `scale` (global) and `scale_local` (static) are aliases at its
 * address, and `twice_impl` has a weak alias `twice`. */
#include <stdlib.h>

int __scale_impl(int value, int factor)
{
	return value * factor + 1;
}

extern int scale(int value, int factor) __attribute__((alias("__scale_impl")));
static int scale_local(int value, int factor) __attribute__((alias("__scale_impl")));

int twice_impl(int value)
{
	return scale_local(value, 2);
}

extern int twice(int value) __attribute__((weak, alias("twice_impl")));

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 2;
	int total = 0;

	for (int i = 0; i < rounds; i++)
		total += scale(i, 10) + twice(i);
	return total;
}
