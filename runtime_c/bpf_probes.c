/* The lifecycle of a script's kernel probes: load, attach, consume, detach.
 *
 * Everything is held as file descriptors of this process (maps, programs, perf
 * events), so detaching is closing them, and the kernel does it for us if the
 * runtime dies.  stp_bpf_stop() is safe to call more than once and after a failed start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bpf_agg.h"
#include "bpf_runtime.h"
#include "bpf_uprobe.h"

#define MAX_ATTACHMENTS 4096

static struct {
	int ring_fd;
	int lost_fd;
	const uint64_t *lost;      /* the lost-record counters, mapped: read without a syscall */
	size_t lost_bytes;
	struct stp_bpf_ring *ring;
	int fds[MAX_ATTACHMENTS];  /* programs and perf events */
	uint32_t n_fds;
	uint32_t n_probes;
	uint32_t ring_bytes;
} state = {-1, -1, NULL, 0, NULL, {0}, 0, 0, 0};

static int keep_fd(int fd)
{
	if (state.n_fds == MAX_ATTACHMENTS) {
		stp_bpf_fail("too many kernel probe attachments (more than %d)", MAX_ATTACHMENTS);
		close(fd);
		return -1;
	}
	state.fds[state.n_fds++] = fd;
	return fd;
}

/* The immediate a relocation names: a map's fd, this process's pid (capture programs
 * skip the runtime's own events, which its handlers would cause), or the ring's fill
 * at which a record wakes the consumer. */
static int relocation_value(const char *name)
{
	if (strcmp(name, "runtime_pid") == 0)
		return (int)getpid();
	if (strcmp(name, "ring_quarter") == 0)
		return (int)(state.ring_bytes / 4);
	if (strcmp(name, "events") == 0)
		return state.ring_fd;
	if (strcmp(name, "lost") == 0)
		return state.lost_fd;
	if (strcmp(name, "entry") == 0)
		return stp_bpf_entry_map();
	if (strncmp(name, "entry_", 6) == 0)
		return stp_bpf_entry_strings_map(name);
	if (strcmp(name, "target") == 0)
		return stp_bpf_target_map();
	if (strncmp(name, "agg", 3) == 0)
		return stp_bpf_agg_map_fd(name);
	if (strcmp(name, "sys_record") == 0)
		return stp_bpf_syscall_record_map();
	stp_bpf_fail("capture program refers to unknown map '%s'", name);
	return -1;
}

/* The instruction a mark (a relocation naming no map) points at, 0 without one. */
static uint32_t mark_at(const struct stp_bpf_probe *probe, const char *mark)
{
	uint32_t i;

	for (i = 0; i < probe->n_relocs; i++)
		if (strcmp(probe->relocs[i].map, mark) == 0)
			return probe->relocs[i].insn;
	return 0;
}

static int is_mark(const char *name)
{
	return strcmp(name, STP_AGG_CAPTURE_MARK) == 0 || strcmp(name, STP_BPF_PROLOGUE_MARK) == 0;
}

/* A copy of the probe's program from instruction `start` on (`*n` instructions), with its
 * relocations patched in (marks are no maps: nothing to patch).  A prologue stays in
 * front: the capture program reads the task, and the record, it finds. */
static struct bpf_insn *relocate(const struct stp_bpf_probe *probe, uint32_t start, uint32_t *n)
{
	uint32_t kept = start > 0 ? mark_at(probe, STP_BPF_PROLOGUE_MARK) : 0;  /* where the prologue ends */
	struct bpf_insn *insns;
	uint32_t i;

	*n = kept + probe->n_insns - start;
	insns = malloc(*n * sizeof(*insns));
	if (insns == NULL) {
		stp_bpf_fail("cannot relocate the capture program for %s: out of memory", probe->probe_point);
		return NULL;
	}
	memcpy(insns, probe->insns, kept * sizeof(*insns));
	memcpy(insns + kept, probe->insns + start, (probe->n_insns - start) * sizeof(*insns));
	for (i = 0; i < probe->n_relocs; i++) {
		const struct stp_bpf_reloc *r = &probe->relocs[i];
		uint32_t at = r->insn < kept ? r->insn : r->insn - start + kept;
		int value;

		if ((r->insn >= kept && r->insn < start) || is_mark(r->map))
			continue;
		value = relocation_value(r->map);
		if (value < 0 || r->insn >= probe->n_insns) {
			free(insns);
			return NULL;
		}
		insns[at].imm = value;
	}
	return insns;
}

