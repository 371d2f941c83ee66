/* process.begin/.end: stap's task finder, fed by three raw tracepoints.
 *
 * Each such probe attaches its programs at sched_process_exec (its own) and
 * sched_process_fork/exit (companions); every record says what happened to which
 * process and which executable it runs (engine/translate/bpf/process_tracking.py).
 * Here each probe decides, as stap does, whether its handler runs:
 *
 *   begin  a matching process running at start-up (once, in its context); a process
 *          forked from a matching one (in the child's context; not under -c/-x, where
 *          a child matches once it execs); a process exec'ing a matching image.
 *   end    a process that began ends: its last thread exits, or it execs (an exec of
 *          the same image then begins again).
 *
 * process("PATH") matches processes running that file (same device and inode);
 * process(PID) only that process as it is at start-up; process.begin/end every one.
 * Under -c/-x the programs run only in the target's hierarchy (capture_bpf's filter).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bpf_uprobe.h"
#include "runtime.h"

#define MAX_PROCESS_PROBES 64

/* The tgids of the processes a process.end probe has seen begin, sorted. */
struct pid_set {
	uint32_t *pids;
	size_t n, capacity;
};

static struct process_probe {
	const struct stp_bpf_probe *probe;
	const struct stp_bpf_process *spec;
	int has_image;  /* process("PATH") whose file exists: its identity */
	dev_t dev;
	ino_t ino;
	struct pid_set began;
} probes[MAX_PROCESS_PROBES];
static unsigned n_probes;

