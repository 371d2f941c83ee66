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

#include "bpf_runtime.h"

struct stp_bpf_uprobe {
	uint64_t offset;          /* file offset of the probed instruction in probe->target */
	uint64_t ref_ctr_offset;  /* file offset of the SDT semaphore (0: none); the kernel counts it */
	int retprobe;             /* a uretprobe: fires when the function returns */
	/* .return probes with entry values: a program at the function's entry stashes them */
	const struct bpf_insn *entry_insns;
	uint32_t n_entry_insns;
	const struct stp_bpf_reloc *entry_relocs;
	uint32_t n_entry_relocs;
	uint64_t entry_offset;
	const char *build_id;     /* hex build-id the script was translated against, or NULL */
};

/* Process filter for -x / -c: uprobes capture only in the hierarchy of this process
 * (> 0), else everywhere.  Set before stp_bpf_start(). */
void stp_bpf_uprobe_filter(int pid);
int stp_bpf_target_map(void);  /* the 1-entry array map holding it */

/* target.c: whether a -c command will be started (its pid is not known yet). */
int stp_target_has_command(void);

/* Attach a STP_BPF_UPROBE or STP_BPF_RAW_TRACEPOINT probe; 0, or -1 with stp_bpf_error(). */
int stp_bpf_attach_user(const struct stp_bpf_probe *probe);
int stp_bpf_attach_raw_tracepoint(const struct stp_bpf_probe *probe);

/* The hash map of stashed entry values (pid_tgid -> 8 u64), created on first use. */
int stp_bpf_entry_map(void);
void stp_bpf_uprobe_forget(void);  /* stp_bpf_stop() closed both maps */

/* bpf_buildid.c: the GNU build-id of an ELF file as hex ("" if none): 0, or -1 with stp_bpf_error(). */
int stp_elf_build_id(const char *path, char *hex, size_t size);

/* bpf_probes.c: load a probe's program relocated, and keep fds closed by stp_bpf_stop(). */
int stp_bpf_load_kept(const struct stp_bpf_probe *probe, uint32_t type);
int stp_bpf_keep(int fd);

#endif