static int load_from(const struct stp_bpf_probe *probe, uint32_t type, uint32_t start)
{
	uint32_t n;
	struct bpf_insn *insns = relocate(probe, start, &n);
	int prog_fd;

	if (insns == NULL)
		return -1;
	prog_fd = stp_bpf_prog_load(type, insns, n, probe->probe_point,
				    probe->attach == STP_BPF_SYSCALL_BTF ? probe->btf_id : 0);
	free(insns);
	return prog_fd;
}

/* Where the ordinary capture program starts inside an aggregation program that may
 * fall back to it alone: 0 for capture programs, and for programs sharing a stash of
 * times with other probes (whose handlers would find the user-space stash empty). */
static uint32_t capture_start(const struct stp_bpf_probe *probe)
{
	uint32_t start = mark_at(probe, STP_AGG_CAPTURE_MARK), i;

	for (i = 0; i < probe->n_relocs; i++)
		if (stp_bpf_agg_is_stash(probe->relocs[i].map))
			return 0;
	return start < probe->n_insns ? start : 0;
}

#define VERIFIER_LOG "\nverifier log:\n"  /* as stp_bpf_prog_load() introduces the log */

/* Why the kernel refused a program: the verifier's verdict (the log's last line before
 * its "processed N insns" summary), else the error's first line. */
static void refusal(char *why, size_t size)
{
	const char *error = stp_bpf_error();
	const char *line = strstr(error, VERIFIER_LOG);
	const char *verdict = error;

	if (line != NULL)
		line += strlen(VERIFIER_LOG);
	while (line != NULL && *line != '\0' && strncmp(line, "processed ", 10) != 0) {
		if (*line != '\n')
			verdict = line;
		line = strchr(line, '\n');
		line = line != NULL ? line + 1 : NULL;
	}
	snprintf(why, size, "%.*s", (int)strcspn(verdict, "\n"), verdict);
}

/* Load a probe's relocated program.  An aggregation program the kernel refuses gives way
 * to the probe's capture program: its records go to the user-space handler. */
static int load(const struct stp_bpf_probe *probe, uint32_t type)
{
	uint32_t start = capture_start(probe);
	int prog_fd = load_from(probe, type, 0);
	char why[512];

	if (prog_fd >= 0 || start == 0)
		return prog_fd;
	refusal(why, sizeof(why));
	prog_fd = load_from(probe, type, start);
	if (prog_fd >= 0)
		stp_warn("probe %s: kernel refused the in-kernel aggregation program (%s); using the user-space handler",
			 probe->probe_point, why);
	return prog_fd;
}

static int check_format(const struct stp_bpf_probe *probe)
{
	char now[32];

	if (probe->format_digest == NULL)
		return 0;
	snprintf(now, sizeof(now), "%016llx", (unsigned long long)stp_tracefs_format_digest(probe->target));
	if (strcmp(now, probe->format_digest) == 0)
		return 0;
	stp_bpf_fail("tracepoint %s for probe %s no longer has the format the script was translated "
		     "against; translate the script again",
		     probe->target, probe->probe_point);
	return -1;
}

static int attach_perf_everywhere(int prog_fd, const struct stp_bpf_probe *probe, int target_pid)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long cpu;

	if (target_pid > 0)
		return keep_fd(stp_bpf_attach_perf(prog_fd, probe->perf_type, probe->config, probe->period, target_pid, -1));
	for (cpu = 0; cpu < cpus; cpu++) {
		int fd = stp_bpf_attach_perf(prog_fd, probe->perf_type, probe->config, probe->period, -1, (int)cpu);

		if (fd < 0 || keep_fd(fd) < 0)
			return -1;
	}
	return 0;
}

/* For bpf_uprobe.c: load a probe's relocated program and keep the fd. */
int stp_bpf_load_kept(const struct stp_bpf_probe *probe, uint32_t type)
{
	return stp_bpf_keep(load(probe, type));
}

