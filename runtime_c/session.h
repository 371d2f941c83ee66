/* session.h - runtime-internal: the session state machine and per-probe statistics. */
#ifndef STP_SESSION_H
#define STP_SESSION_H

#include "runtime.h"

struct stp_probe_stats {
	uint64_t hits;  /* handler times are probe_timing.c's */
};

int stp_session_init(void);
void stp_session_set_state(enum stp_session_state state);
uint64_t stp_session_stopped_ns(void); /* CLOCK_MONOTONIC when it left RUNNING, else 0 */
/* Run every probe of `kind` (in table order) that the current state allows. */
void stp_run_probes(enum stp_probe_kind kind);
const struct stp_probe_stats *stp_probe_stats(size_t index);
void stp_count_hits(size_t index, uint64_t n);  /* events the kernel aggregated: no handler ran */
/* Time every handler (-t); otherwise only while a monitor asks for statistics. */
void stp_set_timing(int on);
int64_t stp_skipped_count(void);
void stp_count_skipped(int64_t n);  /* MAXSKIPPED ends a running session */
int stp_exit_requested(void);
uint64_t stp_now_ns(void); /* CLOCK_MONOTONIC */

#endif
