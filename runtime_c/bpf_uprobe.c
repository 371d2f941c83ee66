/* Attaching uprobe capture programs through the uprobe PMU: perf_event_open with
 * config1 = the binary's path and config2 = the file offset (config bit 0 for a
 * uretprobe, bits 32-63 the SDT semaphore's offset, which the kernel increments while
 * attached).  One event (cpu 0, every process) runs the program wherever the probe
 * is hit; with -x/-c the program itself goes on only in the target's process
 * hierarchy, as stap restricts process probes (perf's per-process events do not
 * follow forks: inheriting one with a BPF program makes fork fail). */
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_uprobe.h"

#define UPROBE_PMU_TYPE "/sys/bus/event_source/devices/uprobe/type"
#define ENTRY_MAP_ENTRIES 4096  /* threads inside a probed function with entry values */
#define ENTRY_VALUE_BYTES 64    /* capture_bpf.MAX_ENTRY_VALUES u64s */

static uint32_t filter_tgid;
static int entry_map_fd = -1;
static int entry_strings_fd = -1, entry_scratch_fd = -1;
static uint32_t entry_string_bytes;  /* value size of both: the probes' strings read at entry */
static int target_map_fd = -1;

/* The capture programs read the filter from the "target" map (capture_bpf._in_target). */
void stp_bpf_uprobe_filter(int pid)
{
	filter_tgid = (uint32_t)pid;
}

int stp_bpf_target_map(void)
{
	union bpf_attr attr;
	uint32_t key = 0;

	if (target_map_fd >= 0)
		return target_map_fd;
	target_map_fd = stp_bpf_keep(stp_bpf_map_create(BPF_MAP_TYPE_ARRAY, 4, 4, 1, "stp_target"));
	if (target_map_fd < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)target_map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&filter_tgid;
	if (syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)) < 0) {
		stp_bpf_fail("cannot set the target process filter: %s", strerror(errno));
		return -1;
	}
	return target_map_fd;
}

int stp_bpf_entry_map(void)
{
	if (entry_map_fd < 0)
		entry_map_fd = stp_bpf_keep(stp_bpf_map_create(BPF_MAP_TYPE_HASH, 8, ENTRY_VALUE_BYTES, ENTRY_MAP_ENTRIES, "stp_entry"));
	return entry_map_fd;
}

/* @entry(user_string(...)): the strings stashed by thread, and the per-CPU value they
 * are read into first (too big for a BPF program's stack). */
int stp_bpf_entry_strings_map(const char *name)
{
	if (entry_string_bytes == 0) {
		stp_bpf_fail("capture program refers to map '%s' without entry strings", name);
		return -1;
	}
	if (strcmp(name, "entry_scratch") == 0) {
		if (entry_scratch_fd < 0)
			entry_scratch_fd = stp_bpf_keep(stp_bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, entry_string_bytes, 1,
									   "stp_entry_tmp"));
		return entry_scratch_fd;
	}
	if (entry_strings_fd < 0)
		entry_strings_fd = stp_bpf_keep(stp_bpf_map_create(BPF_MAP_TYPE_HASH, 8, entry_string_bytes, ENTRY_MAP_ENTRIES,
								   "stp_entry_strs"));
	return entry_strings_fd;
}

void stp_bpf_uprobe_forget(void)
{
	entry_map_fd = target_map_fd = entry_strings_fd = entry_scratch_fd = -1;
	entry_string_bytes = 0;
	stp_bpf_process_forget();
}

static int uprobe_pmu_type(void)
{
	FILE *f = fopen(UPROBE_PMU_TYPE, "r");
	int type = -1;

	if (f == NULL) {
		stp_bpf_fail("this kernel has no uprobe PMU (%s: %s)", UPROBE_PMU_TYPE, strerror(errno));
		return -1;
	}
	if (fscanf(f, "%d", &type) != 1)
		stp_bpf_fail("cannot read the uprobe PMU type from %s", UPROBE_PMU_TYPE);
	fclose(f);
	return type;
}

/* The binary must still be the build the script was translated against. */
static int check_build_id(const struct stp_bpf_probe *probe)
{
	char now[128];

	if (probe->uprobe->build_id == NULL)
		return 0;
	if (stp_elf_build_id(probe->target, now, sizeof(now)) < 0)
		return -1;
	if (strcmp(now, probe->uprobe->build_id) == 0)
		return 0;
	stp_bpf_fail("%s has changed since the script was translated (build-id %s, expected %s); "
		     "translate the script again",
		     probe->target, now[0] ? now : "none", probe->uprobe->build_id);
	return -1;
}

