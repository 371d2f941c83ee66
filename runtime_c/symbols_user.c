/* User symbols: the executable mappings of /proc/PID/maps (cached per process, read
 * again when an address falls outside them) and the mapped files' ELF symbols. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "symbols.h"

struct mapping {
	uint64_t start, end, offset;
	struct stp_elf *elf;
};

struct process_maps {
	int64_t pid;
	struct mapping *maps;
	size_t n;
};

#define CACHED_PROCESSES 16
static struct process_maps processes[CACHED_PROCESSES];

static int add_mapping(struct process_maps *p, size_t *cap, const struct mapping *m)
{
	if (p->n == *cap) {
		size_t grown = *cap ? 2 * *cap : 32;
		struct mapping *maps = realloc(p->maps, grown * sizeof(*maps));

		if (maps == NULL)
			return -1;
		p->maps = maps;
		*cap = grown;
	}
	p->maps[p->n++] = *m;
	return 0;
}

/* Replaces the cached maps only when the process is still there: events queued
 * before it exited can still use what an earlier event read. */
static int read_maps(struct process_maps *p, int64_t pid)
{
	char path[64], line[4608], perms[8], file[4096];
	unsigned long long start, end, offset;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/maps", (long long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;  /* the process has exited since the event */
	free(p->maps);
	*p = (struct process_maps){pid, NULL, 0};
	while (fgets(line, sizeof(line), f) != NULL) {
		struct mapping m;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095s", &start, &end, perms, &offset, file) != 5)
			continue;
		if (perms[2] != 'x' || file[0] != '/' || (m.elf = stp_elf_load(file)) == NULL)
			continue;
		m = (struct mapping){start, end, offset, m.elf};
		if (add_mapping(p, &cap, &m) != 0)
			break;
	}
	fclose(f);
	return 0;
}

static const struct mapping *find_mapping(const struct process_maps *p, uint64_t addr)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (addr >= p->maps[i].start && addr < p->maps[i].end)
			return &p->maps[i];
	return NULL;
}

static const struct mapping *mapping_of(int64_t pid, uint64_t addr)
{
	struct process_maps *p = &processes[(uint64_t)pid % CACHED_PROCESSES];
	const struct mapping *m = p->pid == pid ? find_mapping(p, addr) : NULL;

	if (m == NULL && read_maps(p, pid) == 0)
		m = find_mapping(p, addr);
	return m;
}

/* The file's virtual address for a run-time address: through the file offset and
 * the loadable segment holding it (works for executables and shared objects). */
static int file_vaddr(const struct mapping *m, uint64_t addr, uint64_t *vaddr)
{
	uint64_t offset = addr - m->start + m->offset;
	size_t i;

	for (i = 0; i < m->elf->nsegments; i++) {
		const struct stp_elf_segment *s = &m->elf->segments[i];

		if (offset >= s->offset && offset < s->offset + s->filesz) {
			*vaddr = offset - s->offset + s->vaddr;
			return 1;
		}
	}
	return 0;
}

/* The lowest address and the extent of the file's loadable segments. */
static void module_extent(const struct stp_elf *elf, uint64_t *low, uint64_t *size)
{
	uint64_t high = 0;
	size_t i;

	*low = UINT64_MAX;
	for (i = 0; i < elf->nsegments; i++) {
		const struct stp_elf_segment *s = &elf->segments[i];

		if (s->vaddr < *low)
			*low = s->vaddr;
		if (s->vaddr + s->filesz > high)
			high = s->vaddr + s->filesz;
	}
	*size = high - *low;
}

int stp_user_symbol(int64_t pid, uint64_t addr, struct stp_symbol *sym)
{
	const struct mapping *m = mapping_of(pid, addr);
	const struct stp_symbol *found;
	uint64_t vaddr, low;

	if (m == NULL || !file_vaddr(m, addr, &vaddr))
		return 0;
	found = stp_symtab_find(&m->elf->symbols, vaddr);
	if (found == NULL) {
		module_extent(m->elf, &low, &sym->size);
		*sym = (struct stp_symbol){addr - (vaddr - low), sym->size, NULL, m->elf->path};
		return 2;
	}
	*sym = *found;
	sym->start = addr - (vaddr - found->start);
	return 1;
}
