/* loop.c - the main loop: fires timer probes on schedule, polls registered event
 * sources (kernel ring buffers from bpf_*.c, procfs pipes) and the signal pipe, and
 * keeps the relay flushed, until exit(), an error, a signal or -T ends the session. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "output.h"
#include "relay.h"
#include "session.h"

#define MAX_SOURCES 64

struct source {
	int fd;
	void (*on_ready)(int fd, void *arg);
	void *arg;
	uint64_t period_ns;  /* also called this often (0: only when fd is readable) */
	uint64_t due_ns;
};

static struct source sources[MAX_SOURCES];
static int nsources;
static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t signals_seen;

int stp_add_periodic_source(int fd, void (*on_ready)(int fd, void *arg), void *arg, uint64_t period_ns)
{
	if (nsources == MAX_SOURCES) {
		stp_warn("too many event sources (more than %d)", MAX_SOURCES);
		return -1;
	}
	sources[nsources++] = (struct source){fd, on_ready, arg, period_ns, stp_now_ns() + period_ns};
	return 0;
}

int stp_add_event_source(int fd, void (*on_ready)(int fd, void *arg), void *arg)
{
	return stp_add_periodic_source(fd, on_ready, arg, 0);
}

void stp_source_again(int fd)
{
	for (int i = 0; i < nsources; i++)
		if (sources[i].fd == fd)
			sources[i].due_ns = 0;
}

void stp_source_period(int fd, uint64_t period_ns)
{
	uint64_t now = stp_now_ns();

	for (int i = 0; i < nsources; i++) {
		if (sources[i].fd == fd) {
			sources[i].period_ns = period_ns;
			if (sources[i].due_ns > now + period_ns)
				sources[i].due_ns = now + period_ns;
		}
	}
}

void stp_remove_event_source(int fd)
{
	for (int i = 0; i < nsources; i++) {
		if (sources[i].fd == fd) {
			sources[i] = sources[--nsources];
			return;
		}
	}
}

static void on_signal(int sig)
{
	int saved = errno;
	signals_seen++;
	if (signals_seen > 1 && sig == SIGINT)
		_exit(130); /* a second interrupt forces the exit */
	char byte = (char)sig;
	if (write(signal_pipe[1], &byte, 1) < 0) {
		/* the pipe is full: a wakeup is already pending */
	}
	errno = saved;
}

int stp_signal_count(void)
{
	return signals_seen;
}

