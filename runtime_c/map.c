/* map.c - associative arrays: up to 9 mixed long/string indexes, a size limit
 * (MAXMAPENTRIES or `global a[N]`), `%` wrap-around evicting the oldest entry, and
 * insertion order kept for unsorted foreach (as stap's entry list does). */
#include <stdlib.h>

#include "bpf_agg.h"
#include "runtime.h"

struct stp_map {
	const struct stp_map_spec *spec;
	int64_t limit;
	int64_t size;
	size_t nbuckets;
	struct stp_map_entry **buckets;
	struct stp_map_entry *first, *last; /* insertion order */
};

static uint64_t hash_keys(const struct stp_map_spec *spec, const union stp_value *keys)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < spec->arity; i++) {
		if (spec->key_types[i] == STP_STRING) {
			for (const unsigned char *p = (const unsigned char *)keys[i].s; *p; p++)
				h = (h ^ *p) * 1099511628211ull;
			h = (h ^ 0xff) * 1099511628211ull;
		} else {
			h = (h ^ (uint64_t)keys[i].n) * 1099511628211ull;
			h ^= h >> 29;
		}
	}
	return h;
}

static int key_equal(const struct stp_map_spec *spec, const union stp_value *a, const union stp_value *b,
		     unsigned wildcard_mask)
{
	for (int i = 0; i < spec->arity; i++) {
		if (wildcard_mask & (1u << i))
			continue;
		if (spec->key_types[i] == STP_STRING ? strcmp(a[i].s, b[i].s) != 0 : a[i].n != b[i].n)
			return 0;
	}
	return 1;
}

