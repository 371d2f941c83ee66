/* stat.c - statistics values: count/sum/min/max/avg/variance and histograms, computed
 * the way stap's runtime does on one CPU (Welford's running variance with the
 * aggregation step stap applies when a value is read). */
#include <stdlib.h>

#include "bpf_agg.h"
#include "runtime.h"

static int linear_buckets(const struct stp_stat_spec *spec)
{
	if (spec->interval <= 0)
		return 0;
	int64_t n = (spec->stop - spec->start) / spec->interval + 3; /* + underflow, overflow */
	if (n > STP_MAX_BUCKETS || n < 3)
		return 0;
	return (int)n;
}

void stp_stat_init(struct stp_stat *st, const struct stp_stat_spec *spec)
{
	memset(st, 0, sizeof *st);
	st->spec = spec;
	if (spec->hist == STP_HIST_LOG)
		st->buckets = STP_HIST_LOG_BUCKETS;
	else if (spec->hist == STP_HIST_LINEAR)
		st->buckets = linear_buckets(spec);
	if (st->buckets)
		st->histogram = calloc((size_t)st->buckets, sizeof(int64_t));
	if (st->buckets && st->histogram == NULL)
		st->buckets = 0;
}

struct stp_stat *stp_stat_new(const struct stp_stat_spec *spec)
{
	struct stp_stat *st = malloc(sizeof *st);
	if (st != NULL)
		stp_stat_init(st, spec);
	return st;
}

void stp_stat_free(struct stp_stat *st)
{
	if (st == NULL)
		return;
	free(st->histogram);
	st->histogram = NULL;
}

void stp_stat_clear(struct stp_stat *st)
{
	st->count = st->sum = st->min = st->max = 0;
	st->avg_s = st->m2 = st->variance_s = 0;
	if (st->histogram)
		memset(st->histogram, 0, (size_t)st->buckets * sizeof(int64_t));
}

/* Bucket of a log histogram: 64 for 0, 64+k for [2^(k-1), 2^k), mirrored for negatives. */
static int log_bucket(int64_t v)
{
	if (v == 0)
		return STP_HIST_LOG_BUCKET0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	int bits = 64 - __builtin_clzll(u);
	int b = v < 0 ? STP_HIST_LOG_BUCKETS - (STP_HIST_LOG_BUCKET0 + bits) : STP_HIST_LOG_BUCKET0 + bits;
	return b >= STP_HIST_LOG_BUCKETS ? STP_HIST_LOG_BUCKETS - 1 : b;
}

static int linear_bucket(const struct stp_stat *st, int64_t v)
{
	int64_t rel = v - st->spec->start;
	int64_t b = rel < 0 ? 0 : (int64_t)((uint64_t)rel / (uint64_t)st->spec->interval) + 1;
	return b >= st->buckets - 1 ? st->buckets - 1 : (int)b;
}

void stp_stat_add(struct stp_stat *st, int64_t v)
{
	int shift = st->spec->bit_shift;
	if (st->count == 0) {
		st->count = 1;
		st->sum = st->min = st->max = v;
		st->avg_s = v << shift;
		st->m2 = 0;
	} else {
		st->count++;
		st->sum += v;
		if (v > st->max)
			st->max = v;
		if (v < st->min)
			st->min = v;
		int delta = (int)((v << shift) - st->avg_s); /* stap keeps delta in an int */
		st->avg_s += delta / st->count;
		st->m2 += (int64_t)delta * ((v << shift) - st->avg_s);
		st->variance_s = st->m2 / (st->count - 1);
	}
	if (st->buckets && st->spec->hist == STP_HIST_LOG)
		st->histogram[log_bucket(v)]++;
	else if (st->buckets)
		st->histogram[linear_bucket(st, v)]++;
}

/* For bpf_agg_merge.c: values aggregated in the kernel, added as if each had been
 * stp_stat_add()ed: count, sum, min, max and buckets exactly; the running variance
 * from the sum of squares, combined as parallel variances combine (Chan et al.), so
 * snapshots show it (no script reading @variance aggregates in the kernel). */
void stp_stat_merge(struct stp_stat *st, const struct stp_stat_delta *d)
{
	int shift = st->spec->bit_shift;
	int64_t n = st->count + d->count;

	if (d->count == 0)
		return;
	if (st->count == 0 || d->min < st->min)
		st->min = d->min;
	if (st->count == 0 || d->max > st->max)
		st->max = d->max;
	__int128 m2 = (__int128)d->sumsq - (__int128)d->sum * d->sum / d->count;  /* of the new values */
	if (st->count > 0) {
		__int128 between = (__int128)d->sum * st->count - (__int128)st->sum * d->count;  /* n_a n_b (mean_b - mean_a) */
		m2 += (__int128)st->m2 + between * between / ((__int128)st->count * d->count * n);
	}
	st->count = n;
	st->sum += d->sum;
	st->avg_s = (st->sum << shift) / n;
	st->m2 = (int64_t)m2;
	st->variance_s = n > 1 ? st->m2 / (n - 1) : 0;
	for (int i = 0; d->buckets != NULL && i < d->n_buckets && i < st->buckets; i++)
		st->histogram[i] += d->buckets[i];
}

static int empty(struct context *c, const struct stp_stat *st)
{
	if (st == NULL || st->count == 0) {
		c->last_error = "empty aggregate";
		return 1;
	}
	return 0;
}

int64_t stp_stat_count(struct context *c, const struct stp_stat *st)
{
	(void)c;
	return st ? st->count : 0;
}

int64_t stp_stat_sum(struct context *c, const struct stp_stat *st)
{
	(void)c; /* like @count, stap gives 0 for an empty aggregate */
	return st ? st->sum : 0;
}

int64_t stp_stat_min(struct context *c, const struct stp_stat *st)
{
	return empty(c, st) ? 0 : st->min;
}

int64_t stp_stat_max(struct context *c, const struct stp_stat *st)
{
	return empty(c, st) ? 0 : st->max;
}

int64_t stp_stat_avg(struct context *c, const struct stp_stat *st)
{
	return empty(c, st) ? 0 : st->sum / st->count;
}

/* The aggregation stap performs when reading (stat.c's total-variance formula, one CPU). */
int64_t stp_stat_variance(struct context *c, const struct stp_stat *st)
{
	if (empty(c, st))
		return 0;
	if (st->count < 2)
		return 0;
	int shift = st->spec->bit_shift;
	int64_t agg_avg = (st->sum << shift) / st->count;
	int64_t d = st->avg_s - agg_avg;
	int64_t s1 = st->count * d * d;
	int64_t s2 = (st->count - 1) * st->variance_s;
	return ((s1 + s2) / (st->count - 1)) >> (2 * shift);
}

int64_t stp_stat_bucket(struct context *c, const struct stp_stat *st, int64_t index)
{
	if (empty(c, st))
		return 0;
	if (index < 0 || index >= st->buckets) {
		c->last_error = "histogram index out of range";
		return 0;
	}
	return st->histogram[index];
}

int64_t stp_stat_bucket_value(const struct stp_stat *st, int i)
{
	if (st->spec->hist == STP_HIST_LINEAR) {
		if (i == 0)
			return st->spec->start;
		if (i == st->buckets - 1)
			return st->spec->start + (int64_t)(i - 2) * st->spec->interval;
		return st->spec->start + (int64_t)(i - 1) * st->spec->interval;
	}
	if (i == STP_HIST_LOG_BUCKET0)
		return 0;
	if (i < STP_HIST_LOG_BUCKET0)
		return INT64_MIN >> i;
	return (int64_t)1 << (i - STP_HIST_LOG_BUCKET0 - 1);
}
