/* runtime.h - the interface between generated scripts, tapsets and the stapui runtime.
 *
 * A built script is one generated C file (pass 3) linked with the runtime library
 * (every runtime_c/ C file compiled once, pass 4). The generated file defines
 * `stp_script`, a table describing its probes, globals and limits; the runtime owns
 * main(), the session state machine, output, maps, statistics and printf.
 *
 * The runtime library is compiled ONCE, without the script's -D options, so nothing in
 * this header may depend on MAXSTRINGLEN & co: limits reach the runtime through
 * `stp_script.limits`, and every string buffer the runtime writes is passed with the
 * script's MAXSTRINGLEN in effect (`stp_strmax()`).
 *
 * Handlers run one at a time in this process; globals need no locks.
 */
#ifndef STP_RUNTIME_H
#define STP_RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- limits: stap's names and defaults (stap 4.8, 64-bit), -D overrides ---------- */
#ifndef MAXSTRINGLEN
#define MAXSTRINGLEN 512
#endif
#ifndef MAXACTION
#define MAXACTION 1000
#endif
#ifndef MAXACTION_INTERRUPTIBLE
#define MAXACTION_INTERRUPTIBLE (MAXACTION * 10) /* every probe here runs interruptible */
#endif
#ifndef MAXNESTING
#define MAXNESTING 10
#endif
#ifndef MAXMAPENTRIES
#define MAXMAPENTRIES 2048
#endif
#ifndef MAXERRORS
#define MAXERRORS 0
#endif
#ifndef MAXSKIPPED
#define MAXSKIPPED 100
#endif
#ifndef STAP_SUPPRESS_HANDLER_ERRORS  /* --suppress-handler-errors: count errors, print none, no limits */
#define STAP_SUPPRESS_HANDLER_ERRORS 0
#endif
#ifndef MAXTRYLOCK
#define MAXTRYLOCK 100 /* accepted for compatibility: handlers never contend here */
#endif

/* ---- the handler context (ABI: field names are used by tapsets' embedded C) -------- */
struct context {
	const char *probe_point;  /* pp() */
	const char *probe_name;   /* ppfunc-less probe name (the alias as written) */
	int64_t pid, tid, ppid, uid, gid, euid, egid, cpu;
	char comm[16];            /* execname() */
	uint64_t time_ns;         /* CLOCK_MONOTONIC at the event */
	int is_return;
	const void *event;        /* raw record captured in the kernel; NULL for begin/end/timer */
	uint32_t event_len;
	const char *last_error;   /* set by a failing operation; the handler unwinds */

	/* runtime-private (generated code uses them; tapsets should not) */
	const char *last_stmt;    /* "operator '/' at FILE:LINE:COL", for "near ..." */
	int64_t actionremaining;  /* MAXACTION budget left in this handler */
	int nesting;              /* function call depth */
	int next;                 /* `next` executed inside a function */
	char *error_buffer;       /* stp_strmax() bytes, for formatted errors */
	char *procfs_value;       /* $value of procfs probes: stp_strmax() bytes */
	const struct stp_probe *probe;
};

/* ---- value types ------------------------------------------------------------------- */
enum stp_type { STP_LONG = 1, STP_STRING = 2, STP_STATS = 3 };

/* One index or value of a map, or one printf argument. Strings are borrowed. */
union stp_value {
	int64_t n;
	const char *s;
};

/* ---- statistics (stat.c) ------------------------------------------------------------ */
enum stp_hist_kind { STP_HIST_NONE = 0, STP_HIST_LOG = 1, STP_HIST_LINEAR = 2 };

struct stp_stat_spec {
	enum stp_hist_kind hist;
	int64_t start, stop, interval; /* linear histograms */
	int bit_shift;                 /* @variance(x, bit_shift) */
};

#define STP_HIST_LOG_BUCKETS 128
#define STP_HIST_LOG_BUCKET0 64
#define STP_MAX_BUCKETS 128

