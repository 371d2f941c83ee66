/*
 * records.h - the typed records the runtime sends through the relay channel,
 * one encoder per record type.  The Python decoders are in
 * engine/run/records.py; the payload layouts below are the contract.
 *
 * Every encoder takes the writer from relay_open_from_args(); in text mode
 * (no channel) output goes to stdout, warnings and errors to stderr as
 * "WARNING: msg\n" / "ERROR: msg\n", lost counts as a warning, and the
 * structured records (snapshots, probe statistics) are not printed.
 * Encoders return 0 when the record was written, -1 when it was dropped
 * (the relay counts it and reports it in a REC_LOST record).
 *
 * Payload encoding, little-endian, unaligned inside the payload:
 *   str      u16 length, bytes (no NUL; longer strings are truncated to 65535)
 *   value    by type: REC_V_LONG i64 | REC_V_STRING str | REC_V_STAT stat
 *   stat     i64 count, sum, min, max, avg, variance;
 *            u8 hist kind (REC_HIST_*); i64 start, stop, interval (0 unless
 *            linear); u16 nbuckets; i64 bucket counts[nbuckets]
 *
 *   REC_OUTPUT          raw script output bytes (adjacent writes coalesce)
 *   REC_WARNING         message bytes, without "WARNING: " and newline
 *   REC_ERROR           message bytes, without "ERROR: " and newline
 *   REC_EXIT            i32 exit status
 *   REC_SNAPSHOT_BEGIN  u64 seq, u64 time_ns (CLOCK_MONOTONIC)
 *   REC_GLOBAL          str name, u8 value type, value
 *   REC_ARRAY           str name, u8 nkeys, u8 key types[nkeys] (LONG or
 *                       STRING), u8 value type, u32 total rows in the array,
 *                       u32 rows in this record, rows: keys then value.
 *                       A large array spans several REC_ARRAY records with
 *                       the same name; the reader joins them.
 *   REC_SNAPSHOT_END    u64 seq
 *   REC_PROBE_STAT      u32 probe index, u64 hits, u64 min_ns, u64 avg_ns,
 *                       u64 max_ns, str probe point
 *   REC_LOST            u16 source (REC_LOST_*), u16 0, i32 probe index
 *                       (-1 when none), u64 count, str label
 *
 * Globals, arrays and probe statistics between SNAPSHOT_BEGIN and
 * SNAPSHOT_END form one snapshot; the reader delivers it only when complete.
 * Histogram buckets follow stap: linear has bucket 0 = underflow (< start),
 * buckets 1.. = [start + (i-1)*interval, ...), the last = overflow (>= stop);
 * log has 128 buckets, bucket 64 holds 0, bucket 64+k holds [2^(k-1), 2^k)
 * and bucket 64-k holds (-2^k, -2^(k-1)].
 */
#ifndef STAPUI_RECORDS_H
#define STAPUI_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "relay.h"

enum rec_type {
    REC_OUTPUT = 1,
    REC_WARNING = 2,
    REC_ERROR = 3,
    REC_EXIT = 4,
    REC_SNAPSHOT_BEGIN = 16,
    REC_GLOBAL = 17,
    REC_ARRAY = 18,
    REC_SNAPSHOT_END = 19,
    REC_PROBE_STAT = 32,
    REC_LOST = 48,
};

enum rec_value_type { REC_V_LONG = 0, REC_V_STRING = 1, REC_V_STAT = 2 };

enum rec_hist_kind { REC_HIST_NONE = 0, REC_HIST_LOG = 1, REC_HIST_LINEAR = 2 };

enum rec_lost_source {
    REC_LOST_RING_FULL = 1, /* relay ring full: records the writer dropped */
    REC_LOST_KERNEL = 2,    /* kernel (BPF) ring buffer drops for one probe */
    REC_LOST_OTHER = 3,     /* anything else; the label says what */
    REC_LOST_LIVE_DATA = 4, /* relay ring full: snapshot/statistics records dropped */
};

struct rec_hist {
    enum rec_hist_kind kind;
    int64_t start, stop, interval; /* linear only */
    uint32_t nbuckets;             /* at most 65535 */
    const int64_t *buckets;
};

struct rec_stat {
    int64_t count, sum, min, max, avg, variance;
    struct rec_hist hist; /* kind REC_HIST_NONE for a plain statistic */
};

/* One typed value: a key or the value of a global. */
struct rec_value {
    enum rec_value_type type;
    int64_t l;                   /* REC_V_LONG */
    const char *s;               /* REC_V_STRING, NUL-terminated */
    const struct rec_stat *stat; /* REC_V_STAT */
};

/* Output, warnings, errors, exit (all RELAY_WAIT: they must not drop silently). */
int rec_output(struct relay *r, const char *data, size_t n);
int rec_warning(struct relay *r, const char *msg);
int rec_error(struct relay *r, const char *msg);
int rec_exit(struct relay *r, int status); /* also flushes */

/* A snapshot of globals (RELAY_NOWAIT; the next snapshot supersedes it). */
int rec_snapshot_begin(struct relay *r, uint64_t seq, uint64_t time_ns);
int rec_global(struct relay *r, const char *name, const struct rec_value *value);
int rec_snapshot_end(struct relay *r, uint64_t seq);

/*
 * An array in a snapshot, row by row:
 *     struct rec_array a;
 *     rec_array_begin(r, &a, "counts", 1, (enum rec_value_type[]){REC_V_STRING},
 *                     REC_V_LONG, total_rows);
 *     for each row: rec_array_row(&a, keys, &value);
 *     rec_array_end(&a);
 * Rows are batched into REC_ARRAY records as large as a sub-buffer allows.
 */
#define REC_MAX_KEYS 9
#define REC_ARRAY_BATCH 8192 /* bytes of rows gathered before a record is written */

struct rec_array {
    struct relay *r;
    char name[128];
    uint8_t nkeys;
    uint8_t key_types[REC_MAX_KEYS];
    uint8_t value_type;
    uint32_t total_rows;
    uint32_t rows; /* rows gathered in buf */
    size_t used;   /* bytes gathered in buf */
    int dropped;   /* a record of this array was dropped */
    unsigned char buf[REC_ARRAY_BATCH];
};

int rec_array_begin(struct relay *r, struct rec_array *a, const char *name, unsigned nkeys,
                    const enum rec_value_type *key_types, enum rec_value_type value_type,
                    uint32_t total_rows);
int rec_array_row(struct rec_array *a, const struct rec_value *keys, const struct rec_value *value);
int rec_array_end(struct rec_array *a);

/* Per-probe statistics, as `stap -t` reports them (RELAY_NOWAIT). */
int rec_probe_stat(struct relay *r, uint32_t probe_index, const char *probe_point, uint64_t hits,
                   uint64_t min_ns, uint64_t avg_ns, uint64_t max_ns);

/* A lost-record count from some source (RELAY_WAIT: a loss must be reported). */
int rec_lost(struct relay *r, enum rec_lost_source source, int32_t probe_index, uint64_t count,
             const char *label);

#endif
