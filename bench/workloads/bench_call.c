/* bench_call.c - calls a non-inlined function N times: the uprobe hit-cost workload.
 *
 *   bench_call N
 *
 * work(x) takes 0..63 and returns 2x+1, so the probes' argument and return histograms
 * are known exactly.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sync.h"

__attribute__((noinline)) long work(long x)
{
	__asm__ volatile("" ::: "memory"); /* keep the call and its body */
	return 2 * x + 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: bench_call N\n");
		return 2;
	}
	long n = atol(argv[1]);
	if (sync_start() < 0)
		return 1;
	volatile long sum = 0;
	uint64_t start = now_ns(), cpu_start = cpu_ns();
	for (long i = 0; i < n; i++)
		sum += work(i & 63);
	uint64_t cpu = cpu_ns() - cpu_start;
	return sync_done((uint64_t)n, cpu, now_ns() - start) < 0 ? 1 : 0;
}
