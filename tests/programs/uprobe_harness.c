/* Test harness for uprobe capture programs: attach each program through the uprobe
 * PMU to one child process, run the child, then print every captured record as hex.
 *
 *   uprobe_harness SPECFILE RING_BYTES -- COMMAND [ARGS...]
 *
 * Each SPECFILE line describes one probe:
 *   PROGRAM.bin PATH OFFSET RETPROBE REF_CTR_OFFSET [SLOT=MAP ...]
 * or, for a BTF raw tracepoint (system-wide; the caller filters by pid):
 *   PROGRAM.bin rawtp:NAME 0 0 0 [SLOT=MAP ...]
 * (MAP is "events", "lost", "entry": the stash of entry values by pid_tgid, or "target":
 * the process filter, left 0; "runtime_pid" is the harness's own pid). The child is forked first and held on a pipe while
 * the probes are attached with its pid, so per-process filtering is the kernel's
 * and nothing fires before every probe is in place. Output: "child PID", one
 * "record HEX" line per record, "lost N" per probe, "exit STATUS".
 * Built against runtime_c/bpf_sys.c, bpf_ring.c and bpf_error.c.
 */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bpf_runtime.h"
#include "../bpf_harness/print_record.h"

#define MAX_PROBES 16
#define MAX_INSNS 4096
#define MAX_RELOCS 16

struct probe_spec {
	struct bpf_insn insns[MAX_INSNS];
	uint32_t n_insns;
	char path[4096];
	unsigned long long offset, ref_ctr_offset;
	int retprobe;
	struct stp_bpf_reloc relocs[MAX_RELOCS];
	char map_names[MAX_RELOCS][16];
	uint32_t n_relocs;
};

static struct probe_spec specs[MAX_PROBES];

static void die(const char *what)
{
	fprintf(stderr, "uprobe_harness: %s\n", what);
	exit(1);
}

static void die_errno(const char *what)
{
	fprintf(stderr, "uprobe_harness: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void read_program(const char *file, struct probe_spec *spec)
{
	FILE *f = fopen(file, "rb");

	if (f == NULL)
		die_errno(file);
	spec->n_insns = (uint32_t)(fread(spec->insns, sizeof(struct bpf_insn), MAX_INSNS, f));
	if (ferror(f))
		die_errno(file);
	fclose(f);
}

static void parse_relocs(char *rest, struct probe_spec *spec)
{
	char *token = strtok(rest, " \n");

	for (; token != NULL; token = strtok(NULL, " \n")) {
		unsigned slot;

		if (spec->n_relocs == MAX_RELOCS)
			die("too many relocations in spec file");
		if (sscanf(token, "%u=%15s", &slot, spec->map_names[spec->n_relocs]) != 2)
			die("bad relocation in spec file");
		spec->relocs[spec->n_relocs].insn = slot;
		spec->relocs[spec->n_relocs].map = spec->map_names[spec->n_relocs];
		spec->n_relocs++;
	}
}

static int read_specs(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[8192], program[4096];
	int n = 0, used;

	if (f == NULL)
		die_errno(file);
	while (n < MAX_PROBES && fgets(line, sizeof(line), f) != NULL) {
		struct probe_spec *spec = &specs[n];

		if (sscanf(line, "%4095s %4095s %llu %d %llu%n", program, spec->path, &spec->offset, &spec->retprobe,
			   &spec->ref_ctr_offset, &used) != 5)
			die("bad line in spec file");
		read_program(program, spec);
		parse_relocs(line + used, spec);
		n++;
	}
	fclose(f);
	return n;
}

static int uprobe_pmu_type(void)
{
	FILE *f = fopen("/sys/bus/event_source/devices/uprobe/type", "r");
	int type;

	if (f == NULL)
		die_errno("/sys/bus/event_source/devices/uprobe/type");
	if (fscanf(f, "%d", &type) != 1)
		die("cannot read the uprobe PMU type");
	fclose(f);
	return type;
}

static int map_fds[4]; /* events, lost, entry, target (0: no process filter) */
static uint32_t ring_bytes;

static int map_fd(const char *name)
{
	if (strcmp(name, "events") == 0)
		return map_fds[0];
	if (strcmp(name, "lost") == 0)
		return map_fds[1];
	if (strcmp(name, "entry") == 0)
		return map_fds[2];
	if (strcmp(name, "target") == 0)
		return map_fds[3];
	if (strcmp(name, "runtime_pid") == 0)
		return (int)getpid();
	if (strcmp(name, "ring_quarter") == 0)
		return (int)(ring_bytes / 4);
	die("unknown map in spec file");
	return -1;
}

static void patch_maps(struct probe_spec *spec)
{
	uint32_t i;

	for (i = 0; i < spec->n_relocs; i++) {
		if (spec->relocs[i].insn >= spec->n_insns)
			die("relocation outside the program");
		spec->insns[spec->relocs[i].insn].imm = map_fd(spec->relocs[i].map);
	}
}

static void attach_raw_tracepoint(struct probe_spec *spec)
{
	union bpf_attr attr;
	int prog_fd;

	prog_fd = stp_bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, spec->insns, spec->n_insns, spec->path, 0);
	if (prog_fd < 0)
		die(stp_bpf_error());
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (uint64_t)(uintptr_t)(spec->path + strlen("rawtp:"));
	attr.raw_tracepoint.prog_fd = (uint32_t)prog_fd;
	if (syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr)) < 0)
		die_errno("BPF_RAW_TRACEPOINT_OPEN");
}

