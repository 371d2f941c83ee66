/* A process as /proc describes it, in the shape of a capture program's record header:
 * the context of the process.begin handlers run for processes already running when
 * the script starts (stap runs them in each process's own context). */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "bpf_uprobe.h"
#include "session.h"

static FILE *proc_file(pid_t pid, const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	return fopen(path, "r");
}

/* comm and ppid from /proc/PID/stat (comm may hold parentheses: it ends at the last). */
static int read_stat(pid_t pid, struct stp_bpf_record *r)
{
	char line[512];
	const char *open_paren, *close_paren;
	unsigned ppid = 0;
	FILE *f = proc_file(pid, "stat");

	if (f == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	open_paren = strchr(line, '(');
	close_paren = strrchr(line, ')');
	if (open_paren == NULL || close_paren == NULL || close_paren < open_paren ||
	    sscanf(close_paren + 1, " %*c %u", &ppid) != 1)
		return -1;
	memset(r->comm, 0, sizeof(r->comm));
	memcpy(r->comm, open_paren + 1, (size_t)(close_paren - open_paren - 1) < sizeof(r->comm) - 1
						? (size_t)(close_paren - open_paren - 1) : sizeof(r->comm) - 1);
	r->ppid = ppid;
	return 0;
}

/* Real and effective user and group ids from /proc/PID/status. */
static int read_ids(pid_t pid, struct stp_bpf_record *r)
{
	char line[256];
	unsigned uid, euid, gid, egid;
	int found = 0;
	FILE *f = proc_file(pid, "status");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Uid: %u %u", &uid, &euid) == 2)
			found |= 1;
		else if (sscanf(line, "Gid: %u %u", &gid, &egid) == 2)
			found |= 2;
	}
	fclose(f);
	if (found != 3)
		return -1;
	r->uid_gid = (uint64_t)gid << 32 | uid;
	r->euid = euid;
	r->egid = egid;
	return 0;
}

int stp_process_record(pid_t pid, struct stp_bpf_record *r)
{
	memset(r, 0, sizeof(*r));
	if (read_stat(pid, r) < 0 || read_ids(pid, r) < 0)
		return -1;
	r->pid_tgid = (uint64_t)pid << 32 | (uint32_t)pid;
	r->cpu = (uint32_t)sched_getcpu();
	r->time_ns = stp_now_ns();
	r->flags = STP_BPF_TASK_IDS;
	return 0;
}
