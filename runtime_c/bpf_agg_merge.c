/* In-kernel aggregation, the merge: what the per-CPU maps gained since the last merge
 * goes into the script's user-space globals (see bpf_agg.h for the layouts).
 *
 * A merge walks each map's keys, sums the per-CPU values, subtracts the totals
 * remembered from the last merge and applies the difference: counters and sums add,
 * statistics add their count, sum and buckets and widen min/max.  Entries new to the
 * user-space array are created in the order the kernel first saw their keys.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_agg.h"
#include "bpf_runtime.h"
#include "output.h"
#include "session.h"

#define FIRST_NS 0  /* word indexes of a value */
#define HITS 1
#define TOTAL 2
#define COUNT 1
#define SUM 2
#define MIN 3
#define MAX 4
#define SUMSQ 5
#define BUCKETS 6
#define COMM_BYTES 16

/* The totals merged so far for one key. */
struct merged {
	uint8_t *key;       /* NULL: free slot */
	int64_t *totals;    /* value_size / 8 words */
};

struct agg_state {
	struct merged *slots;
	size_t capacity, used;
};

/* One key with something gained since the last merge, waiting to be applied. */
struct gain {
	uint64_t first_ns;
	const uint8_t *key;
	int64_t *delta;     /* words as in a value; min/max are the new totals */
};

static struct agg_state *states;  /* one per map */
static uint64_t *hits_merged;     /* per probe */
static int finished;

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* Possible CPUs, as the kernel sizes per-CPU values ("0-N" in sysfs). */
static int possible_cpus(void)
{
	static int cpus;
	FILE *f;
	int first, last;

	if (cpus > 0)
		return cpus;
	cpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	f = fopen("/sys/devices/system/cpu/possible", "r");
	if (f != NULL) {
		if (fscanf(f, "%d-%d", &first, &last) == 2)
			cpus = last + 1;
		else if (fscanf(f, "%d", &first) == 1)
			cpus = first + 1;
		fclose(f);
	}
	return cpus > 0 ? cpus : 1;
}

/* ---- the totals remembered per key ---------------------------------------------------- */

static uint64_t hash_key(const uint8_t *key, uint32_t size)
{
	uint64_t h = 1469598103934665603ull;

	for (uint32_t i = 0; i < size; i++)
		h = (h ^ key[i]) * 1099511628211ull;
	return h;
}

static struct merged *slot_for(struct agg_state *s, const uint8_t *key, uint32_t key_size)
{
	size_t i = hash_key(key, key_size) & (s->capacity - 1);

	while (s->slots[i].key != NULL && memcmp(s->slots[i].key, key, key_size) != 0)
		i = (i + 1) & (s->capacity - 1);
	return &s->slots[i];
}

static int grow(struct agg_state *s, uint32_t key_size)
{
	struct merged *old = s->slots;
	size_t old_capacity = s->capacity;

	s->capacity = old_capacity ? old_capacity * 2 : 64;
	s->slots = calloc(s->capacity, sizeof(*s->slots));
	if (s->slots == NULL) {
		s->slots = old;
		s->capacity = old_capacity;
		return -1;
	}
	for (size_t i = 0; i < old_capacity; i++)
		if (old[i].key != NULL)
			*slot_for(s, old[i].key, key_size) = old[i];
	free(old);
	return 0;
}

/* The remembered totals for `key` (zeros the first time), or NULL when out of memory. */
static struct merged *remembered(struct agg_state *s, const uint8_t *key, uint32_t key_size, uint32_t words)
{
	struct merged *m;

	if ((s->used + 1) * 2 > s->capacity && grow(s, key_size) < 0)
		return NULL;
	m = slot_for(s, key, key_size);
	if (m->key != NULL)
		return m;
	m->key = malloc(key_size ? key_size : 1);
	m->totals = calloc(words, sizeof(int64_t));
	if (m->key == NULL || m->totals == NULL) {
		free(m->key);
		free(m->totals);
		m->key = NULL;
		return NULL;
	}
	memcpy(m->key, key, key_size);
	s->used++;
	return m;
}

/* ---- reading one key ------------------------------------------------------------------ */

/* Sum the per-CPU values of one key into `out` (value_size / 8 words). */
static void total_of(const struct stp_bpf_agg_map *m, const int64_t *percpu, int cpus, int64_t *out)
{
	uint32_t words = m->value_size / 8;

	memset(out, 0, words * sizeof(int64_t));
	for (int cpu = 0; cpu < cpus; cpu++) {
		const int64_t *v = percpu + (size_t)cpu * words;

		if (v[FIRST_NS] != 0 && (out[FIRST_NS] == 0 || (uint64_t)v[FIRST_NS] < (uint64_t)out[FIRST_NS]))
			out[FIRST_NS] = v[FIRST_NS];
		if (m->stat && v[COUNT] != 0) {
			if (out[COUNT] == 0 || v[MIN] < out[MIN])
				out[MIN] = v[MIN];
			if (out[COUNT] == 0 || v[MAX] > out[MAX])
				out[MAX] = v[MAX];
		}
		for (uint32_t w = 1; w < words; w++)
			if (!m->stat || (w != MIN && w != MAX))
				out[w] += v[w];
	}
}

