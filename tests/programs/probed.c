/* A small program for the uprobe/DWARF tests: known calls with known arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

/* The semaphores stap (and our runtime) increment while a mark probe is attached. */
unsigned short probed_greeted_semaphore __attribute__((unused, section(".probes")));
unsigned short probed_loop_semaphore __attribute__((unused, section(".probes")));

struct point {
	int x;
	long y;
	const char *label;
	struct point *next;
};

int counter;

__attribute__((noinline)) int add(int a, long b)
{
	int sum = a + (int)b;
	counter += sum;
	return sum;
}

__attribute__((noinline)) size_t greet(const char *name, unsigned char times)
{
	size_t len = strlen(name) * times;
	DTRACE_PROBE2(probed, greeted, name, len);
	return len;
}

__attribute__((noinline)) long norm(struct point *p)
{
	long total = p->x + p->y;
	if (p->next)
		total += p->next->x;
	return total;
}

static inline int twice(int v)
{
	return v * 2;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;
	/* Strings on the stack are resident when a probe reads them (a .rodata page may
	 * not be mapped yet at the first call, and BPF cannot fault it in). */
	char name[] = "stapui", tail_label[] = "tail", head_label[] = "head";
	struct point tail = { 7, 8, tail_label, NULL };
	struct point head = { 3, -40, head_label, &tail };
	long checksum = 0;

	for (int i = 0; i < rounds; i++) {
		checksum += add(i, 100 + i);
		checksum += greet(name, (unsigned char)(i + 1));
		checksum += norm(&head);
		checksum += twice(i);
		if (probed_loop_semaphore)
			STAP_PROBE3(probed, loop, i, (long)checksum, head.label);
	}
	printf("%ld\n", checksum);
	return 0;
}
