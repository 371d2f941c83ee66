/* For the return-probe string tests: a function that rewrites the buffer it is given,
 * which the caller then restores (what a return probe's string must not see). */
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) size_t rewrite(char *text, const char *with)
{
	strcpy(text, with);
	return strlen(text);
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
