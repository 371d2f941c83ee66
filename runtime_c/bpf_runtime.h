/* The kernel capture pipeline: BPF programs that copy what a handler needs into a
 * BPF ring buffer at probe time, and the runtime side that loads, attaches, consumes
 * and detaches them.
 *
 * The translator (engine/translate/bpf/) emits, per kernel probe, a capture program
 * as an array of struct bpf_insn plus relocations naming the maps it uses, and a
 * table of struct stp_bpf_probe.  The runtime calls stp_bpf_start() with that table,
 * polls stp_bpf_poll_fd() in its main loop, calls stp_bpf_drain() when it is readable
 * and every millisecond (capture programs submit without a wakeup), and calls
 * stp_bpf_stop() on every exit path.  All attachments are file descriptors owned
 * by this process, so the kernel detaches everything when it exits, even on kill -9.
 */
#ifndef STP_BPF_RUNTIME_H
#define STP_BPF_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <linux/bpf.h>

/* Every record starts with this header, written by the capture program. */
struct stp_bpf_record {
	uint32_t probe;     /* index into the probe table */
	uint32_t cpu;       /* bpf_get_smp_processor_id() */
	uint64_t pid_tgid;  /* tgid << 32 | tid */
	uint64_t uid_gid;   /* gid << 32 | uid */
	uint64_t time_ns;   /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	char comm[16];
	uint32_t ppid;      /* current->real_parent->tgid  } when flags has */
	uint32_t euid;      /* current->cred->euid         } STP_BPF_TASK_IDS */
	uint32_t egid;      /* current->cred->egid         } */
	uint32_t flags;
	/* followed by the probe's captured values, at offsets the translator chose */
};

#define STP_BPF_RECORD_HEADER 64
#define STP_BPF_TASK_IDS 1  /* the kernel's BTF gave the offsets to read them */

/* Every capture program carries this name, so tests and users can find ours. */
#define STP_BPF_PROG_NAME "stapui_capture"

/* A string captured at probe time: the user address, the helper's result (length
 * including the NUL, or a negative errno when the page was not resident), the bytes.
 * A user buffer uses the same slot: status 0 when read, `reserved` = bytes read. */
struct stp_bpf_string {
	uint64_t addr;
	int32_t status;
	uint32_t reserved;
	char data[];
};

enum stp_bpf_attach {
	STP_BPF_TRACEPOINT,  /* target = "system:event" */
	STP_BPF_PERF_EVENT,  /* perf_type/config, sampled every `period` counts on each CPU */
	STP_BPF_UPROBE,      /* target = binary path, uprobe = where (bpf_uprobe.h) */
	STP_BPF_RAW_TRACEPOINT, /* target = raw tracepoint name (kernel.tracepoint) */
	STP_BPF_SYSCALL_BTF     /* target = "syscalls:sys_enter_NAME" read through sys_enter (bpf_syscall.c) */
};

/* How a handler reads one target expression ($field, $$vars ...) from the record. */
enum stp_bpf_form {
	STP_BPF_LONG,    /* one integer field, sign-extended from its size if signed */
	STP_BPF_STRING,  /* one string slot */
	STP_BPF_VARS,    /* every field as name=0x1 name="text" ($$vars, $$parms) */
	STP_BPF_PRETTY,  /* one field formatted as in STP_BPF_VARS, without its name ($field$) */
	STP_BPF_CONST,   /* text known at translate time ($$name) */
	STP_BPF_TEMPLATE /* each field preceded by its name as text, then `text` ($p$, $$parms of uprobes) */
};

struct stp_bpf_field {
	const char *name;
	uint32_t offset;     /* of the slot in the record */
	uint8_t is_string;   /* string slot (struct stp_bpf_string) or 8-byte integer */
	uint8_t size;        /* integer: bytes of the original field */
	uint8_t is_signed;
	uint8_t is_user;     /* string read from user memory (user_string() of a pointer field) */
	uint8_t is_buffer;   /* bytes of a user buffer: status 0 when read, `reserved` = how many */
	uint8_t is_decimal;  /* formatted integer: decimal, not 0x hex */
};

struct stp_bpf_target {
	enum stp_bpf_form form;
	const struct stp_bpf_field *fields;
	uint32_t n_fields;
	const char *text;    /* STP_BPF_CONST */
};

/* Not a map: the relocation marking where a program's prologue ends (it finds the task,
 * engine/translate/bpf/task.py); kept in front of a capture program loaded alone. */
#define STP_BPF_PROLOGUE_MARK "prologue"

struct stp_bpf_reloc {
	uint32_t insn;    /* index of the LD_IMM64 slot */
	const char *map;  /* "events" (ring buffer) or "lost" (per-probe loss counters) */
};

