/* Syscall probes on the BTF raw tracepoints sys_enter and sys_exit
 * (engine/translate/bpf/syscall_btf.py).
 *
 * The program is a tracing program (BPF_TRACE_RAW_TP) for the btf_trace_sys_enter or
 * btf_trace_sys_exit typedef, whose BTF type id the translator read from the kernel it
 * ran on: the id means nothing to another kernel, so the probe refuses to load there.
 * Its prologue lays the syscall's values out as the perf tracepoint's record, in a
 * per-CPU scratch value (one map for all such probes: programs do not nest on a CPU).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bpf_uprobe.h"

#define RECORD_BYTES 64  /* syscall_btf.RECORD_BYTES: the header and six arguments */

static int record_fd = -1;

int stp_bpf_syscall_record_map(void)
{
	if (record_fd < 0)
		record_fd = stp_bpf_keep(stp_bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, 4, RECORD_BYTES, 1, "stp_sys_record"));
	return record_fd;
}

void stp_bpf_syscall_forget(void)
{
	record_fd = -1;  /* stp_bpf_stop() closed it with the other kept fds */
}

static int same_kernel(const struct stp_bpf_probe *probe)
{
	struct utsname name;
	char running[sizeof(name.release) + sizeof(name.version) + 2];

	if (uname(&name) < 0) {
		stp_bpf_fail("cannot identify the running kernel for %s: %s", probe->probe_point, strerror(errno));
		return -1;
	}
	snprintf(running, sizeof(running), "%s %s", name.release, name.version);
	if (strcmp(running, probe->kernel) == 0)
		return 0;
	stp_bpf_fail("probe %s was translated against kernel %s, not the running %s; translate the script again",
		     probe->probe_point, probe->kernel, running);
	return -1;
}

int stp_bpf_attach_syscall(const struct stp_bpf_probe *probe)
{
	union bpf_attr attr;
	int prog_fd, fd;

	if (same_kernel(probe) < 0)
		return -1;
	prog_fd = stp_bpf_load_kept(probe, BPF_PROG_TYPE_TRACING);
	if (prog_fd < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.prog_fd = (uint32_t)prog_fd;  /* no name: the program's BTF type says where */
	fd = (int)syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
	if (fd < 0) {
		stp_bpf_fail("cannot attach %s to the BTF raw tracepoint of %s: %s", probe->probe_point, probe->target,
			     strerror(errno));
		return -1;
	}
	return stp_bpf_keep(fd) < 0 ? -1 : 0;
}
