/* bench_sys.c - loops of cheap system calls on several workers: the tracepoint workload.
 *
 *   bench_sys getpid|read LIMIT WORKERS [RATE]
 *
 * LIMIT is a number of calls per worker, or seconds with an "s" suffix ("5s").
 * read reads /dev/zero with sizes 1, 2, 4, ... 128 in turn, so a histogram of read sizes
 * has eight equal buckets. RATE, when given, paces each worker to RATE calls per second
 * (busy-waiting on the vDSO clock, so pacing adds no system calls).
 * The "done" line gives the calls made by all workers, the sum of the workers' CPU time
 * in their loops and the wall time. (Paced loops sleep: their CPU time is not a cost.)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sync.h"

struct limit {
	uint64_t calls;	   /* 0: unbounded */
	uint64_t duration; /* ns, 0: unbounded */
	uint64_t rate;	   /* calls per second, 0: as fast as possible */
};

struct tally {
	uint64_t calls;
	uint64_t cpu_ns; /* the worker's CPU time in its loop */
};

static int one_call(int zero, uint64_t i)
{
	static char buf[128];
	if (zero < 0)
		return syscall(SYS_getpid) < 0 ? -1 : 0;
	return read(zero, buf, (size_t)1 << (i & 7)) < 0 ? -1 : 0;
}

static int finished(const struct limit *lim, uint64_t i, uint64_t start)
{
	if (lim->calls)
		return i >= lim->calls;
	return (i & 63) == 0 && now_ns() - start >= lim->duration;
}

/* Wait until call i is due: sleep while more than 100 us early (a slow pace costs no CPU),
 * then spin on the vDSO clock (a fast pace adds no system calls). */
static void pace(const struct limit *lim, uint64_t i, uint64_t start)
{
	if (!lim->rate)
		return;
	uint64_t due = start + i * 1000000000u / lim->rate, now;
	while ((now = now_ns()) < due) {
		if (due - now > 100000) {
			struct timespec nap = {0, (long)(due - now - 50000)};
			nanosleep(&nap, NULL);
		}
	}
}

static struct tally worker(int use_read, const struct limit *lim)
{
	struct tally t = {0, 0};
	int zero = -1;
	if (use_read && (zero = open("/dev/zero", O_RDONLY)) < 0) {
		fprintf(stderr, "bench_sys: open /dev/zero: %s\n", strerror(errno));
		return t;
	}
	uint64_t start = now_ns(), cpu_start = cpu_ns();
	for (uint64_t i = 0; !finished(lim, i, start); i++) {
		pace(lim, i, start);
		if (one_call(zero, i) < 0) {
			fprintf(stderr, "bench_sys: system call: %s\n", strerror(errno));
			break;
		}
		t.calls++;
	}
	t.cpu_ns = cpu_ns() - cpu_start;
	if (zero >= 0)
		close(zero);
	return t;
}

static int run_workers(int use_read, const struct limit *lim, int workers, struct tally *sum)
{
	int fds[2];
	if (pipe(fds) < 0) {
		fprintf(stderr, "bench_sys: pipe: %s\n", strerror(errno));
		return -1;
	}
	for (int w = 0; w < workers; w++) {
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "bench_sys: fork: %s\n", strerror(errno));
			return -1;
		}
		if (pid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) /* never outlive a killed bench_sys */
				fprintf(stderr, "bench_sys: prctl: %s\n", strerror(errno));
			struct tally t = worker(use_read, lim);
			_exit(write(fds[1], &t, sizeof t) == (ssize_t)sizeof t ? 0 : 1);
		}
	}
	close(fds[1]);
	struct tally t;
	while (read(fds[0], &t, sizeof t) == (ssize_t)sizeof t) {
		sum->calls += t.calls;
		sum->cpu_ns += t.cpu_ns;
	}
	close(fds[0]);
	int status, failed = 0;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	return failed ? -1 : 0;
}

static int parse_limit(const char *text, struct limit *lim)
{
	char *end;
	double value = strtod(text, &end);
	if (end == text || value <= 0)
		return -1;
	if (strcmp(end, "s") == 0)
		lim->duration = (uint64_t)(value * 1e9);
	else if (*end == '\0')
		lim->calls = (uint64_t)value;
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct limit lim = {0, 0, 0};
	if (argc < 4 || argc > 5 || (strcmp(argv[1], "getpid") && strcmp(argv[1], "read")) ||
	    parse_limit(argv[2], &lim) < 0 || atoi(argv[3]) < 1) {
		fprintf(stderr, "usage: bench_sys getpid|read CALLS|SECONDSs WORKERS [RATE]\n");
		return 2;
	}
	if (argc == 5)
		lim.rate = strtoull(argv[4], NULL, 10);
	if (sync_start() < 0)
		return 1;
	struct tally sum = {0, 0};
	uint64_t start = now_ns();
	if (run_workers(strcmp(argv[1], "read") == 0, &lim, atoi(argv[3]), &sum) < 0)
		return 1;
	return sync_done(sum.calls, sum.cpu_ns, now_ns() - start) < 0 ? 1 : 0;
}