struct stp_stat {
	const struct stp_stat_spec *spec;
	int64_t count, sum, min, max;
	int64_t avg_s, m2, variance_s; /* Welford state, shifted by spec->bit_shift */
	int buckets;                   /* 0 without a histogram */
	int64_t *histogram;            /* `buckets` counters */
};

struct stp_stat *stp_stat_new(const struct stp_stat_spec *spec);
void stp_stat_init(struct stp_stat *st, const struct stp_stat_spec *spec);
void stp_stat_free(struct stp_stat *st);
void stp_stat_clear(struct stp_stat *st);
void stp_stat_add(struct stp_stat *st, int64_t value);
/* Extractors: @min/@max/@avg/@variance set c->last_error "empty aggregate" when count
 * is 0; @count and @sum give 0 (as stap). */
int64_t stp_stat_count(struct context *c, const struct stp_stat *st);
int64_t stp_stat_sum(struct context *c, const struct stp_stat *st);
int64_t stp_stat_min(struct context *c, const struct stp_stat *st);
int64_t stp_stat_max(struct context *c, const struct stp_stat *st);
int64_t stp_stat_avg(struct context *c, const struct stp_stat *st);
int64_t stp_stat_variance(struct context *c, const struct stp_stat *st);
/* @hist_*(x)[i]: "histogram index out of range" outside 0..buckets-1 */
int64_t stp_stat_bucket(struct context *c, const struct stp_stat *st, int64_t index);
/* print(@hist_log(x)): stap's text rendering into the script output */
void stp_stat_print_hist(struct context *c, const struct stp_stat *st);
/* sprint(@hist_log(x)): the same text into a MAXSTRINGLEN buffer */
void stp_stat_sprint_hist(struct context *c, char *dst, const struct stp_stat *st);
/* The rendering itself, into a malloc'd string (also used for snapshots and tests). */
char *stp_stat_format_hist(const struct stp_stat *st);
/* Value of the lower bound of histogram bucket i (log or linear). */
int64_t stp_stat_bucket_value(const struct stp_stat *st, int i);

/* ---- associative arrays (map.c) ------------------------------------------------------ */
#define STP_MAX_KEYS 9

struct stp_map_spec {
	int arity;                       /* 1..9 */
	enum stp_type key_types[STP_MAX_KEYS];
	enum stp_type value_type;
	int64_t maxsize;                 /* `global a[N]`, else MAXMAPENTRIES */
	int wrap;                        /* `global a%`: evict the oldest entry when full */
	const struct stp_stat_spec *stat; /* value_type == STP_STATS */
};

struct stp_map_entry {
	struct stp_map_entry *hash_next;
	struct stp_map_entry *prev, *next; /* insertion order */
	uint64_t hash;
	union stp_value keys[STP_MAX_KEYS]; /* strings owned by the entry */
	int64_t n;                          /* long value */
	char *s;                            /* string value (owned) */
	struct stp_stat stat;               /* statistics value */
};

struct stp_map;

struct stp_map *stp_map_new(const struct stp_map_spec *spec);
void stp_map_free(struct stp_map *m);
void stp_map_clear(struct stp_map *m);
int64_t stp_map_size(const struct stp_map *m);
const struct stp_map_spec *stp_map_spec(const struct stp_map *m);
struct stp_map_entry *stp_map_first(struct stp_map *m); /* oldest; follow ->next */
/* Lookups return the default (0, "", NULL stats) for a missing key. */
struct stp_map_entry *stp_map_find(struct stp_map *m, const union stp_value *keys);
int64_t stp_map_get_long(struct stp_map *m, const union stp_value *keys);
const char *stp_map_get_string(struct stp_map *m, const union stp_value *keys);
/* Stores: on a full map set c->last_error "Array overflow, check MAXMAPENTRIES" and return -1. */
int stp_map_set_long(struct context *c, struct stp_map *m, const union stp_value *keys, int64_t v);
int stp_map_set_string(struct context *c, struct stp_map *m, const union stp_value *keys, const char *v);
int stp_map_add_stat(struct context *c, struct stp_map *m, const union stp_value *keys, int64_t v);
/* `mask` bit i set = index i is `*` (wildcard) in `delete a[1,*]` / `[1,*] in a`. */
int stp_map_exists(struct stp_map *m, const union stp_value *keys, unsigned mask);
void stp_map_delete(struct stp_map *m, const union stp_value *keys, unsigned mask);

