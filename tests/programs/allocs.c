/* Calls malloc, calloc, realloc and free a known number of times with known sizes
 * (tests/test_uprobe_aliases.py probes them in libc by their alias names).
 * No stdio: its buffers would add allocations of their own. */
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;

	for (int i = 0; i < rounds; i++) {
		char *block = malloc(1000 + i);
		char *zeroed = calloc(3, 70 + i);

		memset(block, i, 1000 + i);
		block = realloc(block, 5000 + i);
		free(zeroed);
		free(block);
	}
	return 0;
}
