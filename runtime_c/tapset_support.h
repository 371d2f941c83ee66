/* tapset_support.h - C helpers behind the tapset library's embedded-C functions.
 *
 * The tapsets (tapsets/NAME.stp) keep their embedded bodies short: they unpack
 * STAP_ARG_* values, call one of these helpers and hand the result to
 * STAP_RETURN or STAP_ERROR.  The helpers know nothing of the runtime's
 * context struct, so each can be built and tested on its own with gcc.
 *
 * Conventions: string results are written into caller buffers of `size`
 * bytes and always NUL-terminated; functions that can fail return 0 on
 * success and a negative errno value on failure.
 */
#ifndef STAPUI_TAPSET_SUPPORT_H
#define STAPUI_TAPSET_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* tapset_escape.c: stap's text_str/text_strn/string_quoted escaping.
 * `out_limit` is the longest result wanted (<= 0 or too large means size-1);
 * with `quoted` the result is wrapped in double quotes and a truncated input
 * ends in `"...`. */
void tapset_escape(char *out, size_t size, const char *in, int64_t out_limit, int quoted);
/* The same for a buffer of `len` bytes (at most size-1 are used), NULs included. */
void tapset_escape_n(char *out, size_t size, const char *in, size_t len, int64_t out_limit, int quoted);

/* tapset_string.c: the string tapset's non-trivial functions. */
void tapset_substr(char *out, size_t size, const char *s, int64_t start, int64_t length);
void tapset_str_replace(char *out, size_t size, const char *s, const char *find, const char *repl);
int64_t tapset_strtol(const char *s, int64_t base);
int64_t tapset_strpos(const char *haystack, const char *needle);
void tapset_case(char *out, size_t size, const char *s, int upper);

/* tapset_tokenize.c: tokenize() keeps its position between calls, as stap's
 * per-context state does.  A non-empty `input` starts a new string. */
void tapset_tokenize(char *out, size_t size, const char *input, const char *delim);

/* tapset_clock.c: clocks. When `event_mono_ns` is nonzero the result is the
 * time of the event (CLOCK_MONOTONIC stamp taken in the kernel), translated
 * to clock `clock_id`; otherwise it is the time now. */
int64_t tapset_clock_ns(int clock_id, uint64_t event_mono_ns);  /* a CLOCK_* id */
int64_t tapset_cycles(void);
/* The kernel's jiffies counter at the event (or now), for a kernel of `hz` ticks a second. */
int64_t tapset_jiffies(int64_t hz, uint64_t event_mono_ns);

/* tapset_ctime.c: "Wed Jun 30 21:49:08 1993" (always 24 characters, UTC).
 * Returns 0, or 1 if `secs` is after 2038-01-19T03:14:07, -1 if before
 * 1901-12-13T20:45:52 (stap's 32-bit range); `out` is then empty. */
int tapset_ctime(char *out, size_t size, int64_t secs);
/* The local time zone at start-up: offset in seconds WEST of UTC, and name. */
int64_t tapset_tz_gmtoff(void);
const char *tapset_tz_name(void);

/* tapset_names.c: symbolic names (NULL or "" when the number has none). */
const char *tapset_errno_name(int64_t err);    /* 2 -> "ENOENT" (sign ignored) */
void tapset_signal_name(char *out, size_t size, int64_t sig);   /* 1 -> "HUP", "" if none */

/* tapset_random.c: uniform in [0, n); -1 when n is above 2**20 or negative. */
int64_t tapset_randint(int64_t n);

/* tapset_tgid.c: the process id of thread `tid` (remembered; `tid` itself if gone). */
int64_t tapset_tgid(int64_t tid);

/* tapset_loadavg.c: "0.15 0.22 0.30", the load averages as /proc/loadavg gives them. */
int tapset_loadavg(char *out, size_t size);

/* tapset_sysfs.c: "sda1" for block device major:minor ("" and -errno if none). */
int tapset_block_devname(int64_t major, int64_t minor, char *out, size_t size);

/* tapset_system.c: starts `sh -c command` in the background; 0 or -errno. */
int tapset_system(const char *command);

/* tapset_uread.c: user memory of process `pid` (process_vm_readv). */
int tapset_read_user(int64_t pid, uint64_t addr, void *buf, size_t len);
/* The same; on failure *fault is the first address that could not be read (stap's
 * "read fault ... at ADDR" names it). */
int tapset_read_user_at(int64_t pid, uint64_t addr, void *buf, size_t len, uint64_t *fault);
/* A 1, 2, 4 or 8-byte integer, sign- or zero-extended to 64 bits. */
int tapset_read_user_int(int64_t pid, uint64_t addr, int size, int is_signed, int64_t *value);
/* Reads a NUL-terminated string of at most `maxlen` bytes and at most size-2
 * (stap's user_string_n limits); a longer string is truncated. */
int tapset_read_user_string(int64_t pid, uint64_t addr, char *out, size_t size, int64_t maxlen);

/* user_buffer_quoted: `inlen` bytes (<= 0 or too many: size-1) escaped and
 * quoted into at most `outlen` characters; on a fault, the address in hex
 * (cut to outlen-1 characters) and the read's -errno. */
int tapset_user_buffer_quoted(int64_t pid, uint64_t addr, int64_t inlen, int64_t outlen, char *out, size_t size);

/* tapset_utf.c: a NUL-terminated string of `unit`-byte (2: UTF-16, 4: UTF-32)
 * characters as UTF-8, truncated at size-1 bytes.  -EFAULT if the memory at
 * *where cannot be read; -EILSEQ if *bad (at *where) is not a character. */
int tapset_read_user_utf(int64_t pid, uint64_t addr, int unit, char *out, size_t size, uint64_t *where,
			 uint32_t *bad);

/* tapset_fp.c: doubles carried as the 64 bits of their IEEE-754 encoding. */
double tapset_fp_value(int64_t bits);
int64_t tapset_fp_bits(double d);
int64_t tapset_fp32_to_fp64(int64_t bits32);
/* a op b for op '+', '-', '*', '/', '%' (IEEE remainder); any other op: sqrt(a). */
int64_t tapset_fp_arith(int64_t a, int64_t b, char op);
/* Rounded in `mode` (0 nearest-even, 1 toward zero, 2 down, 3 up, 4 nearest-away,
 * 6 odd); NaN and values below the range give INT64_MIN, above it INT64_MAX. */
int64_t tapset_fp_to_long(int64_t bits, int mode);
/* "%.Nf" with N = precision digits after the point (at least 1). */
void tapset_fp_to_string(char *out, size_t size, int64_t bits, int64_t precision);
/* A decimal number ([sign]digits[.digits][e[sign]digits]); -1 if malformed. */
int tapset_string_to_fp(const char *s, int64_t *bits);

/* tapset_proc.c: facts about a process from /proc. */
int tapset_proc_comm(int64_t pid, char *out, size_t size);
/* Arguments n..m (m < n: all from n) of the command line, joined by `delim`. */
int tapset_proc_cmdline(int64_t pid, int64_t n, int64_t m, const char *delim, char *out, size_t size);
/* Field `index` (1-based, as in proc(5)) of /proc/PID/stat. */
int tapset_proc_stat_field(int64_t pid, int index, int64_t *value);
/* Value of environment variable `name` of the process ("" when unset). */
int tapset_proc_environ(int64_t pid, const char *name, char *out, size_t size);
/* Field `index` (0-based) of /proc/PID/statm, in pages. */
int tapset_proc_statm_field(int64_t pid, int index, int64_t *value);

#endif