/* A stable snapshot for foreach: entries sorted on column (0 = value, 1..9 = key,
 * -1 = none: insertion order), direction +1 ascending, -1 descending; for statistics
 * values, column 0 sorts by @count. `limit` < 0 = all. Slice: entries matching `keys`
 * where `mask` bits are clear (mask all-ones = no slice). */
struct stp_map_iter {
	struct stp_map_entry **entries;
	int64_t count, pos;
};
/* The statistic a value sort over a statistics array compares (`foreach (k in s @sum-)`). */
enum stp_sort_aggregate { STP_SORT_COUNT, STP_SORT_SUM, STP_SORT_MIN, STP_SORT_MAX, STP_SORT_AVG, STP_SORT_VARIANCE };
int stp_map_iter_start(struct stp_map_iter *it, struct stp_map *m, int column, int direction,
		       enum stp_sort_aggregate aggregate, int64_t limit, const union stp_value *slice,
		       unsigned wildcard_mask);
struct stp_map_entry *stp_map_iter_next(struct stp_map_iter *it);
void stp_map_iter_end(struct stp_map_iter *it);

/* ---- strings and numbers (strings.c) --------------------------------------------------- */
size_t stp_strmax(void); /* the script's MAXSTRINGLEN */
size_t stp_strlcpy(char *dst, const char *src, size_t size);
/* dst = a . b, truncated to MAXSTRINGLEN-1 bytes; dst may alias a */
char *stp_concat(char *dst, const char *a, const char *b);
char *stp_strset(char *dst, const char *src); /* copy with MAXSTRINGLEN truncation */
char *stp_long_to_string(char *dst, int64_t v);
int stp_regex_match(struct context *c, const char *s, const char *pattern);

/* ---- arithmetic (arith.c): stap's checked operations ----------------------------------- */
int64_t stp_div(struct context *c, int64_t x, int64_t y); /* "division by 0" */
int64_t stp_mod(struct context *c, int64_t x, int64_t y);
int64_t stp_shl(int64_t x, int64_t y);
int64_t stp_shr(int64_t x, int64_t y);  /* arithmetic */
int64_t stp_ushr(int64_t x, int64_t y); /* >>> logical */

/* ---- formatted output (printf.c) -------------------------------------------------------- */
/* stap's printf: format + typed args (the translator checked the types). Appends to out,
 * at most `size`-1 bytes, returns the length it would have written (snprintf-like), or -1
 * with c->last_error set (and `out` empty) when a conversion fails (%m of unreadable memory). */
int stp_format(struct context *c, char *out, size_t size, const char *fmt, const union stp_value *args,
	       int nargs);
/* printf(): formats into the output buffer; errors go to c->last_error. */
void stp_printf_values(struct context *c, const char *fmt, const union stp_value *args, int nargs);
char *stp_sprintf_values(struct context *c, char *dst, const char *fmt, const union stp_value *args, int nargs);
void stp_check_dump_size(struct context *c, int64_t bytes); /* "N is too many bytes for a memory dump" */

