/* map_iter.c - foreach over a stable snapshot of a map: optional slice, stable sort on
 * a key column or the value (statistics sort by @count, or the aggregate named), ascending
 * or descending, limit. */
#include <stdlib.h>

#include "runtime.h"

struct sort_key {
	const struct stp_map_spec *spec;
	int column;
	int direction;
	enum stp_sort_aggregate aggregate;
};

static struct sort_key sorting; /* qsort has no context argument; handlers never nest sorts concurrently */

/* The extractors need a context only to report an empty aggregate, and an entry of a
 * statistics array always holds at least one value. */
static int64_t aggregate_of(const struct stp_stat *st)
{
	switch (sorting.aggregate) {
	case STP_SORT_SUM:
		return stp_stat_sum(NULL, st);
	case STP_SORT_MIN:
		return stp_stat_min(NULL, st);
	case STP_SORT_MAX:
		return stp_stat_max(NULL, st);
	case STP_SORT_AVG:
		return stp_stat_avg(NULL, st);
	case STP_SORT_VARIANCE:
		return stp_stat_variance(NULL, st);
	case STP_SORT_COUNT:
		break;
	}
	return st->count;
}

static int compare_column(const struct stp_map_entry *a, const struct stp_map_entry *b)
{
	const struct stp_map_spec *spec = sorting.spec;
	if (sorting.column == 0) {
		if (spec->value_type == STP_STRING)
			return strcmp(a->s ? a->s : "", b->s ? b->s : "");
		int64_t x = spec->value_type == STP_STATS ? aggregate_of(&a->stat) : a->n;
		int64_t y = spec->value_type == STP_STATS ? aggregate_of(&b->stat) : b->n;
		return (x > y) - (x < y);
	}
	int k = sorting.column - 1;
	if (spec->key_types[k] == STP_STRING)
		return strcmp(a->keys[k].s, b->keys[k].s);
	return (a->keys[k].n > b->keys[k].n) - (a->keys[k].n < b->keys[k].n);
}

struct ranked {
	struct stp_map_entry *entry;
	int64_t order; /* insertion position: ties keep it, as stap's merge sort does */
};

static int compare(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;
	int r = compare_column(a->entry, b->entry) * sorting.direction;
	if (r)
		return r;
	return (a->order > b->order) - (a->order < b->order);
}

static int in_slice(const struct stp_map_spec *spec, const struct stp_map_entry *e, const union stp_value *slice,
		    unsigned wildcard_mask)
{
	for (int i = 0; i < spec->arity; i++) {
		if (wildcard_mask & (1u << i))
			continue;
		if (spec->key_types[i] == STP_STRING ? strcmp(e->keys[i].s, slice[i].s) != 0 : e->keys[i].n != slice[i].n)
			return 0;
	}
	return 1;
}

int stp_map_iter_start(struct stp_map_iter *it, struct stp_map *m, int column, int direction,
		       enum stp_sort_aggregate aggregate, int64_t limit, const union stp_value *slice,
		       unsigned wildcard_mask)
{
	const struct stp_map_spec *spec = stp_map_spec(m);
	int64_t n = stp_map_size(m);
	struct ranked *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
	it->entries = NULL;
	it->count = it->pos = 0;
	if (rows == NULL)
		return -1;
	int64_t count = 0;
	for (struct stp_map_entry *e = stp_map_first(m); e; e = e->next) {
		if (slice && !in_slice(spec, e, slice, wildcard_mask))
			continue;
		rows[count].entry = e;
		rows[count].order = count;
		count++;
	}
	if (column >= 0 && direction != 0 && count > 1) {
		sorting = (struct sort_key){spec, column, direction, aggregate};
		qsort(rows, (size_t)count, sizeof *rows, compare);
	}
	if (limit >= 0 && limit < count)
		count = limit;
	it->entries = malloc((size_t)(count ? count : 1) * sizeof *it->entries);
	if (it->entries == NULL) {
		free(rows);
		return -1;
	}
	for (int64_t i = 0; i < count; i++)
		it->entries[i] = rows[i].entry;
	it->count = count;
	free(rows);
	return 0;
}

struct stp_map_entry *stp_map_iter_next(struct stp_map_iter *it)
{
	return it->pos < it->count ? it->entries[it->pos++] : NULL;
}

void stp_map_iter_end(struct stp_map_iter *it)
{
	free(it->entries);
	it->entries = NULL;
	it->count = it->pos = 0;
}