static size_t position(const struct pid_set *set, uint32_t pid)
{
	size_t low = 0, high = set->n;

	while (low < high) {
		size_t middle = (low + high) / 2;
		if (set->pids[middle] < pid)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

static void pid_set_add(struct pid_set *set, uint32_t pid)
{
	size_t at = position(set, pid);

	if (at < set->n && set->pids[at] == pid)
		return;
	if (set->n == set->capacity) {
		size_t capacity = set->capacity ? 2 * set->capacity : 256;
		uint32_t *pids = realloc(set->pids, capacity * sizeof(*pids));
		if (pids == NULL)
			return;  /* out of memory: this process's end goes unseen */
		set->pids = pids;
		set->capacity = capacity;
	}
	memmove(set->pids + at + 1, set->pids + at, (set->n - at) * sizeof(*set->pids));
	set->pids[at] = pid;
	set->n++;
}

/* 1 if `pid` was in the set (and is no longer). */
static int pid_set_remove(struct pid_set *set, uint32_t pid)
{
	size_t at = position(set, pid);

	if (at == set->n || set->pids[at] != pid)
		return 0;
	memmove(set->pids + at, set->pids + at + 1, (set->n - at - 1) * sizeof(*set->pids));
	set->n--;
	return 1;
}

static int in_target_mode(void)
{
	return stp_target_has_command() || stp_target_pid() > 0;
}

int stp_bpf_attach_process(const struct stp_bpf_probe *probe)
{
	const struct stp_bpf_process *spec = probe->uprobe->process;
	struct process_probe *p;
	struct stat st;
	unsigned i;

	if (n_probes == MAX_PROCESS_PROBES) {
		stp_bpf_fail("too many process.begin/.end probes (more than %d)", MAX_PROCESS_PROBES);
		return -1;
	}
	p = &probes[n_probes++];
	memset(p, 0, sizeof(*p));
	p->probe = probe;
	p->spec = spec;
	if (spec->path != NULL && stat(spec->path, &st) == 0) {  /* stap: a missing file matches nothing */
		p->has_image = 1;
		p->dev = st.st_dev;
		p->ino = st.st_ino;
	}
	for (i = 0; i < sizeof(spec->companions) / sizeof(spec->companions[0]); i++) {
		struct stp_bpf_probe companion = *probe;

		companion.target = spec->companions[i].tracepoint;
		companion.insns = spec->companions[i].insns;
		companion.n_insns = spec->companions[i].n_insns;
		companion.relocs = spec->companions[i].relocs;
		companion.n_relocs = spec->companions[i].n_relocs;
		if (stp_bpf_attach_raw_tracepoint(&companion) < 0)
			return -1;
	}
	return stp_bpf_attach_raw_tracepoint(probe);
}

/* Whether a process running the file (dev, ino) matches at a fork or an exec. */
static int matches_image(const struct process_probe *p, dev_t dev, ino_t ino)
{
	if (p->spec->pid != 0)
		return 0;  /* process(PID) is the process as it is at start-up */
	if (p->spec->path == NULL)
		return 1;
	return p->has_image && p->dev == dev && p->ino == ino;
}

static dev_t user_dev(uint64_t kernel_dev)  /* the kernel's MAJOR << 20 | MINOR */
{
	return makedev((unsigned)(kernel_dev >> 20), (unsigned)(kernel_dev & 0xfffff));
}

static const struct stp_bpf_record *forked(struct process_probe *p, const struct stp_bpf_record *r,
					   const struct stp_bpf_process_event *e, struct stp_bpf_record *own)
{
	if (e->tid != e->tgid || in_target_mode() || !matches_image(p, user_dev(e->dev), e->ino))
		return NULL;
	if (p->spec->end) {
		pid_set_add(&p->began, (uint32_t)e->tgid);
		return NULL;
	}
	*own = *r;  /* written in the parent: the child's identity instead */
	own->pid_tgid = e->tgid << 32 | e->tid;
	own->ppid = (uint32_t)e->ppid;
	own->flags = STP_BPF_TASK_IDS;
	return own;
}

static const struct stp_bpf_record *execed(struct process_probe *p, const struct stp_bpf_record *r,
					   const struct stp_bpf_process_event *e)
{
	uint32_t tgid = (uint32_t)(r->pid_tgid >> 32);
	int matches = matches_image(p, user_dev(e->dev), e->ino);
	int ended;

	if (!p->spec->end)
		return matches ? r : NULL;
	ended = pid_set_remove(&p->began, tgid);
	if (matches)
		pid_set_add(&p->began, tgid);
	return ended ? r : NULL;
}

static const struct stp_bpf_record *exited(struct process_probe *p, const struct stp_bpf_record *r,
					   const struct stp_bpf_process_event *e)
{
	if (e->live != 0 || !p->spec->end)
		return NULL;  /* a thread, not the process */
	return pid_set_remove(&p->began, (uint32_t)(r->pid_tgid >> 32)) ? r : NULL;
}

const struct stp_bpf_record *stp_bpf_process_event(const struct stp_bpf_probe *probe, const struct stp_bpf_record *r,
						   uint32_t *len, struct stp_bpf_record *own)
{
	const struct stp_bpf_process_event *e;
	unsigned i;

	/* another kind of probe, or a record made here (start-up, a forked child) */
	if (probe->uprobe == NULL || probe->uprobe->process == NULL ||
	    *len < STP_BPF_RECORD_HEADER + sizeof(*e))
		return r;
	for (i = 0; i < n_probes && probes[i].probe != probe; i++)
		;
	if (i == n_probes)
		return NULL;
	e = (const struct stp_bpf_process_event *)((const uint8_t *)r + STP_BPF_RECORD_HEADER);
	*len = STP_BPF_RECORD_HEADER;  /* the handler reads no captured values */
	switch (e->kind) {
	case STP_PROCESS_FORK:
		return forked(&probes[i], r, e, own);
	case STP_PROCESS_EXEC:
		return execed(&probes[i], r, e);
	case STP_PROCESS_EXIT:
		return exited(&probes[i], r, e);
	default:
		return NULL;
	}
}

/* One process running at start-up: begin (or remember for end) where it matches. */
static void started(pid_t pid, stp_bpf_record_fn dispatch)
{
	struct stp_bpf_record r;
	char exe[64];
	struct stat st;
	unsigned i;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	if (pid == getpid() || stat(exe, &st) < 0 || stp_process_record(pid, &r) < 0)
		return;  /* the runtime, a kernel thread (no executable), or gone */
	for (i = 0; i < n_probes; i++) {
		struct process_probe *p = &probes[i];

		if (p->spec->pid != 0 ? p->spec->pid != pid
				      : p->spec->path != NULL && !(p->has_image && p->dev == st.st_dev && p->ino == st.st_ino))
			continue;
		if (p->spec->end) {
			pid_set_add(&p->began, (uint32_t)pid);
			continue;
		}
		r.probe = p->spec->probe;
		dispatch(&r, STP_BPF_RECORD_HEADER, NULL);
	}
}

/* stap calls process.begin once for each matching process running when the script
 * starts -- under -x only the target; under -c none (its command starts later). */
void stp_bpf_process_start(stp_bpf_record_fn dispatch)
{
	struct dirent *entry;
	DIR *proc;

	if (n_probes == 0 || stp_target_has_command())
		return;
	if (stp_target_pid() > 0) {
		started((pid_t)stp_target_pid(), dispatch);
		return;
	}
	proc = opendir("/proc");
	if (proc == NULL)
		return;
	while ((entry = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(entry->d_name, &end, 10);

		if (*end == '\0' && pid > 0)
			started((pid_t)pid, dispatch);
	}
	closedir(proc);
}

void stp_bpf_process_forget(void)
{
	unsigned i;

	for (i = 0; i < n_probes; i++)
		free(probes[i].began.pids);
	n_probes = 0;
}
