/* User-space probes (uprobes through the uprobe PMU) and BTF raw tracepoints: the
 * attach side of process(...) and kernel.tracepoint(...) probes.
 *
 * The translator (engine/translate/bpf/uprobe_attach.py) gives such a probe
 * attach = STP_BPF_UPROBE (target = the binary's path, uprobe = where in it) or
 * STP_BPF_RAW_TRACEPOINT (target = the tracepoint's name).  Programs and perf events
 * are kept by bpf_probes.c, so stp_bpf_stop() and process exit detach them.
 */
#ifndef STP_BPF_UPROBE_H
#define STP_BPF_UPROBE_H

#include <sys/types.h>

#include "bpf_runtime.h"

/* process.begin/.end (bpf_process.c): the probe's own program runs at sched_process_exec,
 * these companions at sched_process_fork and sched_process_exit. */
struct stp_bpf_companion {
	const char *tracepoint;
	const struct bpf_insn *insns;
	uint32_t n_insns;
	const struct stp_bpf_reloc *relocs;
	uint32_t n_relocs;
};

struct stp_bpf_process {
	uint32_t probe;           /* the script probe its records (and start-up records) carry */
	int end;                  /* process.end, else process.begin */
	const char *path;         /* process("PATH"): the executable, or NULL */
	int pid;                  /* process(PID), or 0 */
	struct stp_bpf_companion companions[2];
};

/* What each process-tracking record holds after its header (process_tracking.py). */
enum stp_bpf_process_kind { STP_PROCESS_FORK = 1, STP_PROCESS_EXEC, STP_PROCESS_EXIT };
struct stp_bpf_process_event {
	uint64_t kind, tgid, tid, ppid;
	uint64_t dev, ino;        /* the executable's inode (kernel dev_t encoding) */
	uint64_t live;            /* threads still alive at exit: 0 when the process ends */
};

struct stp_bpf_uprobe {
	uint64_t offset;          /* file offset of the probed instruction in probe->target */
	uint64_t ref_ctr_offset;  /* file offset of the SDT semaphore (0: none); the kernel counts it */
	int retprobe;             /* a uretprobe: fires when the function returns */
	int pid;                  /* process(PID): only that process (a per-task uprobe), else 0 */
	/* .return probes with entry values: a program at the function's entry stashes them */
	const struct bpf_insn *entry_insns;
	uint32_t n_entry_insns;
	const struct stp_bpf_reloc *entry_relocs;
	uint32_t n_entry_relocs;
	uint64_t entry_offset;
	uint32_t entry_string_bytes;  /* the value of the maps of strings read at entry, or 0 */
	const char *build_id;     /* hex build-id the script was translated against, or NULL */
	const struct stp_bpf_process *process;  /* process.begin/.end: a raw tracepoint probe tracking processes */
};

/* Process filter for -x / -c: uprobes capture only in the hierarchy of this process
 * (> 0), else everywhere.  Set before stp_bpf_start(). */
void stp_bpf_uprobe_filter(int pid);
int stp_bpf_target_map(void);  /* the 1-entry array map holding it */

/* target.c: whether a -c command will be started (its pid is not known yet), and the
 * command (NULL without -c). */
int stp_target_has_command(void);
const char *stp_target_command(void);

/* Attach a STP_BPF_UPROBE or STP_BPF_RAW_TRACEPOINT probe; 0, or -1 with stp_bpf_error(). */
int stp_bpf_attach_user(const struct stp_bpf_probe *probe);
/* The i-th binary a uprobe was attached in, or NULL past the last (symbols_user.c
 * names the frames of exited processes from these files too). */
const char *stp_bpf_uprobe_file(size_t i);
int stp_bpf_attach_raw_tracepoint(const struct stp_bpf_probe *probe);

/* bpf_syscall.c: attach a STP_BPF_SYSCALL_BTF probe; its programs' per-CPU scratch record. */
int stp_bpf_attach_syscall(const struct stp_bpf_probe *probe);
int stp_bpf_syscall_record_map(void);
void stp_bpf_syscall_forget(void);  /* stp_bpf_stop() closed the map */

/* The hash map of stashed entry values (pid_tgid -> 8 u64), created on first use. */
int stp_bpf_entry_map(void);
int stp_bpf_entry_strings_map(const char *name);  /* "entry_strings" or "entry_scratch" */
void stp_bpf_uprobe_forget(void);  /* stp_bpf_stop() closed both maps */

/* bpf_process.c: attach a process.begin/.end probe's programs; the record a handler
 * should run with for record r (`*len` bytes) of `probe`: r itself, `own` (a forked
 * child's), or NULL for none -- r itself for other probes; and, once every probe is
 * attached, the begins of the processes already running, through `dispatch`. */
int stp_bpf_attach_process(const struct stp_bpf_probe *probe);
const struct stp_bpf_record *stp_bpf_process_event(const struct stp_bpf_probe *probe, const struct stp_bpf_record *r,
						   uint32_t *len, struct stp_bpf_record *own);
void stp_bpf_process_start(stp_bpf_record_fn dispatch);
void stp_bpf_process_forget(void);  /* stp_bpf_stop(): forget every tracked process */

/* bpf_process_proc.c: a record header describing process `pid` now, from /proc: 0 or -1 (gone). */
int stp_process_record(pid_t pid, struct stp_bpf_record *r);

/* bpf_buildid.c: the GNU build-id of an ELF file as hex ("" if none): 0, or -1 with stp_bpf_error(). */
int stp_elf_build_id(const char *path, char *hex, size_t size);

/* bpf_probes.c: load a probe's program relocated, and keep fds closed by stp_bpf_stop(). */
int stp_bpf_load_kept(const struct stp_bpf_probe *probe, uint32_t type);
int stp_bpf_keep(int fd);

#endif
