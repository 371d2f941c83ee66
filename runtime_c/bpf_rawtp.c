/* Attaching a capture program to a raw tracepoint by name (BPF_RAW_TRACEPOINT_OPEN):
 * kernel.tracepoint("NAME") probes, whose programs read the tracepoint's BTF-typed
 * arguments.  The link is a file descriptor kept with the others. */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_uprobe.h"

int stp_bpf_attach_raw_tracepoint(const struct stp_bpf_probe *probe)
{
	union bpf_attr attr;
	int prog_fd = stp_bpf_load_kept(probe, BPF_PROG_TYPE_RAW_TRACEPOINT);
	int fd;

	if (prog_fd < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.raw_tracepoint.name = (uint64_t)(uintptr_t)probe->target;
	attr.raw_tracepoint.prog_fd = (uint32_t)prog_fd;
	fd = (int)syscall(__NR_bpf, BPF_RAW_TRACEPOINT_OPEN, &attr, sizeof(attr));
	if (fd < 0) {
		stp_bpf_fail("cannot attach to raw tracepoint %s for %s: %s", probe->target, probe->probe_point, strerror(errno));
		return -1;
	}
	return stp_bpf_keep(fd) < 0 ? -1 : 0;
}
