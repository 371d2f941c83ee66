/* probe_timing.h - runtime-internal: handler times per probe (probe_timing.c). */
#ifndef STP_PROBE_TIMING_H
#define STP_PROBE_TIMING_H

#include <stddef.h>
#include <stdint.h>

int stp_timing_init(void);  /* after stp_session_init(); starts the rate measurement */
/* Around a handler: stop adds the time since start to probe `probe`'s statistic. */
uint64_t stp_timing_start(void);
void stp_timing_stop(size_t probe, uint64_t start);
/* The probe's REC_PROBE_STAT record: all its hits, handler times in nanoseconds. */
void stp_timing_send(size_t probe);
/* stap -t's "probe hit report" (and its empty "refresh report") on the output. */
void stp_timing_report(void);

#endif
