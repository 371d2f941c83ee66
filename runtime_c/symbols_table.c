/* A sorted symbol table with binary search. */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "symbols.h"

int stp_symtab_add(struct stp_symtab *t, uint64_t start, uint64_t size, const char *name, const char *module)
{
	struct stp_symbol *grown;
	char *copy;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 1024;

		grown = realloc(t->syms, cap * sizeof(*grown));
		if (grown == NULL)
			return -1;
		t->syms = grown;
		t->cap = cap;
	}
	copy = strdup(name);
	if (copy == NULL)
		return -1;
	t->syms[t->n++] = (struct stp_symbol){start, size, copy, module};
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct stp_symbol *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sort; kallsyms has no sizes, so there a symbol ends where the next one starts. */
void stp_symtab_sort(struct stp_symtab *t, int sizes_from_next)
{
	size_t i;

	qsort(t->syms, t->n, sizeof(*t->syms), by_start);
	if (!sizes_from_next)
		return;
	for (i = 0; i + 1 < t->n; i++)
		t->syms[i].size = t->syms[i + 1].start - t->syms[i].start;
}

/* The last symbol starting at or below addr, if addr is inside it. */
const struct stp_symbol *stp_symtab_find(const struct stp_symtab *t, uint64_t addr)
{
	size_t lo = 0, hi = t->n;
	const struct stp_symbol *s;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	s = &t->syms[lo - 1];
	while (s > t->syms && s->size == 0 && s[-1].start == s->start)
		s--;  /* aliases at one address: the one with a size */
	return addr < s->start + s->size ? s : NULL;
}