struct stp_bpf_probe {
	const char *probe_point;          /* for messages, as pp() prints it */
	enum stp_bpf_attach attach;
	const char *target;               /* tracepoint "system:event" */
	const char *format_digest;        /* FNV-1a of the event's format file at translate time, or NULL */
	uint64_t config;                  /* perf event config */
	uint64_t period;                  /* perf sample period */
	uint32_t perf_type;               /* PERF_TYPE_SOFTWARE, PERF_TYPE_HARDWARE ... */
	const struct bpf_insn *insns;
	uint32_t n_insns;
	const struct stp_bpf_reloc *relocs;
	uint32_t n_relocs;
	const struct stp_bpf_target *targets;  /* indexed as the handler numbers them */
	uint32_t n_targets;
	const struct stp_bpf_field *user_strings; /* strings captured behind user pointers */
	uint32_t n_user_strings;
	const struct stp_bpf_uprobe *uprobe;      /* STP_BPF_UPROBE: offsets, entry program, build-id */
	uint32_t btf_id;                          /* STP_BPF_SYSCALL_BTF: btf_trace_sys_enter/exit's type id */
	const char *kernel;                       /* STP_BPF_SYSCALL_BTF: `uname -r` `uname -v` it belongs to */
};

/* Called for each record consumed from the ring buffer. */
typedef void (*stp_bpf_record_fn)(const struct stp_bpf_record *record, uint32_t len, void *arg);

/* Load and attach every probe; 0 on success, -1 with stp_bpf_error() set (and
 * everything already attached released).  probes[i] is the probe whose capture
 * program writes index i (NULL: no kernel side); target_pid > 0 restricts perf
 * events to one process; ring_bytes is the ring buffer size (a power of two pages). */
int stp_bpf_start(const struct stp_bpf_probe *const *probes, uint32_t n, uint32_t ring_bytes, int target_pid);
int stp_bpf_poll_fd(void);
int stp_bpf_drain(stp_bpf_record_fn fn, void *arg);  /* records consumed, or -1 */
/* Records handed over per drain at most: the caller gets control back (signals, timers,
 * output) even when events arrive faster than handlers run; a full batch means more wait. */
#define STP_BPF_DRAIN_BATCH 4096
uint64_t stp_bpf_lost(uint32_t probe);               /* records dropped: ring full (no syscall) */
void stp_bpf_stop(void);

/* The last failure, as a full sentence ("cannot attach ...: Permission denied"). */
const char *stp_bpf_error(void);

/* bpf_events.c: the runtime's side (needs runtime.h).  The generated file sets
 * stp_script.start_events/stop_events to these. */
struct stp_script;
struct context;
int stp_bpf_start_events(const struct stp_script *s);
void stp_bpf_stop_events(void);
void stp_bpf_catch_up(void);  /* handle what is queued now (the -c command has exited) */
int64_t stp_bpf_long(struct context *c, uint32_t target);
const char *stp_bpf_string(struct context *c, uint32_t target); /* valid until the handler returns */
int stp_event_string(int64_t pid, uint64_t addr, char *out, size_t size, int64_t maxlen);
int stp_event_buffer(int64_t pid, uint64_t addr, void *out, size_t len);

/* Lower layers, one file each. */
void stp_bpf_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void stp_bpf_fail_append(const char *text);
int stp_bpf_map_create(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t entries, const char *name);
int stp_bpf_map_create_flags(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t entries,
			     uint32_t flags, const char *name);
/* Maps the kernel wants BTF types for (local storage): the blob and its key and value type ids. */
struct stp_bpf_map_types {
	int btf_fd;
	uint32_t key_type, value_type;
};
int stp_bpf_map_create_typed(uint32_t type, uint32_t key_size, uint32_t value_size, uint32_t flags,
			     const struct stp_bpf_map_types *types, const char *name);
int stp_bpf_map_lookup(int map_fd, const void *key, void *value);
/* attach_btf_id: 0, or the BTF type a BPF_TRACE_RAW_TP tracing program attaches to. */
int stp_bpf_prog_load(uint32_t type, const struct bpf_insn *insns, uint32_t n, const char *name,
		      uint32_t attach_btf_id);
const char *stp_tracefs_dir(void);
int stp_tracefs_event_id(const char *system_event);
uint64_t stp_tracefs_format_digest(const char *system_event);
int stp_bpf_attach_tracepoint(int prog_fd, const char *system_event);
int stp_bpf_attach_perf(int prog_fd, uint32_t type, uint64_t config, uint64_t period, int pid, int cpu);
void stp_bpf_close_all(const int *fds, uint32_t n);  /* detaching waits for RCU: a child does it */

struct stp_bpf_ring;
struct stp_bpf_ring *stp_bpf_ring_open(int map_fd, uint32_t bytes);
int stp_bpf_ring_drain(struct stp_bpf_ring *ring, stp_bpf_record_fn fn, void *arg);
void stp_bpf_ring_close(struct stp_bpf_ring *ring);

#include "bpf_uprobe.h"

#endif
