/* Attaching loaded programs through perf events: tracepoints and sampling events. */
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf_runtime.h"

static int perf_open(struct perf_event_attr *attr, int pid, int cpu)
{
	return syscall(__NR_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Give the event its program and enable it; closes the event on failure. */
static int set_program(int event_fd, int prog_fd, const char *what)
{
	if (ioctl(event_fd, PERF_EVENT_IOC_SET_BPF, prog_fd) != 0) {
		stp_bpf_fail("cannot attach the capture program to %s: %s", what, strerror(errno));
		close(event_fd);
		return -1;
	}
	if (ioctl(event_fd, PERF_EVENT_IOC_ENABLE, 0) != 0) {
		stp_bpf_fail("cannot enable %s: %s", what, strerror(errno));
		close(event_fd);
		return -1;
	}
	return event_fd;
}

/* One perf event (cpu 0, every process) carries the program for all CPUs. */
int stp_bpf_attach_tracepoint(int prog_fd, const char *system_event)
{
	struct perf_event_attr attr;
	int id = stp_tracefs_event_id(system_event);
	int fd;

	if (id < 0)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = id;
	attr.sample_period = 1;
	attr.wakeup_events = 1;
	attr.disabled = 1;
	fd = perf_open(&attr, -1, 0);
	if (fd < 0) {
		stp_bpf_fail("cannot open tracepoint %s (id %d): %s", system_event, id, strerror(errno));
		return -1;
	}
	return set_program(fd, prog_fd, system_event);
}

/* A sampling perf event on one CPU (pid -1) or for one process (cpu -1). */
int stp_bpf_attach_perf(int prog_fd, uint32_t type, uint64_t config, uint64_t period, int pid, int cpu)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.type = type;
	attr.size = sizeof(attr);
	attr.config = config;
	attr.sample_period = period;
	attr.disabled = 1;
	fd = perf_open(&attr, pid, cpu);
	if (fd < 0) {
		stp_bpf_fail("cannot open perf event type %u config %llu on cpu %d: %s", type, (unsigned long long)config,
			     cpu, strerror(errno));
		return -1;
	}
	return set_program(fd, prog_fd, "a perf event");
}
