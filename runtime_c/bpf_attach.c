/* Attaching loaded programs through perf events: tracepoints and sampling events,
 * and detaching them all at once. */
#define _GNU_SOURCE /* close_range */
#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf_runtime.h"

static int perf_open(struct perf_event_attr *attr, int pid, int cpu)
{
	return syscall(__NR_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Give the event its program and enable it; closes the event on failure. */
static int set_program(int event_fd, int prog_fd, const char *what)
{
	if (ioctl(event_fd, PERF_EVENT_IOC_SET_BPF, prog_fd) != 0) {
		stp_bpf_fail("cannot attach the capture program to %s: %s", what, strerror(errno));
		close(event_fd);
		return -1;
	}
	if (ioctl(event_fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		stp_bpf_fail("cannot enable %s: %s", what, strerror(errno));
		close(event_fd);
		return -1;
	}
	return event_fd;
}

/* One perf event (cpu 0, every process) carries the program for all CPUs. */
int stp_bpf_attach_tracepoint(int prog_fd, const char *system_event)
{
	struct perf_event_attr attr;
	int id = stp_tracefs_event_id(system_event);
	int fd;

	if (id < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = id;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	attr.disabled = 1;
	fd = perf_open(&attr, -1, 0);
	if (fd < 0) {
		stp_bpf_fail("cannot open tracepoint %s (id %d): %s", system_event, id, strerror(errno));
		return -1;
	}
	return set_program(fd, prog_fd, system_event);
}

/* A sampling perf event on one CPU (pid -1) or for one process (cpu -1). */
int stp_bpf_attach_perf(int prog_fd, uint32_t type, uint64_t config, uint64_t period, int pid, int cpu)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.type = type;
	attr.size = sizeof(attr);
	attr.config = config;
	attr.sample_period = period;
	attr.disabled = 1;
	fd = perf_open(&attr, pid, cpu);
	if (fd < 0) {
		stp_bpf_fail("cannot open perf event type %u config %llu on cpu %d: %s", type, (unsigned long long)config,
			     cpu, strerror(errno));
		return -1;
	}
	return set_program(fd, prog_fd, "a perf event");
}

/* ---- detaching ------------------------------------------------------------------------
 *
 * Closing the last perf event of a tracepoint waits in the kernel for RCU grace periods
 * (tracepoint_synchronize_unregister, 30-70 ms here) while holding the mutex all trace
 * events share, so closes run one after another: the hundred events of syscall.* took
 * 4-7 s, and the run ended that much later.  Instead a child process inherits the
 * descriptors; we drop ours (not the last references: quick) and go on, and the child
 * closes them from many threads at once.  Each close takes the program off its
 * tracepoint before it waits for the mutex, so every program stops within milliseconds
 * even though the kernel then unregisters the tracepoints one by one, in the child.
 */
#define CLOSERS 128
#define CLOSER_STACK (64 * 1024)

struct closer {
	const int *fds;
	uint32_t n;
	uint32_t first;
	uint32_t step;
};

static void *close_share(void *arg)
{
	const struct closer *c = arg;

	for (uint32_t i = c->first; i < c->n; i += c->step)
		close(c->fds[i]);
	return NULL;
}

static void close_in_threads(const int *fds, uint32_t n)
{
	pthread_t threads[CLOSERS];
	struct closer shares[CLOSERS];
	uint32_t step = n < CLOSERS ? n : CLOSERS, started = 0, i;
	pthread_attr_t attr;

	if (pthread_attr_init(&attr) != 0) {
		close_share(&(struct closer){fds, n, 0, 1});
		return;
	}
	pthread_attr_setstacksize(&attr, CLOSER_STACK);
	for (i = 0; i < step; i++) {
		shares[i] = (struct closer){fds, n, i, step};
		if (started == i && pthread_create(&threads[i], &attr, close_share, &shares[i]) == 0)
			started++;
	}
	for (i = started; i < step; i++)  /* no more threads: the rest one by one, here */
		close_share(&shares[i]);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_attr_destroy(&attr);
}

static int by_value(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* In the child: close every descriptor but `keep` (sorted), so that the relay channel's
 * reader sees its end when the runtime exits, not when the child does. */
static void close_others(const int *keep, uint32_t n)
{
	unsigned int next = 0;

	for (uint32_t i = 0; i < n; i++) {
		if ((unsigned int)keep[i] > next)
			close_range(next, (unsigned int)keep[i] - 1, 0);
		next = (unsigned int)keep[i] + 1;
	}
	close_range(next, ~0u, 0);
}

/* The child's work: wait until the runtime dropped its references, then close. */
static void detach_in_child(const int *fds, uint32_t n, int go)
{
	int *keep = malloc((n + 1) * sizeof(*keep));
	char byte;

	prctl(PR_SET_NAME, "stapui-detach");  /* what ps shows for the few seconds it lingers */
	if (keep == NULL)
		_exit(1);  /* exiting closes them too, one by one */
	memcpy(keep, fds, n * sizeof(*keep));
	keep[n] = go;
	qsort(keep, n + 1, sizeof(*keep), by_value);
	close_others(keep, n + 1);
	while (read(go, &byte, 1) < 0 && errno == EINTR)
		;
	close_in_threads(fds, n);
	_exit(0);
}

/* A grandchild does the work, so no zombie is left to this process and nobody waits. */
static int start_detacher(const int *fds, uint32_t n, int go)
{
	pid_t child = fork();
	int status;

	if (child == 0) {
		if (fork() == 0)
			detach_in_child(fds, n, go);
		_exit(0);
	}
	if (child < 0)
		return -1;
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Close `n` attachment descriptors (programs, perf events). */
void stp_bpf_close_all(const int *fds, uint32_t n)
{
	int go[2];

	if (n < 2 || pipe(go) != 0) {
		close_in_threads(fds, n);
		return;
	}
	if (start_detacher(fds, n, go[0]) < 0) {
		close(go[0]);
		close(go[1]);
		close_in_threads(fds, n);
		return;
	}
	close(go[0]);
	for (uint32_t i = 0; i < n; i++)
		close(fds[i]);
	close(go[1]);  /* the child may close its copies: the last ones */
}