/* What `now` gained over `before` into `delta` (min/max: the new totals); 0 if nothing. */
static int gained(const struct stp_bpf_agg_map *m, const int64_t *now, int64_t *before, int64_t *delta)
{
	uint32_t words = m->value_size / 8;

	if (now[1] == before[1])  /* hits, or count: nothing happened since */
		return 0;
	for (uint32_t w = 0; w < words; w++)
		delta[w] = m->stat && (w == MIN || w == MAX) ? now[w] : now[w] - before[w];
	delta[FIRST_NS] = now[FIRST_NS];
	memcpy(before, now, words * sizeof(int64_t));
	return 1;
}

/* ---- applying to the user-space global ------------------------------------------------ */

static void keys_of(const struct stp_bpf_agg_map *m, const uint8_t *key, union stp_value *keys,
		    char comms[][COMM_BYTES + 1])
{
	for (uint32_t i = 0; i < m->n_keys && i < STP_MAX_KEYS; i++) {
		const struct stp_bpf_agg_key *k = &m->keys[i];

		switch (k->kind) {
		case STP_AGG_KEY_LONG:
			memcpy(&keys[i].n, key + k->offset, sizeof(int64_t));
			break;
		case STP_AGG_KEY_COMM:
			memcpy(comms[i], key + k->offset, COMM_BYTES);
			comms[i][COMM_BYTES - 1] = '\0';  /* execname() is comm, 15 characters at most */
			keys[i].s = comms[i];
			break;
		case STP_AGG_KEY_NUMBER:
			keys[i].n = k->number;
			break;
		case STP_AGG_KEY_STRING:
			keys[i].s = k->string;
			break;
		}
	}
}

static void apply_stat(struct stp_stat *st, const struct stp_bpf_agg_map *m, const int64_t *delta)
{
	struct stp_stat_delta d = {delta[COUNT], delta[SUM], delta[MIN], delta[MAX], delta[SUMSQ],
				   m->buckets ? delta + BUCKETS : NULL, m->buckets};

	stp_stat_merge(st, &d);
}

static void apply(struct context *c, const struct stp_bpf_agg_map *m, const struct gain *g)
{
	union stp_value keys[STP_MAX_KEYS];
	char comms[STP_MAX_KEYS][COMM_BYTES + 1];
	struct stp_map_entry *e;

	if (m->counter != NULL) {
		*m->counter += g->delta[TOTAL];
		return;
	}
	if (m->scalar != NULL) {
		apply_stat(m->scalar, m, g->delta);
		return;
	}
	keys_of(m, g->key, keys, comms);
	if (!m->stat) {
		int64_t was = stp_map_get_long(*m->array, keys);
		stp_map_set_long(c, *m->array, keys, was + g->delta[TOTAL]);
		return;
	}
	e = stp_map_entry_for(c, *m->array, keys);
	if (e != NULL)
		apply_stat(&e->stat, m, g->delta);
}

static int by_first_seen(const void *a, const void *b)
{
	const struct gain *x = a, *y = b;

	return x->first_ns < y->first_ns ? -1 : x->first_ns > y->first_ns;
}

/* ---- merging one map ------------------------------------------------------------------ */

/* BPF_MAP_GET_NEXT_KEY or BPF_MAP_LOOKUP_ELEM (`out` is the next key or the value:
 * one field of bpf_attr); nonzero on success. */
static int map_op(int cmd, int fd, const void *key, void *out)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)fd;
	attr.key = (uint64_t)(uintptr_t)key;
	attr.value = (uint64_t)(uintptr_t)out;
	return sys_bpf(cmd, &attr) == 0;
}

struct merge_buffers {
	int64_t *percpu, *now;
	struct gain *gains;
	size_t n_gains, max_gains;
};

static int add_gain(struct merge_buffers *b, const struct stp_bpf_agg_map *m, const struct merged *was)
{
	struct gain *g;

	if (b->n_gains == b->max_gains) {
		size_t more = b->max_gains ? b->max_gains * 2 : 64;
		struct gain *bigger = realloc(b->gains, more * sizeof(*bigger));
		if (bigger == NULL)
			return -1;
		b->gains = bigger;
		b->max_gains = more;
	}
	g = &b->gains[b->n_gains];
	g->delta = malloc(m->value_size);
	if (g->delta == NULL)
		return -1;
	g->key = was->key;
	b->n_gains++;
	return 0;
}

