/* probe_timing.c - how long each probe's handler takes, for stap -t's hit report and the
 * monitor's per-probe statistics.
 *
 * stap times handlers in CPU cycles (get_cycles(): rdtsc on x86-64) and keeps one
 * statistic per probe, so the report shows min/avg/max and stap's variance.  We read the
 * same counter through tapset_cycles(), which elsewhere falls back to CLOCK_MONOTONIC_RAW
 * nanoseconds; the report then says "nsecs", as stap's user-space runtime does.  The
 * workbench wants nanoseconds: they are derived from the counter's rate over the run,
 * measured against CLOCK_MONOTONIC (a constant-rate TSC makes that exact enough).
 */
#include <stdio.h>
#include <stdlib.h>

#include "output.h"
#include "probe_timing.h"
#include "records.h"
#include "relay.h"
#include "session.h"
#include "tapset_support.h"

#if defined(__x86_64__) || defined(__i386__)
#define COUNTER_UNIT "cycles"
#else
#define COUNTER_UNIT "nsecs"  /* tapset_cycles() reads CLOCK_MONOTONIC_RAW here */
#endif

static const struct stp_stat_spec plain = {.hist = STP_HIST_NONE};
static struct stp_stat *timings;  /* one per probe, in the probe table's order */
static uint64_t start_count, start_ns;

int stp_timing_init(void)
{
	size_t n = stp_script.nprobes ? stp_script.nprobes : 1;
	timings = calloc(n, sizeof *timings);
	if (timings == NULL) {
		stp_report_error("cannot allocate probe timings: out of memory");
		return -1;
	}
	for (size_t i = 0; i < stp_script.nprobes; i++)
		stp_stat_init(&timings[i], &plain);
	start_count = stp_timing_start();
	start_ns = stp_now_ns();
	return 0;
}

uint64_t stp_timing_start(void)
{
	return (uint64_t)tapset_cycles();
}

void stp_timing_stop(size_t probe, uint64_t start)
{
	stp_stat_add(&timings[probe], (int64_t)(stp_timing_start() - start));
}

/* Counter ticks as nanoseconds, at the rate measured since the run started. */
static uint64_t to_ns(int64_t ticks)
{
	uint64_t count = stp_timing_start() - start_count, ns = stp_now_ns() - start_ns;
	if (count == 0 || ticks <= 0)
		return 0;
	return (uint64_t)((long double)ticks * (long double)ns / (long double)count);
}

void stp_timing_send(size_t probe)
{
	const struct stp_stat *st = &timings[probe];
	int64_t avg = st->count ? st->sum / st->count : 0;
	rec_probe_stat(stp_relay, (uint32_t)probe, stp_script.probes[probe].pp, stp_probe_stats(probe)->hits,
		       to_ns(st->min), to_ns(avg), to_ns(st->max));
}

/* stap's report: a line for every probe that ran, then the refresh report (stap times
 * its module-symbol refreshes there; this runtime has none, so only the heading). */
void stp_timing_report(void)
{
	struct context c;
	memset(&c, 0, sizeof c);
	stp_printf("----- probe hit report: \n");
	for (size_t i = 0; i < stp_script.nprobes; i++) {
		const struct stp_probe *p = &stp_script.probes[i];
		const struct stp_stat *st = &timings[i];
		if (st->count == 0)
			continue;
		stp_printf("%s, (%s), hits: %lld, " COUNTER_UNIT ": %lldmin/%lldavg/%lldmax, variance: %lld,%s, index: %zu\n",
			   p->pp, p->location, (long long)st->count, (long long)st->min, (long long)(st->sum / st->count),
			   (long long)st->max, (long long)stp_stat_variance(&c, st), p->derivation, i);
		stp_timing_send(i);
	}
	stp_printf("----- refresh report:\n");
	stp_flush();
}
