/* In-kernel aggregation: per-CPU BPF maps that capture programs update instead of
 * submitting a record (engine/translate/bpf/aggregate_bpf.py), merged into the
 * script's user-space globals before anything reads them.
 *
 * Each aggregation statement of a handler has its own map, whose key holds the
 * indexes computed at probe time (8-byte integers, 16-byte execname()s) and whose
 * per-CPU value is one of:
 *
 *   counter: u64 first_ns, u64 hits, s64 total                 (a[k]++, a[k] += v, n++)
 *   stat:    u64 first_ns, s64 count, sum, min, max, sum of squares, buckets[]   (a[k] <<< v)
 *
 * A stash map (not per-CPU: a thread may move between CPUs) holds the times of the
 * latency pattern, `start[tid()] = gettimeofday_ns()` ... `gettimeofday_ns() - start[tid()]`:
 * the programs alone use it, the user-space array stays empty and nothing is merged.
 *
 * first_ns is when the key was first seen (new entries are created in that order,
 * as the user-space path creates them in event order).  The maps are never cleared:
 * the runtime remembers the totals it last merged per key and adds only what was
 * gained since, so `delete a` in a handler just works on the user-space array.
 */
#ifndef STP_BPF_AGG_H
#define STP_BPF_AGG_H

#include <stdint.h>

#include "runtime.h"

enum stp_bpf_agg_key_kind {
	STP_AGG_KEY_LONG,    /* an 8-byte integer at `offset` of the BPF key */
	STP_AGG_KEY_COMM,    /* a 16-byte comm (execname()) at `offset` */
	STP_AGG_KEY_NUMBER,  /* the constant `number` */
	STP_AGG_KEY_STRING   /* the constant `string` */
};

struct stp_bpf_agg_key {
	enum stp_bpf_agg_key_kind kind;
	uint32_t offset;
	int64_t number;
	const char *string;
};

struct stp_bpf_agg_map {
	const char *name;          /* the capture programs' relocation name ("agg0" ...) */
	uint32_t key_size;         /* 0: a one-entry per-CPU array (every index constant) */
	uint32_t value_size;
	uint32_t entries;          /* the array's size limit (MAXMAPENTRIES or global a[N]) */
	int stat;                  /* stat value (else counter) */
	int buckets;               /* histogram buckets in a stat value */
	const struct stp_bpf_agg_key *keys;  /* the user-space array's indexes */
	uint32_t n_keys;
	struct stp_map **array;    /* the global it feeds: an array, */
	int64_t *counter;          /* a long scalar, */
	struct stp_stat *scalar;   /* or a statistics scalar */
	int stash;                 /* a stash of u64 CLOCK_MONOTONIC times: STP_AGG_STASH_* */
};

/* Hooks in map.c and stat.c for the merge. */
struct stp_map_entry *stp_map_entry_for(struct context *c, struct stp_map *m, const union stp_value *keys);
struct stp_stat_delta {
	int64_t count, sum, min, max, sumsq;  /* min/max: over every value so far */
	const int64_t *buckets;               /* n_buckets counts, or NULL */
	int n_buckets;
};
void stp_stat_merge(struct stp_stat *st, const struct stp_stat_delta *d);

#define STP_AGG_ZERO_MAP "agg_zero"  /* per-CPU template new entries are copied from */
#define STP_AGG_HITS_MAP "agg_hits"  /* per-CPU u64 per probe: its events handled in the kernel */
/* Not a map: the relocation marking where an aggregation program's fallback, the probe's
 * ordinary capture program, starts; loaded alone when the kernel refuses the whole. */
#define STP_AGG_CAPTURE_MARK "agg_capture"

/* bpf_agg.c.  From the generated init_globals: the script's aggregation maps, and how
 * many probes it has (the "agg_hits" map counts each one's events handled in the kernel). */
void stp_bpf_agg_register(const struct stp_bpf_agg_map *maps, uint32_t n, uint32_t n_probes);
/* The fd for relocation `name` (created on first use), or -1 with stp_bpf_error() set. */
int stp_bpf_agg_map_fd(const char *name);
uint32_t stp_bpf_agg_count(void);
const struct stp_bpf_agg_map *stp_bpf_agg_map(uint32_t i);
int stp_bpf_agg_fd(uint32_t i);            /* -1 until a program used the map */
int stp_bpf_agg_hits_fd(uint32_t *n_probes);  /* -1 until a program used it */
uint32_t stp_bpf_agg_largest_value(void);  /* bytes of the largest value (the zero template) */
int stp_bpf_agg_is_stash(const char *name);  /* relocation `name` is a stash map of times */

#define STP_AGG_STASH_HASH 1  /* a hash map by the u64 keys */
#define STP_AGG_STASH_TASK 2  /* task-local storage: stash[tid()] of syscall probes */
/* bpf_task_storage.c: a task-local storage map of u64 values: its fd, or -1 with stp_bpf_error(). */
int stp_bpf_task_storage_map(const char *name);
void stp_bpf_agg_close(void);

/* bpf_agg_merge.c (needs the runtime's maps and statistics). */
/* Merge what the kernel counted since the last merge; on a full user-space array
 * c->last_error is set as a handler's update would set it. */
void stp_bpf_agg_sync(struct context *c);
/* The last merge (kernel probes are being detached), then close the maps. */
void stp_bpf_agg_final(void);

#endif