struct stp_map *stp_map_new(const struct stp_map_spec *spec)
{
	struct stp_map *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->spec = spec;
	m->limit = spec->maxsize > 0 ? spec->maxsize : stp_script.limits.maxmapentries;
	m->nbuckets = 64;
	while ((int64_t)m->nbuckets < m->limit && m->nbuckets < (1u << 20))
		m->nbuckets <<= 1;
	m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
	if (m->buckets == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

static void free_entry(const struct stp_map_spec *spec, struct stp_map_entry *e)
{
	for (int i = 0; i < spec->arity; i++)
		if (spec->key_types[i] == STP_STRING)
			free((char *)e->keys[i].s);
	free(e->s);
	stp_stat_free(&e->stat);
	free(e);
}

static void unlink_entry(struct stp_map *m, struct stp_map_entry *e)
{
	struct stp_map_entry **p = &m->buckets[e->hash & (m->nbuckets - 1)];
	while (*p != e)
		p = &(*p)->hash_next;
	*p = e->hash_next;
	if (e->prev)
		e->prev->next = e->next;
	else
		m->first = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		m->last = e->prev;
	m->size--;
	free_entry(m->spec, e);
}

void stp_map_clear(struct stp_map *m)
{
	while (m->first)
		unlink_entry(m, m->first);
}

void stp_map_free(struct stp_map *m)
{
	if (m == NULL)
		return;
	stp_map_clear(m);
	free(m->buckets);
	free(m);
}

struct stp_map_entry *stp_map_first(struct stp_map *m)
{
	return m->first;
}

int64_t stp_map_size(const struct stp_map *m)
{
	return m->size;
}

const struct stp_map_spec *stp_map_spec(const struct stp_map *m)
{
	return m->spec;
}

struct stp_map_entry *stp_map_find(struct stp_map *m, const union stp_value *keys)
{
	uint64_t h = hash_keys(m->spec, keys);
	for (struct stp_map_entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->hash_next)
		if (e->hash == h && key_equal(m->spec, e->keys, keys, 0))
			return e;
	return NULL;
}

static struct stp_map_entry *new_entry(struct stp_map *m, const union stp_value *keys, uint64_t h)
{
	struct stp_map_entry *e = calloc(1, sizeof *e);
	if (e == NULL)
		return NULL;
	for (int i = 0; i < m->spec->arity; i++) {
		e->keys[i] = keys[i];
		if (m->spec->key_types[i] == STP_STRING)
			e->keys[i].s = strdup(keys[i].s);
	}
	if (m->spec->value_type == STP_STATS)
		stp_stat_init(&e->stat, m->spec->stat);
	e->hash = h;
	struct stp_map_entry **bucket = &m->buckets[h & (m->nbuckets - 1)];
	e->hash_next = *bucket;
	*bucket = e;
	e->prev = m->last;
	if (m->last)
		m->last->next = e;
	else
		m->first = e;
	m->last = e;
	m->size++;
	return e;
}

/* The entry for keys, created when missing; NULL (error set) when the map is full. */
static struct stp_map_entry *lookup_or_add(struct context *c, struct stp_map *m, const union stp_value *keys)
{
	struct stp_map_entry *e = stp_map_find(m, keys);
	if (e != NULL)
		return e;
	if (m->size >= m->limit) {
		if (!m->spec->wrap || m->first == NULL) {
			c->last_error = "Array overflow, check MAXMAPENTRIES";
			return NULL;
		}
		unlink_entry(m, m->first);
	}
	e = new_entry(m, keys, hash_keys(m->spec, keys));
	if (e == NULL)
		c->last_error = "out of memory";
	return e;
}

/* For bpf_agg.c: the entry a merged statistic goes to, created as an update would. */
struct stp_map_entry *stp_map_entry_for(struct context *c, struct stp_map *m, const union stp_value *keys)
{
	return lookup_or_add(c, m, keys);
}

int64_t stp_map_get_long(struct stp_map *m, const union stp_value *keys)
{
	struct stp_map_entry *e = stp_map_find(m, keys);
	return e ? e->n : 0;
}

const char *stp_map_get_string(struct stp_map *m, const union stp_value *keys)
{
	struct stp_map_entry *e = stp_map_find(m, keys);
	return e && e->s ? e->s : "";
}

int stp_map_set_long(struct context *c, struct stp_map *m, const union stp_value *keys, int64_t v)
{
	struct stp_map_entry *e = lookup_or_add(c, m, keys);
	if (e == NULL)
		return -1;
	e->n = v;
	return 0;
}

int stp_map_set_string(struct context *c, struct stp_map *m, const union stp_value *keys, const char *v)
{
	/* copied before the lookup: v may point into the entry a wrap-around evicts */
	char *copy = strndup(v, stp_strmax() - 1);
	if (copy == NULL) {
		c->last_error = "out of memory";
		return -1;
	}
	struct stp_map_entry *e = lookup_or_add(c, m, keys);
	if (e == NULL) {
		free(copy);
		return -1;
	}
	free(e->s);
	e->s = copy;
	return 0;
}

int stp_map_add_stat(struct context *c, struct stp_map *m, const union stp_value *keys, int64_t v)
{
	struct stp_map_entry *e = lookup_or_add(c, m, keys);
	if (e == NULL)
		return -1;
	stp_stat_add(&e->stat, v);
	return 0;
}

int stp_map_exists(struct stp_map *m, const union stp_value *keys, unsigned mask)
{
	if (mask == 0)
		return stp_map_find(m, keys) != NULL;
	for (struct stp_map_entry *e = m->first; e; e = e->next)
		if (key_equal(m->spec, e->keys, keys, mask))
			return 1;
	return 0;
}

void stp_map_delete(struct stp_map *m, const union stp_value *keys, unsigned mask)
{
	if (mask == 0) {
		struct stp_map_entry *e = stp_map_find(m, keys);
		if (e)
			unlink_entry(m, e);
		return;
	}
	struct stp_map_entry *e = m->first;
	while (e) {
		struct stp_map_entry *next = e->next;
		if (key_equal(m->spec, e->keys, keys, mask))
			unlink_entry(m, e);
		e = next;
	}
}
