/* sync.c - the workload's side of the benchmark handshake (see sync.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sync.h"

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0) {
		fprintf(stderr, "bench: clock_gettime(CLOCK_THREAD_CPUTIME_ID): %s\n", strerror(errno));
		return 0;
	}
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int say(const char *line)
{
	const char *path = getenv("BENCH_SYNC");
	FILE *out = path ? fopen(path, "w") : stdout;
	if (!out) {
		fprintf(stderr, "bench: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs(line, out);
	if (path)
		return fclose(out) == 0 ? 0 : -1;
	return fflush(out) == 0 ? 0 : -1;
}

static int wait_go(void)
{
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	int err = sigwait(&set, &sig);
	if (err) {
		fprintf(stderr, "bench: sigwait: %s\n", strerror(err));
		return -1;
	}
	return 0;
}

int sync_start(void)
{
	if (!getenv("BENCH_SYNC"))
		return 0;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		fprintf(stderr, "bench: sigprocmask: %s\n", strerror(errno));
		return -1;
	}
	char line[64];
	snprintf(line, sizeof line, "start %d\n", (int)getpid());
	return say(line) < 0 ? -1 : wait_go();
}

int sync_done(uint64_t events, uint64_t cpu, uint64_t wall_ns)
{
	char line[128];
	snprintf(line, sizeof line, "done %llu %llu %llu\n", (unsigned long long)events,
		 (unsigned long long)cpu, (unsigned long long)wall_ns);
	if (say(line) < 0)
		return -1;
	return getenv("BENCH_SYNC") ? wait_go() : 0;
}