int stp_bpf_keep(int fd)
{
	return fd < 0 ? -1 : keep_fd(fd);
}

static int attach_probe(const struct stp_bpf_probe *probe, int target_pid)
{
	int is_tracepoint = probe->attach == STP_BPF_TRACEPOINT;
	int prog_fd;

	if (probe->attach == STP_BPF_UPROBE || probe->attach == STP_BPF_RAW_TRACEPOINT)
		return stp_bpf_attach_user(probe);
	if ((is_tracepoint || probe->attach == STP_BPF_SYSCALL_BTF) && check_format(probe) < 0)
		return -1;
	if (probe->attach == STP_BPF_SYSCALL_BTF)
		return stp_bpf_attach_syscall(probe);
	prog_fd = stp_bpf_load_kept(probe, is_tracepoint ? BPF_PROG_TYPE_TRACEPOINT : BPF_PROG_TYPE_PERF_EVENT);
	if (prog_fd < 0)
		return -1;
	if (is_tracepoint)
		return keep_fd(stp_bpf_attach_tracepoint(prog_fd, probe->target)) < 0 ? -1 : 0;
	return attach_perf_everywhere(prog_fd, probe, target_pid);
}

/* The loop checks the counters after every drain, so they are read from memory. */
static int map_lost_counters(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes = ((state.n_probes ? state.n_probes : 1) * sizeof(uint64_t) + page - 1) / page * page;
	void *lost = mmap(NULL, bytes, PROT_READ, MAP_SHARED, state.lost_fd, 0);

	if (lost == MAP_FAILED) {
		stp_bpf_fail("cannot map the lost-record counters: %s", strerror(errno));
		return -1;
	}
	state.lost = lost;
	state.lost_bytes = bytes;
	return 0;
}

int stp_bpf_start(const struct stp_bpf_probe *const *probes, uint32_t n, uint32_t ring_bytes, int target_pid)
{
	uint32_t i;

	state.n_probes = n;
	state.ring_bytes = ring_bytes;
	state.ring_fd = stp_bpf_map_create(BPF_MAP_TYPE_RINGBUF, 0, 0, ring_bytes, "stp_events");
	if (state.ring_fd < 0)
		return -1;
	state.lost_fd = stp_bpf_map_create_flags(BPF_MAP_TYPE_ARRAY, 4, 8, n ? n : 1, BPF_F_MMAPABLE, "stp_lost");
	if (state.lost_fd < 0 || map_lost_counters() < 0)
		goto fail;
	state.ring = stp_bpf_ring_open(state.ring_fd, ring_bytes);
	if (state.ring == NULL)
		goto fail;
	for (i = 0; i < n; i++)
		if (probes[i] != NULL && attach_probe(probes[i], target_pid) < 0)
			goto fail;
	return 0;
fail:
	stp_bpf_stop();
	return -1;
}

int stp_bpf_poll_fd(void)
{
	return state.ring_fd;
}

int stp_bpf_drain(stp_bpf_record_fn fn, void *arg)
{
	if (state.ring == NULL)
		return 0;
	return stp_bpf_ring_drain(state.ring, fn, arg);
}

uint64_t stp_bpf_lost(uint32_t probe)
{
	if (state.lost == NULL || probe >= state.n_probes)
		return 0;
	return __atomic_load_n(&state.lost[probe], __ATOMIC_RELAXED);
}

/* Detach: perf events and programs (together, see stp_bpf_close_all), then the maps. */
void stp_bpf_stop(void)
{
	stp_bpf_close_all(state.fds, state.n_fds);
	state.n_fds = 0;
	stp_bpf_uprobe_forget();
	stp_bpf_syscall_forget();
	stp_bpf_ring_close(state.ring);
	state.ring = NULL;
	if (state.lost != NULL)
		munmap((void *)state.lost, state.lost_bytes);
	state.lost = NULL;
	if (state.lost_fd >= 0)
		close(state.lost_fd);
	if (state.ring_fd >= 0)
		close(state.ring_fd);
	state.lost_fd = state.ring_fd = -1;
}
