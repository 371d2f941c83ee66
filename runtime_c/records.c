/*
 * records.c - one encoder per record type (layouts in records.h).  In text
 * mode (no channel) the encoders print what a shell user should see.
 */
#include "records.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A write cursor over a payload. */
struct enc {
    unsigned char *p;
};

static void put(struct enc *e, const void *src, size_t n)
{
    memcpy(e->p, src, n);
    e->p += n;
}

static void put_u8(struct enc *e, uint8_t v) { put(e, &v, 1); }
static void put_u16(struct enc *e, uint16_t v) { put(e, &v, 2); }
static void put_u32(struct enc *e, uint32_t v) { put(e, &v, 4); }
static void put_i32(struct enc *e, int32_t v) { put(e, &v, 4); }
static void put_u64(struct enc *e, uint64_t v) { put(e, &v, 8); }
static void put_i64(struct enc *e, int64_t v) { put(e, &v, 8); }

static size_t str_len(const char *s)
{
    size_t n = s == NULL ? 0 : strlen(s);

    return n > UINT16_MAX ? UINT16_MAX : n;
}

static size_t str_size(const char *s) { return 2 + str_len(s); }

static void put_str(struct enc *e, const char *s)
{
    size_t n = str_len(s);

    put_u16(e, (uint16_t)n);
    put(e, s, n);
}

static uint32_t hist_buckets(const struct rec_stat *st)
{
    if (st->hist.kind == REC_HIST_NONE)
        return 0;
    return st->hist.nbuckets > UINT16_MAX ? UINT16_MAX : st->hist.nbuckets;
}

static size_t stat_size(const struct rec_stat *st)
{
    return 6 * 8 + 1 + 3 * 8 + 2 + 8 * (size_t)hist_buckets(st);
}

static void put_stat(struct enc *e, const struct rec_stat *st)
{
    uint32_t n = hist_buckets(st);
    int linear = st->hist.kind == REC_HIST_LINEAR;

    put_i64(e, st->count);
    put_i64(e, st->sum);
    put_i64(e, st->min);
    put_i64(e, st->max);
    put_i64(e, st->avg);
    put_i64(e, st->variance);
    put_u8(e, (uint8_t)st->hist.kind);
    put_i64(e, linear ? st->hist.start : 0);
    put_i64(e, linear ? st->hist.stop : 0);
    put_i64(e, linear ? st->hist.interval : 0);
    put_u16(e, (uint16_t)n);
    put(e, st->hist.buckets, 8 * (size_t)n);
}

static size_t value_size(enum rec_value_type type, const struct rec_value *v)
{
    if (type == REC_V_LONG)
        return 8;
    if (type == REC_V_STRING)
        return str_size(v->s);
    return stat_size(v->stat);
}

static void put_value(struct enc *e, enum rec_value_type type, const struct rec_value *v)
{
    if (type == REC_V_LONG)
        put_i64(e, v->l);
    else if (type == REC_V_STRING)
        put_str(e, v->s);
    else
        put_stat(e, v->stat);
}

/* Reserve a record of `len` bytes and return a cursor on its payload. */
static int begin(struct relay *r, struct enc *e, enum rec_type type, size_t len, enum relay_wait wait)
{
    if (len > UINT32_MAX) {
        relay_count_lost(r, len, wait);
        return -1;
    }
    e->p = relay_reserve(r, (uint16_t)type, (uint32_t)len, wait);
    return e->p == NULL ? -1 : 0;
}

int rec_output(struct relay *r, const char *data, size_t n)
{
    return relay_write_output(r, data, n) == 0 ? 0 : -1;
}

static int message(struct relay *r, enum rec_type type, const char *prefix, const char *msg)
{
    struct enc e;
    size_t n = strlen(msg);

    if (!relay_is_channel(r)) {
        fflush(stdout);
        fprintf(stderr, "%s: %s\n", prefix, msg);
        return 0;
    }
    if (begin(r, &e, type, n, RELAY_WAIT) != 0)
        return -1;
    put(&e, msg, n);
    relay_commit(r);
    return 0;
}

int rec_warning(struct relay *r, const char *msg) { return message(r, REC_WARNING, "WARNING", msg); }

int rec_error(struct relay *r, const char *msg) { return message(r, REC_ERROR, "ERROR", msg); }

int rec_exit(struct relay *r, int status)
{
    struct enc e;
    int rc = 0;

    if (!relay_is_channel(r)) {
        fflush(stdout);
        return 0;
    }
    if (begin(r, &e, REC_EXIT, 4, RELAY_WAIT) == 0) {
        put_i32(&e, status);
        relay_commit(r);
    } else {
        rc = -1;
    }
    relay_flush(r);
    return rc;
}