static void attach(struct probe_spec *spec, int pmu, pid_t child)
{
	struct perf_event_attr attr;
	int prog_fd, event_fd;

	if (strncmp(spec->path, "rawtp:", strlen("rawtp:")) == 0) {
		attach_raw_tracepoint(spec);
		return;
	}
	prog_fd = stp_bpf_prog_load(BPF_PROG_TYPE_KPROBE, spec->insns, spec->n_insns, spec->path, 0);
	if (prog_fd < 0)
		die(stp_bpf_error());
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)pmu;
	attr.config = (spec->retprobe ? 1ULL : 0ULL) | (spec->ref_ctr_offset << 32);
	attr.config1 = (uint64_t)(uintptr_t)spec->path;
	attr.config2 = spec->offset;
	attr.sample_period = 1;
	event_fd = (int)syscall(__NR_perf_event_open, &attr, child, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (event_fd < 0)
		die_errno("perf_event_open(uprobe)");
	if (ioctl(event_fd, PERF_EVENT_IOC_SET_BPF, prog_fd) < 0)
		die_errno("PERF_EVENT_IOC_SET_BPF");
	if (ioctl(event_fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
		die_errno("PERF_EVENT_IOC_ENABLE");
}

static pid_t start_held_child(char **argv, int *release_fd)
{
	int fds[2];
	pid_t child;
	char go;

	if (pipe(fds) < 0)
		die_errno("pipe");
	child = fork();
	if (child < 0)
		die_errno("fork");
	if (child == 0) {
		close(fds[1]);
		if (read(fds[0], &go, 1) != 1)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[0]);
	*release_fd = fds[1];
	return child;
}

int main(int argc, char **argv)
{
	uint32_t i;
	int n, release_fd, status;
	struct stp_bpf_ring *ring;
	pid_t child;

	if (argc < 5 || strcmp(argv[3], "--") != 0)
		die("usage: uprobe_harness SPECFILE RING_BYTES -- COMMAND [ARGS...]");
	n = read_specs(argv[1]);
	ring_bytes = (uint32_t)strtoul(argv[2], NULL, 0);
	map_fds[0] = stp_bpf_map_create(BPF_MAP_TYPE_RINGBUF, 0, 0, ring_bytes, "events");
	map_fds[1] = stp_bpf_map_create(BPF_MAP_TYPE_ARRAY, 4, 8, MAX_PROBES, "lost");
	map_fds[2] = stp_bpf_map_create(BPF_MAP_TYPE_HASH, 8, 64, 1024, "entry");
	map_fds[3] = stp_bpf_map_create(BPF_MAP_TYPE_ARRAY, 4, 4, 1, "target");
	if (map_fds[0] < 0 || map_fds[1] < 0 || map_fds[2] < 0 || map_fds[3] < 0)
		die(stp_bpf_error());
	child = start_held_child(argv + 4, &release_fd);
	printf("child %d\n", (int)child);
	for (i = 0; i < (uint32_t)n; i++) {
		patch_maps(&specs[i]);
		attach(&specs[i], uprobe_pmu_type(), child);
	}
	if (write(release_fd, "g", 1) != 1)
		die_errno("releasing the child");
	if (waitpid(child, &status, 0) < 0)
		die_errno("waitpid");
	ring = stp_bpf_ring_open(map_fds[0], ring_bytes);
	if (ring == NULL || stp_bpf_ring_drain(ring, print_record, NULL) < 0)
		die(stp_bpf_error());
	for (i = 0; i < (uint32_t)n; i++) {
		uint64_t lost = 0;

		if (stp_bpf_map_lookup(map_fds[1], &i, &lost) < 0)
			die(stp_bpf_error());
		printf("lost %llu\n", (unsigned long long)lost);
	}
	printf("exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
