/* hist.c - stap's text rendering of @hist_log / @hist_linear:
 *
 *   value |-------------------------------------------------- count
 *       0 |@@@@                                                4
 *       1 |@@                                                  2
 *
 * Rows run from the first to the last non-empty bucket widened by up to two empty
 * buckets each side; runs of empty rows are elided to a "~" line; bars are scaled to
 * 50 columns. */
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

#define HIST_WIDTH 50
#define HIST_ELISION 2

struct text {
	char *buf;
	size_t len, cap;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap + (size_t)n) * 2;
		char *grown = realloc(t->buf, cap);
		if (grown == NULL)
			return;
		t->buf = grown;
		t->cap = cap;
	}
}

static int digits(int64_t v)
{
	int n = v <= 0 ? 1 : 0; /* "0" or the minus sign */
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	for (; u; u /= 10)
		n++;
	return n;
}

struct range {
	int low, high;  /* bucket rows printed */
	int under, over; /* linear: underflow / overflow rows shown */
	int64_t peak;
};

static struct range row_range(const struct stp_stat *st)
{
	struct range r = {-1, 0, 0, 0, 0};
	for (int i = 0; i < st->buckets; i++) {
		int64_t n = st->histogram[i];
		if (n > 0 && r.low == -1)
			r.low = i;
		if (n > 0)
			r.high = i;
		if (n > r.peak)
			r.peak = n;
	}
	int is_log = st->spec->hist == STP_HIST_LOG;
	for (int i = 0; i < 2; i++) {
		if (r.low > 0 && !(is_log && r.low == STP_HIST_LOG_BUCKET0))
			r.low--;
		if (r.high < st->buckets - 1)
			r.high++;
	}
	if (!is_log) {
		if (r.low == 0 && st->histogram[0] == 0)
			r.low++;
		if (r.high == st->buckets - 1 && st->histogram[r.high] == 0)
			r.high--;
		r.under = r.low == 0;
		r.over = r.high == st->buckets - 1;
	}
	return r;
}

static int value_width(const struct stp_stat *st, const struct range *r)
{
	int w;
	if (st->spec->hist == STP_HIST_LINEAR) {
		int a = digits(st->spec->start) + r->under;
		int b = digits(st->spec->start + st->spec->interval * r->high) + r->over;
		w = a > b ? a : b;
	} else {
		int a = digits(stp_stat_bucket_value(st, r->high));
		int b = digits(stp_stat_bucket_value(st, r->low));
		w = a > b ? a : b;
	}
	return w > 5 ? w : 5;
}

/* A row is elided when it and its neighbours within HIST_ELISION rows are all empty. */
static int elided(const struct stp_stat *st, const struct range *r, int i)
{
	int from = i - HIST_ELISION > r->low ? i - HIST_ELISION : r->low;
	int to = i + HIST_ELISION < r->high ? i + HIST_ELISION : r->high;
	for (int k = from; k <= to; k++)
		if (st->histogram[k] != 0)
			return 0;
	return 1;
}

static const char *row_prefix(const struct stp_stat *st, int i)
{
	if (st->spec->hist != STP_HIST_LINEAR)
		return "";
	if (i == 0)
		return "<";
	return i == st->buckets - 1 ? ">" : "";
}

char *stp_stat_format_hist(const struct stp_stat *st)
{
	struct text t = {NULL, 0, 0};
	if (st->buckets == 0)
		return calloc(1, 1);
	struct range r = row_range(st);
	int64_t scale = r.peak <= HIST_WIDTH ? 1 : (r.peak + HIST_WIDTH - 1) / HIST_WIDTH;
	int count_width = digits(r.peak);
	int vw = value_width(st, &r);
	put(&t, "%*s |", vw, "value");
	for (int j = 0; j < HIST_WIDTH; j++)
		put(&t, "-");
	put(&t, " count\n");
	int eliding = 0;
	for (int i = r.low; i <= r.high; i++) {
		if (elided(st, &r, i)) {
			eliding = 1;
			continue;
		}
		if (eliding)
			put(&t, "%*s ~\n", vw, "");
		eliding = 0;
		int64_t value = stp_stat_bucket_value(st, i);
		put(&t, "%*s%lld |", vw - digits(value), row_prefix(st, i), (long long)value);
		int64_t bar = st->histogram[i] / scale;
		for (int64_t j = 0; j < bar; j++)
			put(&t, "@");
		put(&t, "%*lld\n", (int)(HIST_WIDTH - bar + 1 + count_width), (long long)st->histogram[i]);
	}
	put(&t, "\n");
	return t.buf ? t.buf : calloc(1, 1);
}

/* The text of a non-empty histogram (malloc'd), or NULL with "empty aggregate" set. */
static char *hist_text(struct context *c, const struct stp_stat *st)
{
	if (st == NULL || st->count == 0) {
		c->last_error = "empty aggregate";
		return NULL;
	}
	return stp_stat_format_hist(st);
}

void stp_stat_print_hist(struct context *c, const struct stp_stat *st)
{
	char *text = hist_text(c, st);
	if (text == NULL)
		return;
	stp_output(text, strlen(text));
	free(text);
}

void stp_stat_sprint_hist(struct context *c, char *dst, const struct stp_stat *st)
{
	char *text = hist_text(c, st);
	dst[0] = '\0';
	if (text == NULL)
		return;
	stp_strset(dst, text);
	free(text);
}
