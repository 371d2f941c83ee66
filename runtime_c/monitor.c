/* monitor.c - periodic snapshots of the script's globals and per-probe statistics as
 * structured records (what `stap --monitor` shows), when the reader asks for them, and
 * a last one after the end probes, so the reader ends with the final values and hits. */
#include "bpf_agg.h"
#include "loop.h"
#include "output.h"
#include "probe_timing.h"
#include "records.h"
#include "relay.h"
#include "session.h"

static uint64_t next_snapshot_ns, snapshot_seq;

static void fill_stat(struct rec_stat *out, const struct stp_stat *st, struct context *c)
{
	memset(out, 0, sizeof *out);
	out->count = st->count;
	if (st->count) {
		out->sum = st->sum;
		out->min = st->min;
		out->max = st->max;
		out->avg = st->sum / st->count;
		out->variance = stp_stat_variance(c, st);
	}
	if (st->buckets) {
		out->hist.kind = st->spec->hist == STP_HIST_LOG ? REC_HIST_LOG : REC_HIST_LINEAR;
		out->hist.start = st->spec->start;
		out->hist.stop = st->spec->stop;
		out->hist.interval = st->spec->interval;
		out->hist.nbuckets = (uint32_t)st->buckets;
		out->hist.buckets = st->histogram;
	}
}

static enum rec_value_type rec_type(enum stp_type t)
{
	return t == STP_STRING ? REC_V_STRING : t == STP_STATS ? REC_V_STAT : REC_V_LONG;
}

static void send_scalar(const struct stp_global *g, struct context *c)
{
	struct rec_value v = {.type = rec_type(g->type)};
	struct rec_stat stat;
	if (g->type == STP_LONG)
		v.l = *(const int64_t *)g->addr;
	else if (g->type == STP_STRING)
		v.s = (const char *)g->addr;
	else {
		fill_stat(&stat, (const struct stp_stat *)g->addr, c);
		v.stat = &stat;
	}
	rec_global(stp_relay, g->name, &v);
}

static void send_array(const struct stp_global *g, struct context *c)
{
	struct stp_map *m = *(struct stp_map **)g->addr;
	const struct stp_map_spec *spec = stp_map_spec(m);
	enum rec_value_type key_types[STP_MAX_KEYS];
	for (int i = 0; i < spec->arity; i++)
		key_types[i] = rec_type(spec->key_types[i]);
	static struct rec_array a;
	rec_array_begin(stp_relay, &a, g->name, (unsigned)spec->arity, key_types, rec_type(spec->value_type),
			(uint32_t)stp_map_size(m));
	for (struct stp_map_entry *e = stp_map_first(m); e; e = e->next) {
		struct rec_value keys[STP_MAX_KEYS], value = {.type = rec_type(spec->value_type)};
		struct rec_stat stat;
		for (int i = 0; i < spec->arity; i++)
			keys[i] = (struct rec_value){.type = key_types[i], .l = e->keys[i].n, .s = e->keys[i].s};
		for (int i = 0; i < spec->arity; i++)
			if (key_types[i] == REC_V_LONG)
				keys[i].s = NULL;
		if (spec->value_type == STP_STRING)
			value.s = e->s ? e->s : "";
		else if (spec->value_type == STP_STATS)
			fill_stat(&stat, &e->stat, c), value.stat = &stat;
		else
			value.l = e->n;
		rec_array_row(&a, keys, &value);
	}
	rec_array_end(&a);
}

static void send_snapshot(uint64_t now_ns)
{
	struct context c;
	memset(&c, 0, sizeof c);
	stp_flush();
	stp_bpf_agg_sync(&c);  /* what the kernel aggregated, as the script would read it */
	rec_snapshot_begin(stp_relay, ++snapshot_seq, now_ns);
	for (size_t i = 0; i < stp_script.nglobals; i++) {
		const struct stp_global *g = &stp_script.globals[i];
		if (g->arity == 0)
			send_scalar(g, &c);
		else
			send_array(g, &c);
	}
	for (size_t i = 0; i < stp_script.nprobes; i++)
		stp_timing_send(i);
	rec_snapshot_end(stp_relay, snapshot_seq);
	relay_flush(stp_relay);
}

void stp_monitor_tick(uint64_t now_ns)
{
	uint32_t period = relay_monitor_ms(stp_relay);
	if (period == 0 || now_ns < next_snapshot_ns)
		return;
	next_snapshot_ns = now_ns + (uint64_t)period * 1000000ull;
	send_snapshot(now_ns);
}

void stp_monitor_final(void)
{
	if (relay_monitor_ms(stp_relay) != 0)
		send_snapshot(stp_now_ns());
}

int stp_monitor_timeout_ms(uint64_t now_ns)
{
	if (relay_monitor_ms(stp_relay) == 0)
		return -1;
	return now_ns >= next_snapshot_ns ? 0 : (int)((next_snapshot_ns - now_ns) / 1000000ull) + 1;
}
