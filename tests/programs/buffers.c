/* For the return-probe string and .inline tests: a function that rewrites the buffer it
 * is given, which the caller then restores (what a return probe's string must not see),
 * and measures it with a function inlined at every optimisation level. */
#include <stdio.h>
#include <string.h>

static inline __attribute__((always_inline)) size_t bounded(const char *s, size_t most)
{
	size_t n = strlen(s);
	return n < most ? n : most;
}

__attribute__((noinline)) size_t rewrite(char *text, const char *with)
{
	strcpy(text, with);
	return bounded(text, 5);
}

int main(void)
{
	char text[16] = "before";
	size_t total = 0;

	for (int i = 0; i < 2; i++) {
		total += rewrite(text, i ? "second" : "first");
		strcpy(text, "before");
		__asm__ volatile("" : : "r"(text) : "memory");  /* the restore happens, even at -O2 */
	}
	printf("%zu\n", total);
	return 0;
}
