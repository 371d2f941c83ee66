/* printf.c - stap's printf: the conversions %d %i %u %x %X %o %p %c %s %b %m %M %%, the
 * flag (one of - + space # 0), width and precision (also `*`), with the kernel-style number
 * rendering stap uses (e.g. "%#x" of 0 is "0x0", precision never hides a 0).  A failing
 * conversion (%m of unreadable memory) sets c->last_error and the call prints nothing. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include "output.h"
#include "runtime.h"
#include "tapset_support.h"

enum { F_LEFT = 1, F_PLUS = 2, F_SPACE = 4, F_SPECIAL = 8, F_ZERO = 16, F_SIGN = 32, F_LARGE = 64 };

/* stap refuses to dump more than a page with one %m/%M (the translator checks it before
 * the call, naming the precision's expression; the check here guards `bytes` below). */
enum { MEMORY_DUMP_MAX = 4096 };

/* stap formats one printf into its print buffer, STP_BUFFER_SIZE bytes, and drops the rest. */
enum { PRINT_MAX = 8192 };

struct sink {
	char *buf;
	size_t size, len; /* len counts every byte, also those past size */
	struct context *c; /* the probe's context: whose memory %m reads, where errors go */
	int failed;        /* an error was set: the whole call prints nothing, as in stap */
};

static void emit(struct sink *o, char ch)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = ch;
	o->len++;
}

static void emit_n(struct sink *o, char ch, int n)
{
	while (n-- > 0)
		emit(o, ch);
}

static void number(struct sink *o, uint64_t num, int base, int width, int precision, int flags)
{
	const char *digits = (flags & F_LARGE) ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[66];
	char sign = 0;
	if (flags & F_LEFT)
		flags &= ~F_ZERO;
	if (flags & F_SIGN) {
		if ((int64_t)num < 0) {
			sign = '-';
			num = 0 - num;
		} else if (flags & F_PLUS) {
			sign = '+';
		} else if (flags & F_SPACE) {
			sign = ' ';
		}
	}
	width -= sign != 0;
	if (flags & F_SPECIAL)
		width -= base == 16 ? 2 : base == 8 ? 1 : 0;
	int n = 0;
	do {
		tmp[n++] = digits[num % (uint64_t)base];
		num /= (uint64_t)base;
	} while (num != 0);
	if (n > precision)
		precision = n;
	width -= precision;
	if (!(flags & (F_ZERO | F_LEFT)))
		emit_n(o, ' ', width), width = 0;
	if (sign)
		emit(o, sign);
	if ((flags & F_SPECIAL) && base != 10) {
		emit(o, '0');
		if (base == 16)
			emit(o, (flags & F_LARGE) ? 'X' : 'x');
	}
	if (!(flags & F_LEFT))
		emit_n(o, (flags & F_ZERO) ? '0' : ' ', width), width = 0;
	emit_n(o, '0', precision - n);
	while (n-- > 0)
		emit(o, tmp[n]);
	emit_n(o, ' ', width);
}

static const char *escape_of(unsigned char ch)
{
	switch (ch) {
	case '\a': return "\\a";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\v': return "\\v";
	case '\'': return "\\'";
	case '\\': return "\\\\";
	default: return NULL;
	}
}

/* `len` bytes of text, space-padded to `width` on the side the flags say. */
static void padded(struct sink *o, const char *text, int len, int width, int flags)
{
	if (!(flags & F_LEFT))
		emit_n(o, ' ', width - len);
	for (int i = 0; i < len; i++)
		emit(o, text[i]);
	if (flags & F_LEFT)
		emit_n(o, ' ', width - len);
}

/* %c; with '#', non-printable characters as C escapes or \ooo. */
static void character(struct sink *o, unsigned char ch, int width, int flags)
{
	char text[8] = {(char)ch, 0};
	int len = 1;
	if ((flags & F_SPECIAL) && (!(isprint(ch) && isascii(ch)) || ch == '\'' || ch == '\\')) {
		const char *esc = escape_of(ch);
		if (esc)
			len = snprintf(text, sizeof text, "%s", esc);
		else
			len = snprintf(text, sizeof text, "\\%03o", ch);
	}
	padded(o, text, len, width, flags);
}