static int open_uprobe(const struct stp_bpf_probe *probe, int prog_fd, uint64_t offset, int retprobe, uint64_t ref_ctr)
{
	struct perf_event_attr attr;
	int type = uprobe_pmu_type();
	pid_t pid = probe->uprobe->pid;
	int fd;

	if (type < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)type;
	attr.config = (retprobe ? 1ULL : 0ULL) | (ref_ctr << 32);
	attr.config1 = (uint64_t)(uintptr_t)probe->target;
	attr.config2 = offset;
	attr.sample_period = 1;
	attr.disabled = 1;
	/* A per-task event makes the kernel place the breakpoint in that process only
	 * (its uprobe filter compares address spaces, so every thread of it is probed). */
	if (pid > 0)
		fd = (int)syscall(__NR_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	else
		fd = (int)syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		stp_bpf_fail("cannot place a uprobe for %s in %s at offset 0x%llx: %s", probe->probe_point, probe->target,
			     (unsigned long long)offset, strerror(errno));
		return -1;
	}
	if (stp_bpf_keep(fd) < 0)
		return -1;
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog_fd) != 0) {
		stp_bpf_fail("cannot attach the capture program to the uprobe for %s: %s", probe->probe_point, strerror(errno));
		return -1;
	}
	if (ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		stp_bpf_fail("cannot enable the uprobe for %s: %s", probe->probe_point, strerror(errno));
		return -1;
	}
	return 0;
}

/* process(PID): the process must still run the binary the script was translated for
 * (the pid may have been reused since). */
static int check_process(const struct stp_bpf_probe *probe)
{
	char link[64], exe[4096];
	ssize_t n;

	if (probe->uprobe->pid <= 0)
		return 0;
	snprintf(link, sizeof(link), "/proc/%d/exe", probe->uprobe->pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0) {
		stp_bpf_fail("cannot probe pid %d for %s: %s", probe->uprobe->pid, probe->probe_point,
			     errno == ENOENT ? "No such process" : strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	if (strcmp(exe, probe->target) != 0) {
		stp_bpf_fail("process %d runs %s, not %s as when the script was translated; translate the script again",
			     probe->uprobe->pid, exe, probe->target);
		return -1;
	}
	return 0;
}

/* A .return probe's companion at the function's entry, stashing its entry values. */
static int attach_entry(const struct stp_bpf_probe *probe)
{
	const struct stp_bpf_uprobe *u = probe->uprobe;
	struct stp_bpf_probe entry = *probe;
	int prog_fd;

	entry.insns = u->entry_insns;
	entry.n_insns = u->n_entry_insns;
	entry.relocs = u->entry_relocs;
	entry.n_relocs = u->n_entry_relocs;
	if (u->entry_string_bytes > entry_string_bytes)  /* the same for every probe of a script */
		entry_string_bytes = u->entry_string_bytes;
	prog_fd = stp_bpf_load_kept(&entry, BPF_PROG_TYPE_KPROBE);
	if (prog_fd < 0)
		return -1;
	return open_uprobe(probe, prog_fd, u->entry_offset, 0, 0);
}

#define UPROBE_FILES 32
static const char *uprobe_files[UPROBE_FILES];

static void remember_file(const char *path)
{
	size_t i;

	for (i = 0; i < UPROBE_FILES && uprobe_files[i] != NULL; i++)
		if (strcmp(uprobe_files[i], path) == 0)
			return;
	if (i < UPROBE_FILES)
		uprobe_files[i] = path;
}

const char *stp_bpf_uprobe_file(size_t i)
{
	return i < UPROBE_FILES ? uprobe_files[i] : NULL;
}

int stp_bpf_attach_user(const struct stp_bpf_probe *probe)
{
	const struct stp_bpf_uprobe *u = probe->uprobe;
	int prog_fd;

	if (u != NULL && u->process != NULL)
		return stp_bpf_attach_process(probe);
	if (probe->attach == STP_BPF_RAW_TRACEPOINT)
		return stp_bpf_attach_raw_tracepoint(probe);
	if (check_build_id(probe) < 0 || check_process(probe) < 0)
		return -1;
	if (u->n_entry_insns > 0 && attach_entry(probe) < 0)
		return -1;
	prog_fd = stp_bpf_load_kept(probe, BPF_PROG_TYPE_KPROBE);
	if (prog_fd < 0)
		return -1;
	remember_file(probe->target);
	return open_uprobe(probe, prog_fd, u->offset, u->retprobe, u->ref_ctr_offset);
}