/* A record of n u64 values (the snapshot markers). */
static int u64_record(struct relay *r, enum rec_type type, const uint64_t *values, size_t n)
{
    struct enc e;

    if (!relay_is_channel(r))
        return 0;
    if (begin(r, &e, type, 8 * n, RELAY_NOWAIT) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        put_u64(&e, values[i]);
    relay_commit(r);
    return 0;
}

int rec_snapshot_begin(struct relay *r, uint64_t seq, uint64_t time_ns)
{
    return u64_record(r, REC_SNAPSHOT_BEGIN, (uint64_t[]){ seq, time_ns }, 2);
}

int rec_snapshot_end(struct relay *r, uint64_t seq)
{
    return u64_record(r, REC_SNAPSHOT_END, &seq, 1);
}

int rec_global(struct relay *r, const char *name, const struct rec_value *value)
{
    struct enc e;

    if (!relay_is_channel(r))
        return 0;
    if (begin(r, &e, REC_GLOBAL, str_size(name) + 1 + value_size(value->type, value), RELAY_NOWAIT) != 0)
        return -1;
    put_str(&e, name);
    put_u8(&e, (uint8_t)value->type);
    put_value(&e, value->type, value);
    relay_commit(r);
    return 0;
}

int rec_array_begin(struct relay *r, struct rec_array *a, const char *name, unsigned nkeys,
                    const enum rec_value_type *key_types, enum rec_value_type value_type,
                    uint32_t total_rows)
{
    if (nkeys > REC_MAX_KEYS)
        return -1;
    a->r = r;
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->nkeys = (uint8_t)nkeys;
    for (unsigned i = 0; i < nkeys; i++)
        a->key_types[i] = (uint8_t)key_types[i];
    a->value_type = (uint8_t)value_type;
    a->total_rows = total_rows;
    a->rows = 0;
    a->used = 0;
    a->dropped = 0;
    return 0;
}

/* Write the gathered rows as one REC_ARRAY record. */
static int flush_rows(struct rec_array *a)
{
    struct enc e;
    size_t head = str_size(a->name) + 1 + a->nkeys + 1 + 4 + 4;

    if (!relay_is_channel(a->r) || a->rows == 0)
        return 0;
    if (begin(a->r, &e, REC_ARRAY, head + a->used, RELAY_NOWAIT) != 0) {
        a->dropped = 1;
        a->rows = 0;
        a->used = 0;
        return -1;
    }
    put_str(&e, a->name);
    put_u8(&e, a->nkeys);
    put(&e, a->key_types, a->nkeys);
    put_u8(&e, a->value_type);
    put_u32(&e, a->total_rows);
    put_u32(&e, a->rows);
    put(&e, a->buf, a->used);
    relay_commit(a->r);
    a->rows = 0;
    a->used = 0;
    return 0;
}

int rec_array_row(struct rec_array *a, const struct rec_value *keys, const struct rec_value *value)
{
    size_t size = value_size(a->value_type, value);
    struct enc e;

    if (!relay_is_channel(a->r))
        return 0;
    for (unsigned i = 0; i < a->nkeys; i++)
        size += value_size(a->key_types[i], &keys[i]);
    if (size > sizeof(a->buf)) {
        relay_count_lost(a->r, size, RELAY_NOWAIT);
        a->dropped = 1;
        return -1;
    }
    if (a->used + size > sizeof(a->buf) && flush_rows(a) != 0)
        return -1;
    e.p = a->buf + a->used;
    for (unsigned i = 0; i < a->nkeys; i++)
        put_value(&e, a->key_types[i], &keys[i]);
    put_value(&e, a->value_type, value);
    a->used += size;
    a->rows++;
    return 0;
}

int rec_array_end(struct rec_array *a)
{
    int rc = flush_rows(a);

    return a->dropped ? -1 : rc;
}

int rec_probe_stat(struct relay *r, uint32_t probe_index, const char *probe_point, uint64_t hits,
                   uint64_t min_ns, uint64_t avg_ns, uint64_t max_ns)
{
    struct enc e;

    if (!relay_is_channel(r))
        return 0;
    if (begin(r, &e, REC_PROBE_STAT, 4 + 4 * 8 + str_size(probe_point), RELAY_NOWAIT) != 0)
        return -1;
    put_u32(&e, probe_index);
    put_u64(&e, hits);
    put_u64(&e, min_ns);
    put_u64(&e, avg_ns);
    put_u64(&e, max_ns);
    put_str(&e, probe_point);
    relay_commit(r);
    return 0;
}

/* The text pystap prints for a REC_LOST (engine/run/records.py Lost.message). */
static void print_lost(enum rec_lost_source source, uint64_t count, const char *label)
{
    fflush(stdout);
    if (source == REC_LOST_RING_FULL)
        fprintf(stderr, "WARNING: There were %" PRIu64 " transport failures.\n", count);
    else if (source == REC_LOST_KERNEL && label != NULL && *label)
        fprintf(stderr, "WARNING: %" PRIu64 " events lost in the kernel ring buffer for probe %s\n", count,
                label);
    else if (source == REC_LOST_KERNEL)
        fprintf(stderr, "WARNING: %" PRIu64 " events lost in the kernel ring buffer\n", count);
    else if (source == REC_LOST_LIVE_DATA)
        fprintf(stderr, "WARNING: %" PRIu64 " snapshot records dropped: relay buffer full\n", count);
    else
        fprintf(stderr, "WARNING: %" PRIu64 " records lost: %s\n", count, label ? label : "");
}

int rec_lost(struct relay *r, enum rec_lost_source source, int32_t probe_index, uint64_t count,
             const char *label)
{
    struct enc e;

    if (!relay_is_channel(r)) {
        print_lost(source, count, label);
        return 0;
    }
    if (begin(r, &e, REC_LOST, 2 + 2 + 4 + 8 + str_size(label), RELAY_WAIT) != 0)
        return -1;
    put_u16(&e, (uint16_t)source);
    put_u16(&e, 0);
    put_i32(&e, probe_index);
    put_u64(&e, count);
    put_str(&e, label);
    relay_commit(r);
    return 0;
}