/* %s; stap's '0' flag adds a NUL byte after the field, as for %m. */
static void string(struct sink *o, const char *s, int width, int precision, int flags)
{
	padded(o, s, (int)strnlen(s, precision >= 0 ? (size_t)precision : (size_t)-1), width, flags);
	if (flags & F_ZERO)
		emit(o, '\0');
}

static int binary_size(int n)
{
	return n == 1 || n == 2 || n == 4 || n == 8 ? n : -1;
}

/* %b: the value's low bytes in host order; width/precision pick 1, 2, 4 or 8 bytes. */
static void binary(struct sink *o, int64_t v, int width, int precision, int flags)
{
	precision = binary_size(precision);
	if (width < 0) {
		if (precision < 0)
			precision = 8;
		width = precision;
	} else if (precision < 0) {
		precision = binary_size(width);
		if (precision < 0)
			precision = 8;
	}
	if (!(flags & F_LEFT))
		emit_n(o, '\0', width - precision);
	const char *bytes = (const char *)&v;
	for (int i = 0; i < precision; i++)
		emit(o, bytes[i]);
	if (flags & F_LEFT)
		emit_n(o, '\0', width - precision);
}

static void fail(struct sink *o, const char *fmt, unsigned long long value, const char *why)
{
	snprintf(o->c->error_buffer, stp_strmax(), fmt, value, why);
	o->c->last_error = o->c->error_buffer;
	o->failed = 1;
}

/* The `len` bytes at `address` in the probed context, or an error as stap words it.
 * stap reads kernel memory for %m and user memory for %#m where the probe fires.  This
 * runtime is a user process: user memory is the event's process's (c->pid, copied at
 * probe time when the capture program did, else read live; in begin, end and timer
 * probes the runtime itself, as stap reads staprun's or the interrupted task's), and
 * kernel memory cannot be read at all.  A user address given to %m faults as it does
 * in stap on x86-64, where copy_from_kernel_nofault refuses user addresses. */
static int read_memory(struct sink *o, uint64_t address, unsigned char *bytes, int len, int user)
{
	uint64_t fault = address;
	if (user && tapset_read_user_at(o->c->pid, address, bytes, (size_t)len, &fault) == 0)
		return 0;
	if (!user && (int64_t)address < 0)
		fail(o, "read fault [man error::fault] at 0x%llx%s", address,
		     " (kernel memory cannot be read from user space)");
	else
		fail(o, "read fault [man error::fault] at 0x%llx%s", fault, "");
	return -1;
}

void stp_check_dump_size(struct context *c, int64_t bytes)
{
	if (bytes > MEMORY_DUMP_MAX) {
		snprintf(c->error_buffer, stp_strmax(), "%lld is too many bytes for a memory dump", (long long)bytes);
		c->last_error = c->error_buffer;
	}
}

/* %m / %M: precision bytes of memory (default 1) as they are, or as hex digits;
 * stap's '0' flag adds a NUL byte after the field. */
static void memory(struct sink *o, int64_t address, int width, int precision, char conv, int flags)
{
	if (precision > MEMORY_DUMP_MAX) {
		fail(o, "%lld is too many bytes for a memory dump%s", (unsigned long long)precision, "");
		return;
	}
	int len = precision > 0 ? precision : 1;
	unsigned char bytes[MEMORY_DUMP_MAX];
	if (read_memory(o, (uint64_t)address, bytes, len, flags & F_SPECIAL) < 0)
		return;
	int shown = conv == 'M' ? 2 * len : len;
	if (!(flags & F_LEFT))
		emit_n(o, ' ', width - shown);
	for (int i = 0; i < len; i++) {
		if (conv == 'M') {
			emit(o, "0123456789abcdef"[bytes[i] >> 4]);
			emit(o, "0123456789abcdef"[bytes[i] & 15]);
		} else {
			emit(o, (char)bytes[i]);
		}
	}
	if (flags & F_LEFT)
		emit_n(o, ' ', width - shown);
	if (flags & F_ZERO)
		emit(o, '\0');
}

/* stap's format parser takes one flag at most: in "%-05d" or "%#08x" the zero belongs
 * to the width, so it pads with spaces. */
