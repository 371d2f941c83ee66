/* tapset_tgid.c - the process (thread group) of a thread id.
 *
 * Tracepoint records name other tasks by thread id only (sched_switch's next
 * task, a woken task, a forked child), while stap's aliases also report their
 * process ids.  Handlers look them up in /proc/TID/status, remembering recent
 * answers so a busy probe such as scheduler.ctxswitch does not read /proc for
 * every event.  A thread that has already exited reports its own id.
 */
#include "tapset_support.h"

#include <stdio.h>

#define TGID_CACHE_SIZE 4096  /* a power of two */

struct tgid_entry {
	int64_t tid, tgid;  /* tid 0: empty */
};

static struct tgid_entry cache[TGID_CACHE_SIZE];

/* Reads "Tgid:" from /proc/TID/status; returns -1 if the thread is gone. */
static int64_t read_tgid(int64_t tid)
{
	char path[64], line[128];
	long long tgid = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%lld/status", (long long)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "Tgid: %lld", &tgid) == 1)
			break;
	}
	fclose(f);
	return tgid;
}

int64_t tapset_tgid(int64_t tid)
{
	struct tgid_entry *slot = &cache[(uint64_t)tid & (TGID_CACHE_SIZE - 1)];
	int64_t tgid;

	if (tid <= 0)
		return tid;
	if (slot->tid == tid)
		return slot->tgid;
	tgid = read_tgid(tid);
	if (tgid < 0)
		return tid;
	slot->tid = tid;
	slot->tgid = tgid;
	return tgid;
}
