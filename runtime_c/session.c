/* session.c - stap's session states and the probe epilogue: handlers run only in the
 * state their kind expects (begin: STARTING, end: STOPPING, error: ERROR, others:
 * RUNNING); an error is reported "ERROR: MSG near STMT", counted, and once the count
 * exceeds MAXERRORS the session enters ERROR and stops (end probes then do not run,
 * error probes do). exit() moves RUNNING/STARTING to STOPPING. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "output.h"
#include "probe_timing.h"
#include "relay.h"
#include "session.h"

static enum stp_session_state state = STP_STARTING;
static int64_t error_count, skipped_count;
static int exit_requested;
static struct stp_probe_stats *stats;
static char comm[16];
static char *error_buffer, *procfs_value; /* MAXSTRINGLEN each; one handler runs at a time */
static int64_t own_pid, own_tid, own_ppid, own_uid, own_gid, own_euid, own_egid; /* one thread: fixed */

uint64_t stp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void read_comm(void)
{
	FILE *f = fopen("/proc/self/comm", "r");
	if (f == NULL)
		return;
	if (fgets(comm, sizeof comm, f) != NULL)
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

int stp_session_init(void)
{
	stats = calloc(stp_script.nprobes ? stp_script.nprobes : 1, sizeof *stats);
	error_buffer = calloc(1, stp_strmax());
	procfs_value = calloc(1, stp_strmax());
	if (stats == NULL || error_buffer == NULL || procfs_value == NULL) {
		stp_report_error("cannot allocate probe statistics: out of memory");
		return -1;
	}
	read_comm();
	own_pid = getpid();
	own_tid = gettid();
	own_ppid = getppid();
	own_uid = getuid();
	own_gid = getgid();
	own_euid = geteuid();
	own_egid = getegid();
	return 0;
}

enum stp_session_state stp_session_state(void)
{
	return state;
}

/* When the session left RUNNING: events after it are not handled, as in stap, whose
 * handlers run only while the session runs. */
static uint64_t stopped_ns;

void stp_session_set_state(enum stp_session_state s)
{
	if (state == STP_RUNNING && s != STP_RUNNING)
		stopped_ns = stp_now_ns();
	state = s;
}

uint64_t stp_session_stopped_ns(void)
{
	return stopped_ns;
}

int64_t stp_error_count(void)
{
	return error_count;
}

int64_t stp_skipped_count(void)
{
	return skipped_count;
}

int stp_exit_requested(void)
{
	return exit_requested;
}

void stp_exit(void)
{
	exit_requested = 1;
	if (state == STP_STARTING || state == STP_RUNNING)
		stp_session_set_state(STP_STOPPING);
}

const struct stp_probe_stats *stp_probe_stats(size_t index)
{
	return &stats[index];
}

static int timing;

void stp_set_timing(int on)
{
	timing = on;
}

void stp_context_init_event(struct context *c, const struct stp_probe *p)
{
	memset(c, 0, sizeof *c);
	c->probe = p;
	c->probe_point = p->pp;
	c->probe_name = p->name;
	c->pid = own_pid;
	c->tid = own_tid;
	c->ppid = own_ppid;
	c->uid = own_uid;
	c->gid = own_gid;
	c->euid = own_euid;
	c->egid = own_egid;
	memcpy(c->comm, comm, sizeof c->comm);
	c->error_buffer = error_buffer;
	c->procfs_value = procfs_value;
}

void stp_context_init(struct context *c, const struct stp_probe *p)
{
	stp_context_init_event(c, p);
	c->cpu = sched_getcpu();
	c->time_ns = stp_now_ns();
}

static enum stp_session_state expected_state(enum stp_probe_kind kind)
{
	switch (kind) {
	case STP_PROBE_BEGIN: return STP_STARTING;
	case STP_PROBE_END: return STP_STOPPING;
	case STP_PROBE_ERROR: return STP_ERROR;
	default: return STP_RUNNING;
	}
}

static void report_error(struct context *c)
{
	char msg[2048];

	error_count++;
	if (stp_script.limits.suppress_handler_errors)
		return;  /* as if each handler were wrapped in try { } catch { next } */
	if (c->last_stmt)
		snprintf(msg, sizeof msg, "%s near %s", c->last_error, c->last_stmt);
	else
		snprintf(msg, sizeof msg, "%s", c->last_error);
	stp_report_error(msg);
	if (error_count > stp_script.limits.maxerrors) {
		stp_session_set_state(STP_ERROR);
		exit_requested = 1;
	}
}

void stp_count_hits(size_t index, uint64_t n)
{
	stats[index].hits += n;
}

void stp_dispatch(const struct stp_probe *p, struct context *c)
{
	if (state != expected_state(p->kind))
		return;
	c->actionremaining = stp_script.limits.maxaction;
	c->nesting = -1;
	c->last_error = NULL;
	c->last_stmt = NULL;
	stats[p - stp_script.probes].hits++;
	if (timing || relay_monitor_ms(stp_relay)) {  /* two counter reads: only when asked for */
		uint64_t start = stp_timing_start();
		p->handler(c);
		stp_timing_stop((size_t)(p - stp_script.probes), start);
	} else {
		p->handler(c);
	}
	stp_flush();
	if (c->last_error)
		report_error(c);
}

/* Probes whose handler could not run (their event never reached this process) are
 * skipped, as stap skips those it cannot run; once more than MAXSKIPPED were, a running
 * session stops in ERROR with stap's message, like its probe epilogue does. */
void stp_count_skipped(int64_t n)
{
	skipped_count += n;
	if (stp_script.limits.suppress_handler_errors)
		return;
	if (skipped_count > stp_script.limits.maxskipped && state == STP_RUNNING) {
		stp_session_set_state(STP_ERROR);
		exit_requested = 1;
		stp_report_error("Skipped too many probes, check MAXSKIPPED or try again with stap -t for more details.");
	}
}

/* Probes of `kind` in (sequence, table position) order, as begin(N)/end(N) require. */
void stp_run_probes(enum stp_probe_kind kind)
{
	int64_t last = INT64_MIN;
	size_t last_index = 0;
	int started = 0;
	for (;;) {
		const struct stp_probe *next = NULL;
		size_t next_index = 0;
		for (size_t i = 0; i < stp_script.nprobes; i++) {
			const struct stp_probe *p = &stp_script.probes[i];
			if (p->kind != kind)
				continue;
			int after = !started || p->sequence > last || (p->sequence == last && i > last_index);
			int before = next == NULL || p->sequence < next->sequence;
			if (after && before) {
				next = p;
				next_index = i;
			}
		}
		if (next == NULL)
			return;
		struct context c;
		stp_context_init(&c, next);
		stp_dispatch(next, &c);
		last = next->sequence;
		last_index = next_index;
		started = 1;
	}
}