static int parse_flag(const char **fmt)
{
	switch (**fmt) {
	case '-': (*fmt)++; return F_LEFT;
	case '+': (*fmt)++; return F_PLUS;
	case ' ': (*fmt)++; return F_SPACE;
	case '#': (*fmt)++; return F_SPECIAL;
	case '0': (*fmt)++; return F_ZERO;
	default: return 0;
	}
}

/* A width or precision: digits, or `*` taking the next argument, which stap narrows to
 * an int and clamps to 0..PRINT_MAX (a negative `*` width does not left-justify). */
static int parse_count(const char **fmt, const union stp_value *args, int nargs, int *next)
{
	if (**fmt == '*') {
		(*fmt)++;
		int v = *next < nargs ? (int)args[(*next)++].n : 0;
		return v < 0 ? 0 : v > PRINT_MAX ? PRINT_MAX : v;
	}
	int v = 0;
	while (isdigit((unsigned char)**fmt))
		if ((v = v * 10 + (*(*fmt)++ - '0')) > PRINT_MAX)
			v = PRINT_MAX;
	return v;
}

static void conversion(struct sink *o, const char **fmt, const union stp_value *args, int nargs, int *next)
{
	int flags = parse_flag(fmt);
	int width = -1, precision = -1;
	if (isdigit((unsigned char)**fmt) || **fmt == '*')
		width = parse_count(fmt, args, nargs, next);
	if (**fmt == '.') {
		(*fmt)++;
		precision = parse_count(fmt, args, nargs, next);
	}
	while (**fmt == 'l' || **fmt == 'h' || **fmt == 'L')
		(*fmt)++;
	char conv = **fmt;
	if (conv == '\0') {
		emit(o, '%');
		return;
	}
	(*fmt)++;
	if (conv == '%') {
		emit(o, '%');
		return;
	}
	if (!strchr("dioux Xpcsbm M", conv) || conv == ' ') {
		emit(o, '%');
		emit(o, conv);
		return;
	}
	union stp_value arg = *next < nargs ? args[(*next)++] : (union stp_value){.n = 0};
	switch (conv) {
	case 's': string(o, arg.s ? arg.s : "", width, precision, flags); return;
	case 'c': character(o, (unsigned char)arg.n, width, flags); return;
	case 'b': binary(o, arg.n, width, precision, flags); return;
	case 'm': case 'M': memory(o, arg.n, width, precision, conv, flags); return;
	case 'X': number(o, (uint64_t)arg.n, 16, width, precision, flags | F_LARGE); return;
	case 'x': number(o, (uint64_t)arg.n, 16, width, precision, flags); return;
	case 'p': number(o, (uint64_t)arg.n, 16, width, precision, flags | F_SPECIAL); return;
	case 'o': number(o, (uint64_t)arg.n, 8, width, precision, flags); return;
	case 'u': number(o, (uint64_t)arg.n, 10, width, precision, flags); return;
	default: number(o, (uint64_t)arg.n, 10, width, precision, flags | F_SIGN); return;
	}
}

int stp_format(struct context *c, char *out, size_t size, const char *fmt, const union stp_value *args, int nargs)
{
	struct sink o = {out, size, 0, c, 0};
	int next = 0;
	while (*fmt && !o.failed) {
		if (*fmt != '%') {
			emit(&o, *fmt++);
			continue;
		}
		fmt++;
		conversion(&o, &fmt, args, nargs, &next);
	}
	if (o.failed)
		o.len = 0;
	if (size > 0)
		out[o.len < size ? o.len : size - 1] = '\0';
	return o.failed ? -1 : (int)o.len;
}

void stp_printf_values(struct context *c, const char *fmt, const union stp_value *args, int nargs)
{
	char text[PRINT_MAX + 1];
	int n = stp_format(c, text, sizeof text, fmt, args, nargs);
	if (n > 0)
		stp_output(text, n < PRINT_MAX ? (size_t)n : PRINT_MAX);
}

char *stp_sprintf_values(struct context *c, char *dst, const char *fmt, const union stp_value *args, int nargs)
{
	stp_format(c, dst, stp_strmax(), fmt, args, nargs);
	return dst;
}
