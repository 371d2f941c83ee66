/* For the user backtrace, memory-dump and process(PID) tests: a known call chain
 * main -> a -> b -> leaf, once, or with "stdin" once per line read from stdin (so a
 * test can attach to the running process first, and it stays until stdin closes).
 * After each call main overwrites the text it passed: a handler that reads the
 * memory when it runs, rather than at the probe, sees the change (or a fault once
 * the process has exited). */
#include <stdio.h>
#include <string.h>
#include <sys/sdt.h>

__attribute__((noinline)) int leaf(const char *text, int round)
{
	DTRACE_PROBE2(chain, leaf, text, round);
	return (int)strlen(text) + round;
}

__attribute__((noinline)) int b(const char *text, int round)
{
	return leaf(text, round) + 1;
}

__attribute__((noinline)) int a(const char *text, int round)
{
	return b(text, round) + 1;
}

int main(int argc, char **argv)
{
	/* On the stack: resident when the probe reads it. */
	char text[32], line[64];
	int total = 0, round = 0, from_stdin = argc > 1 && strcmp(argv[1], "stdin") == 0;

	while (!from_stdin || fgets(line, sizeof(line), stdin) != NULL) {
		strcpy(text, "chain-memory-0123");
		total += a(text, round++);
		memset(text, 'x', sizeof(text) - 1);
		__asm__ volatile("" : : "r"(text) : "memory");
		if (!from_stdin)
			break;
	}
	printf("%d\n", total);
	return 0;
}
