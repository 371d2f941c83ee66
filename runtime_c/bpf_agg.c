/* In-kernel aggregation: the per-CPU maps the capture programs update, created when a
 * program's relocation names them (see bpf_agg.h for the layouts; bpf_agg_merge.c
 * merges them into the script's globals).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf_agg.h"
#include "bpf_runtime.h"

static const struct stp_bpf_agg_map *maps;
static int *fds;
static uint32_t n_maps, probes;
static int zero_fd = -1, hits_fd = -1;

void stp_bpf_agg_register(const struct stp_bpf_agg_map *table, uint32_t n, uint32_t n_probes)
{
	maps = table;
	n_maps = n;
	probes = n_probes;
	fds = malloc((n ? n : 1) * sizeof(*fds));
	for (uint32_t i = 0; fds != NULL && i < n; i++)
		fds[i] = -1;
}

uint32_t stp_bpf_agg_count(void)
{
	return fds != NULL ? n_maps : 0;
}

const struct stp_bpf_agg_map *stp_bpf_agg_map(uint32_t i)
{
	return &maps[i];
}

int stp_bpf_agg_fd(uint32_t i)
{
	return fds[i];
}

uint32_t stp_bpf_agg_largest_value(void)
{
	uint32_t most = 8;

	for (uint32_t i = 0; i < n_maps; i++)
		if (maps[i].value_size > most)
			most = maps[i].value_size;
	return most;
}

int stp_bpf_agg_is_stash(const char *name)
{
	for (uint32_t i = 0; i < stp_bpf_agg_count(); i++)
		if (maps[i].stash && strcmp(maps[i].name, name) == 0)
			return 1;
	return 0;
}

int stp_bpf_agg_hits_fd(uint32_t *n_probes)
{
	*n_probes = probes;
	return hits_fd;
}

int stp_bpf_agg_map_fd(const char *name)
{
	if (strcmp(name, STP_AGG_HITS_MAP) == 0) {
		if (hits_fd < 0)
			hits_fd = stp_bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, probes ? probes : 1, "stp_agg_hits");
		return hits_fd;
	}
	if (strcmp(name, STP_AGG_ZERO_MAP) == 0) {
		if (zero_fd < 0)
			zero_fd = stp_bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, stp_bpf_agg_largest_value(), 1,
						     "stp_agg_zero");
		return zero_fd;
	}
	for (uint32_t i = 0; i < stp_bpf_agg_count(); i++) {
		const struct stp_bpf_agg_map *m = &maps[i];

		if (strcmp(m->name, name) != 0)
			continue;
		if (fds[i] < 0 && m->stash == STP_AGG_STASH_TASK)
			fds[i] = stp_bpf_task_storage_map("stp_agg_stash");
		else if (fds[i] < 0 && m->stash)
			fds[i] = stp_bpf_map_create(BPF_MAP_TYPE_HASH, m->key_size, m->value_size, m->entries, "stp_agg_stash");
		else if (fds[i] < 0 && m->key_size == 0)
			fds[i] = stp_bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, m->value_size, 1, "stp_agg");
		else if (fds[i] < 0)
			fds[i] = stp_bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, m->key_size, m->value_size, m->entries, "stp_agg");
		return fds[i];
	}
	stp_bpf_fail("capture program refers to unknown aggregation map '%s'", name);
	return -1;
}

void stp_bpf_agg_close(void)
{
	for (uint32_t i = 0; i < stp_bpf_agg_count(); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	if (zero_fd >= 0)
		close(zero_fd);
	if (hits_fd >= 0)
		close(hits_fd);
	zero_fd = hits_fd = -1;
}