/* ---- runtime services (ABI for embedded C) ----------------------------------------------- */
void stp_output(const char *s, size_t n);          /* script output bytes */
void stp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* C printf */
void stp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));   /* "WARNING: ..." */
void stp_softerror(struct context *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void stp_exit(void);  /* orderly exit: end probes run */
void stp_flush(void); /* push buffered output to the reader (end of every handler) */

/* ---- probes and the script table (the generated file defines stp_script) ------------------- */
enum stp_probe_kind {
	STP_PROBE_BEGIN, STP_PROBE_END, STP_PROBE_ERROR, STP_PROBE_NEVER,
	STP_PROBE_TIMER, STP_PROBE_PROCFS_READ, STP_PROBE_PROCFS_WRITE,
	STP_PROBE_EVENT, /* kernel side: attached and fed by an event source (bpf_*.c) */
};

struct stp_probe {
	const char *pp;            /* probe point as pp() returns it */
	const char *name;          /* probe name as written (for -t and snapshots) */
	const char *location;      /* FILE:LINE:COL of the probe in the script, as stap -t names it */
	const char *derivation;    /* stap -t's " from: ALIAS ... from: POINT" */
	enum stp_probe_kind kind;
	int64_t sequence;          /* begin(N)/end(N)/error(N) order; table is pre-sorted */
	int64_t period_ns;         /* timers */
	int64_t randomize_ns;      /* timer .randomize(N) range */
	const char *procfs_name;   /* procfs("NAME") */
	int64_t procfs_maxsize;
	const void *event_spec;    /* kind EVENT: the capture plan, opaque to this runtime */
	void (*handler)(struct context *c);
};

/* A global, described for monitor snapshots (--monitor, the workbench). */
struct stp_global {
	const char *name;
	enum stp_type type;        /* value type */
	int arity;                 /* 0 = scalar */
	void *addr;                /* scalars: int64_t*, char* buffer, struct stp_stat*; arrays: struct stp_map** */
};

struct stp_limits {
	int64_t maxstringlen, maxaction, maxnesting, maxmapentries, maxerrors, maxskipped;
	int64_t suppress_handler_errors;
};

struct stp_script {
	const char *name;              /* script name (module name) */
	struct stp_limits limits;
	const struct stp_probe *probes;
	size_t nprobes;
	const struct stp_global *globals;
	size_t nglobals;
	int (*init_globals)(void);     /* allocate maps/stats, apply -G and initialisers */
	void (*free_globals)(void);
	/* Kernel-side probes: NULL when the script has none. Called once after begin probes
	 * ran (state RUNNING), it loads/attaches what the EVENT probes need and registers
	 * event sources; returns 0 or -1 after reporting with stp_softerror/stp_warn. */
	int (*start_events)(const struct stp_script *s);
	void (*stop_events)(void);     /* detach everything; called on every exit path */
};

extern const struct stp_script stp_script; /* defined by the generated file */

/* ---- the main loop's event-source hook (for bpf_*.c and other feeders) ------------------- *
 * Register an fd to poll for input; when it is readable the loop calls on_ready(fd, arg),
 * which decodes records and, for each, fills a context with stp_context_init() plus the
 * event's process fields and `event`/`event_len`, and calls stp_dispatch(). Handlers run
 * only while the session is RUNNING, exactly like stap's kernel probes. */
int stp_add_event_source(int fd, void (*on_ready)(int fd, void *arg), void *arg);
void stp_remove_event_source(int fd);
void stp_context_init(struct context *c, const struct stp_probe *p); /* own-process fields */
/* The same without the cpu and time, which a kernel event's record supplies. */
void stp_context_init_event(struct context *c, const struct stp_probe *p);
void stp_dispatch(const struct stp_probe *p, struct context *c);     /* run with checks */
/* Report kernel-side drops for a probe (counted and sent as LOST records). */
void stp_count_lost(const struct stp_probe *p, uint64_t n);

/* ---- session state (stap's STAP_SESSION_*) ------------------------------------------------ */
enum stp_session_state {
	STP_STARTING, STP_RUNNING, STP_ERROR, STP_STOPPING, STP_STOPPED,
};
enum stp_session_state stp_session_state(void);
/* target(): -x PID, or the pid of the -c command (started after probes are attached). */
int64_t stp_target_pid(void);
int64_t stp_error_count(void);

/* ---- the embedded-C conventions (defined by the translator around each embedded body) ----
 *   STAP_ARG_<name>   parameter: int64_t, or const char * for strings
 *   STAP_RETVALUE     int64_t lvalue, or char[MAXSTRINGLEN] buffer for string functions
 *   STAP_RETURN(v)    set the return value and return
 *   STAP_ERROR(...)   raise a script error (printf-formatted) and return
 *   STAP_PRINTF(...)  C printf into the script output
 *   CONTEXT           struct context * of the running handler
 */

#endif /* STP_RUNTIME_H */
