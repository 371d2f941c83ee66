/* User symbols: the executable mappings of /proc/PID/maps (cached per process, read
 * again when an address falls outside them) and the mapped files' ELF symbols. A
 * process gone before its event is handled has no maps left; the frames of a stack
 * captured with their modules (build-id, file offset) place their files in its cache
 * instead, found among the probed binaries, the -c command's program and the
 * runtime's own mappings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wordexp.h>

#include "runtime.h"
#include "bpf_uprobe.h"
#include "symbols.h"

struct mapping {
	uint64_t start, end, offset;
	struct stp_elf *elf;
};

struct process_maps {
	int64_t pid;
	struct mapping *maps;
	size_t n, cap;
};

#define CACHED_PROCESSES 16
static struct process_maps processes[CACHED_PROCESSES];

static int add_mapping(struct process_maps *p, const struct mapping *m)
{
	if (p->n == p->cap) {
		size_t grown = p->cap ? 2 * p->cap : 32;
		struct mapping *maps = realloc(p->maps, grown * sizeof(*maps));

		if (maps == NULL)
			return -1;
		p->maps = maps;
		p->cap = grown;
	}
	p->maps[p->n++] = *m;
	return 0;
}

/* Replaces the cached maps only when the process is still there: events queued
 * before it exited can still use what an earlier event read (or what their frames
 * placed). An exiting process (a zombie) has a maps file with nothing in it. */
static int read_maps(struct process_maps *p, int64_t pid)
{
	char path[64], line[4608], perms[8], file[4096];
	unsigned long long start, end, offset;
	struct process_maps fresh = {pid, NULL, 0, 0};
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/maps", (long long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;  /* the process has exited since the event */
	while (fgets(line, sizeof(line), f) != NULL) {
		struct mapping m;

		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095s", &start, &end, perms, &offset, file) != 5)
			continue;
		if (perms[2] != 'x' || file[0] != '/' || (m.elf = stp_elf_load(file)) == NULL)
			continue;
		m = (struct mapping){start, end, offset, m.elf};
		if (add_mapping(&fresh, &m) != 0)
			break;
	}
	fclose(f);
	if (fresh.n == 0)
		return -1;
	free(p->maps);
	*p = fresh;
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

/* Files known by build-id: the probed binaries and what the runtime maps itself. */
#define KNOWN_FILES 64
struct known_file {
	struct stp_elf *elf;
	char build_id[64];
};
static struct known_file known[KNOWN_FILES];
static size_t n_known;

static void know(const char *path)
{
	struct known_file *k = &known[n_known];
	size_t i;

	for (i = 0; i < n_known; i++)
		if (strcmp(known[i].elf->path, path) == 0)
			return;
	if (n_known == KNOWN_FILES || (k->elf = stp_elf_load(path)) == NULL)
		return;
	if (stp_elf_build_id(path, k->build_id, sizeof(k->build_id)) == 0 && k->build_id[0] != '\0')
		n_known++;
}

/* The program a -c command runs, found as execvp finds it (target.c): its process may
 * exit before the events it caused are handled. */
static void know_command(const char *command)
{
	wordexp_t words;
	char path[4096];
	const char *dirs = getenv("PATH");

	if (command == NULL || wordexp(command, &words, WRDE_NOCMD) != 0)
		return;
	if (words.we_wordc > 0 && strchr(words.we_wordv[0], '/') != NULL)
		know(words.we_wordv[0]);
	else if (words.we_wordc > 0)
		while (dirs != NULL && *dirs != '\0') {
			size_t len = strcspn(dirs, ":");

			snprintf(path, sizeof(path), "%.*s/%s", (int)len, dirs, words.we_wordv[0]);
			if (access(path, X_OK) == 0) {
				know(path);
				break;
			}
			dirs += len + (dirs[len] == ':');
		}
	wordfree(&words);
}

static void know_files(void)
{
	static int done;
	struct process_maps self = {0};
	const char *path;
	size_t i;

	if (done)
		return;
	done = 1;
	for (i = 0; (path = stp_bpf_uprobe_file(i)) != NULL; i++)
		know(path);
	know_command(stp_target_command());
	if (read_maps(&self, getpid()) == 0)
		for (i = 0; i < self.n; i++)
			know(self.maps[i].elf->path);
	free(self.maps);
}

static struct stp_elf *elf_with_build_id(const unsigned char *id)
{
	char hex[2 * STP_BUILD_ID_SIZE + 1];
	size_t i;

	know_files();
	for (i = 0; i < STP_BUILD_ID_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	for (i = 0; i < n_known; i++)  /* a shorter build-id is padded with zeros */
		if (strncmp(hex, known[i].build_id, strlen(known[i].build_id)) == 0)
			return known[i].elf;
	return NULL;
}

static uint64_t file_end(const struct stp_elf *elf)
{
	uint64_t end = 0;
	size_t i;

	for (i = 0; i < elf->nsegments; i++)
		if (elf->segments[i].offset + elf->segments[i].filesz > end)
			end = elf->segments[i].offset + elf->segments[i].filesz;
	return end;
}

void stp_user_place_frame(int64_t pid, uint64_t addr, const unsigned char *build_id, uint64_t offset)
{
	struct process_maps *p = &processes[(uint64_t)pid % CACHED_PROCESSES];
	struct mapping m;

	if (mapping_of(pid, addr) != NULL || (m.elf = elf_with_build_id(build_id)) == NULL || offset > addr)
		return;
	if (p->pid != pid) {
		free(p->maps);
		*p = (struct process_maps){pid, NULL, 0, 0};
	}
	m.start = addr - offset;  /* as if mapped whole from file offset 0 */
	m.end = m.start + file_end(m.elf);
	m.offset = 0;
	add_mapping(p, &m);
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