/* Collect the gains of map i since the last merge into b->gains. */
static int collect(uint32_t i, struct merge_buffers *b)
{
	const struct stp_bpf_agg_map *m = stp_bpf_agg_map(i);
	uint32_t key_size = m->key_size ? m->key_size : 4;
	uint8_t *key = calloc(2, key_size), *next = key + key_size;
	int more, cpus = possible_cpus();

	if (key == NULL)
		return -1;
	more = m->key_size ? map_op(BPF_MAP_GET_NEXT_KEY, stp_bpf_agg_fd(i), NULL, next) : 1;
	while (more) {
		struct merged *was;

		if (map_op(BPF_MAP_LOOKUP_ELEM, stp_bpf_agg_fd(i), next, b->percpu)) {
			total_of(m, b->percpu, cpus, b->now);
			was = remembered(&states[i], next, key_size, m->value_size / 8);
			if (was == NULL || add_gain(b, m, was) < 0) {
				free(key);
				return -1;
			}
			if (gained(m, b->now, was->totals, b->gains[b->n_gains - 1].delta))
				b->gains[b->n_gains - 1].first_ns = (uint64_t)b->now[FIRST_NS];
			else
				free(b->gains[--b->n_gains].delta);
		}
		memcpy(key, next, key_size);
		more = m->key_size ? map_op(BPF_MAP_GET_NEXT_KEY, stp_bpf_agg_fd(i), key, next) : 0;
	}
	free(key);
	return 0;
}

static void merge_map(struct context *c, uint32_t i, struct merge_buffers *b)
{
	b->n_gains = 0;
	if (collect(i, b) < 0 && c->last_error == NULL)
		c->last_error = "out of memory";
	qsort(b->gains, b->n_gains, sizeof(*b->gains), by_first_seen);
	for (size_t g = 0; g < b->n_gains; g++) {
		if (c->last_error == NULL)
			apply(c, stp_bpf_agg_map(i), &b->gains[g]);
		free(b->gains[g].delta);
	}
}

/* The events each probe handled in the kernel since the last merge count as its hits. */
static void merge_hits(int64_t *percpu, int cpus)
{
	uint32_t n;
	int fd = stp_bpf_agg_hits_fd(&n);

	if (fd < 0 || (hits_merged == NULL && (hits_merged = calloc(n, sizeof(*hits_merged))) == NULL))
		return;
	for (uint32_t probe = 0; probe < n; probe++) {
		uint64_t total = 0;

		if (!map_op(BPF_MAP_LOOKUP_ELEM, fd, &probe, percpu))
			continue;
		for (int cpu = 0; cpu < cpus; cpu++)
			total += (uint64_t)percpu[cpu];
		if (total > hits_merged[probe])
			stp_count_hits(probe, total - hits_merged[probe]);
		hits_merged[probe] = total;
	}
}

void stp_bpf_agg_sync(struct context *c)
{
	struct merge_buffers b = {0};
	uint32_t n = stp_bpf_agg_count(), words = stp_bpf_agg_largest_value() / 8;

	if (finished || n == 0)
		return;
	if (states == NULL)
		states = calloc(n, sizeof(*states));
	b.percpu = calloc((size_t)possible_cpus() * words, sizeof(int64_t));
	b.now = calloc(words, sizeof(int64_t));
	if (states == NULL || b.percpu == NULL || b.now == NULL)
		c->last_error = "out of memory";
	for (uint32_t i = 0; c->last_error == NULL && i < n; i++)
		if (stp_bpf_agg_fd(i) >= 0 && !stp_bpf_agg_map(i)->stash)
			merge_map(c, i, &b);
	if (b.percpu != NULL)
		merge_hits(b.percpu, possible_cpus());
	free(b.percpu);
	free(b.now);
	free(b.gains);
}

static void forget(struct agg_state *s)
{
	for (size_t i = 0; i < s->capacity; i++) {
		free(s->slots[i].key);
		free(s->slots[i].totals);
	}
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

void stp_bpf_agg_final(void)
{
	struct context c;

	if (finished || stp_bpf_agg_count() == 0)
		return;
	memset(&c, 0, sizeof(c));
	stp_bpf_agg_sync(&c);
	if (c.last_error != NULL)
		stp_report_error(c.last_error);
	finished = 1;
	for (uint32_t i = 0; states != NULL && i < stp_bpf_agg_count(); i++)
		forget(&states[i]);
	stp_bpf_agg_close();
}