int stp_loop_init(void)
{
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		stp_warn("pipe: %s", strerror(errno));
		return -1;
	}
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGHUP, &sa, NULL) < 0) {
		stp_warn("sigaction: %s", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- timers --------------------------------------------------------------------- */

static uint64_t *deadlines; /* per probe; 0 for non-timer probes */

static uint64_t timer_period(const struct stp_probe *p)
{
	int64_t period = p->period_ns;
	if (p->randomize_ns > 0)
		period += (int64_t)(random() % (2 * p->randomize_ns + 1)) - p->randomize_ns;
	return period > 0 ? (uint64_t)period : 1;
}

static int timers_init(uint64_t now)
{
	deadlines = calloc(stp_script.nprobes ? stp_script.nprobes : 1, sizeof *deadlines);
	if (deadlines == NULL)
		return -1;
	for (size_t i = 0; i < stp_script.nprobes; i++)
		if (stp_script.probes[i].kind == STP_PROBE_TIMER)
			deadlines[i] = now + timer_period(&stp_script.probes[i]);
	return 0;
}

/* Fire due timers; returns ns until the next one (-1: none). */
static int64_t run_timers(void)
{
	uint64_t now = stp_now_ns();
	int64_t wait = -1;
	for (size_t i = 0; i < stp_script.nprobes && !stp_exit_requested(); i++) {
		const struct stp_probe *p = &stp_script.probes[i];
		if (p->kind != STP_PROBE_TIMER)
			continue;
		if (deadlines[i] <= now) {
			struct context c;
			stp_context_init(&c, p);
			stp_dispatch(p, &c);
			deadlines[i] += timer_period(p);
			now = stp_now_ns();
			if (deadlines[i] < now) /* fell behind: skip the missed ticks, as a hrtimer would */
				deadlines[i] = now + timer_period(p);
		}
		int64_t ns = deadlines[i] > now ? (int64_t)(deadlines[i] - now) : 0;
		if (wait < 0 || ns < wait)
			wait = ns;
	}
	return wait;
}

/* The nearer of two timeouts in ns (-1: none). */
static int64_t nearer(int64_t a_ns, int64_t b_ns)
{
	if (a_ns < 0)
		return b_ns;
	if (b_ns < 0)
		return a_ns;
	return a_ns < b_ns ? a_ns : b_ns;
}

/* The same with a timeout in ms, as other modules give theirs. */
static int64_t min_timeout(int64_t a_ns, int ms)
{
	return nearer(a_ns, ms < 0 ? -1 : (int64_t)ms * 1000000);
}

/* ns until the first periodic source is due (-1: none). */
static int64_t sources_timeout(uint64_t now)
{
	int64_t wait = -1;
	for (int i = 0; i < nsources; i++) {
		if (sources[i].period_ns == 0)
			continue;
		int64_t ns = sources[i].due_ns > now ? (int64_t)(sources[i].due_ns - now) : 0;
		if (wait < 0 || ns < wait)
			wait = ns;
	}
	return wait;
}

/* Call the sources that are readable (with their fd) or due (with -1).  A callback may
 * remove sources (the last one then moves into its slot), so each slot is checked
 * against the fd polled. */
static void run_sources(const struct pollfd *fds, int n)
{
	uint64_t now = stp_now_ns();
	for (int i = 0; i < n && !stp_exit_requested(); i++) {
		struct source *s = &sources[i];
		if (i >= nsources || s->fd != fds[i].fd)
			continue;
		if (!fds[i].revents && (s->period_ns == 0 || s->due_ns > now))
			continue;
		if (s->period_ns)
			s->due_ns = now + s->period_ns;
		s->on_ready(fds[i].revents ? s->fd : -1, s->arg);
	}
}

static void drain_signals(void)
{
	char bytes[64];
	while (read(signal_pipe[0], bytes, sizeof bytes) > 0)
		continue;
	stp_exit();
}

void stp_loop_run(const struct stp_loop_options *opts)
{
	uint64_t start = stp_now_ns();
	if (timers_init(start) < 0) {
		stp_warn("cannot allocate timers: out of memory");
		return;
	}
	struct pollfd fds[MAX_SOURCES + 1];
	while (!stp_exit_requested() && stp_session_state() == STP_RUNNING) {
		int64_t wait = run_timers();
		uint64_t now = stp_now_ns();
		if (opts->timeout_ms >= 0) {
			int64_t left = opts->timeout_ms - (int64_t)((now - start) / 1000000);
			if (left <= 0) {
				stp_exit();
				break;
			}
			wait = min_timeout(wait, (int)(left < INT32_MAX ? left : INT32_MAX));
		}
		stp_procfs_poll();
		wait = min_timeout(wait, stp_procfs_timeout_ms());
		stp_monitor_tick(now);
		wait = min_timeout(wait, stp_monitor_timeout_ms(now));
		relay_tick(stp_relay);
		wait = min_timeout(wait, relay_poll_timeout_ms(stp_relay));
		wait = nearer(wait, sources_timeout(now));
		if (stp_exit_requested())
			break;
		fds[0] = (struct pollfd){signal_pipe[0], POLLIN, 0};
		int n = nsources;
		for (int i = 0; i < n; i++)
			fds[i + 1] = (struct pollfd){sources[i].fd, POLLIN, 0};
		struct timespec ts = {wait / 1000000000, wait % 1000000000};
		int ready = ppoll(fds, (nfds_t)n + 1, wait < 0 ? NULL : &ts, NULL);
		if (ready < 0 && errno != EINTR) {
			stp_warn("ppoll: %s", strerror(errno));
			stp_exit();
			break;
		}
		if (ready > 0 && fds[0].revents)
			drain_signals();
		if (ready >= 0)
			run_sources(fds + 1, n);
	}
	free(deadlines);
	deadlines = NULL;
}
