/* output.c - script output, warnings and errors, through the relay channel (or plain
 * stdout/stderr when the runtime runs stand-alone). Output is buffered per handler and
 * pushed at the end of each handler, like stap's print buffer. */
#include <stdio.h>
#include <stdlib.h>

#include "output.h"
#include "records.h"
#include "relay.h"
#include "runtime.h"

struct relay *stp_relay;

#define OUTPUT_BUFFER 65536
static char buffer[OUTPUT_BUFFER];
static size_t used;

void stp_flush(void)
{
	if (used == 0)
		return;
	rec_output(stp_relay, buffer, used);
	used = 0;
}

void stp_output(const char *s, size_t n)
{
	if (n > OUTPUT_BUFFER - used)
		stp_flush();
	if (n >= OUTPUT_BUFFER) {
		rec_output(stp_relay, s, n);
		return;
	}
	memcpy(buffer + used, s, n);
	used += n;
}

void stp_output_formatted(int (*format)(char *buf, size_t size, void *arg), void *arg)
{
	char small[1024];
	int n = format(small, sizeof small, arg);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		stp_output(small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (big == NULL)
		return;
	format(big, (size_t)n + 1, arg);
	stp_output(big, (size_t)n);
	free(big);
}

struct c_format {
	const char *fmt;
	va_list ap;
};

static int c_format(char *buf, size_t size, void *arg)
{
	struct c_format *f = arg;
	va_list ap;
	va_copy(ap, f->ap);
	int n = vsnprintf(buf, size, f->fmt, ap);
	va_end(ap);
	return n;
}

void stp_printf(const char *fmt, ...)
{
	struct c_format f = {.fmt = fmt};
	va_start(f.ap, fmt);
	stp_output_formatted(c_format, &f);
	va_end(f.ap);
}

/* Messages keep their order relative to output: pending output goes first. */
void stp_report_warning(const char *msg)
{
	stp_flush();
	rec_warning(stp_relay, msg);
}

void stp_report_error(const char *msg)
{
	stp_flush();
	rec_error(stp_relay, msg);
}

void stp_warn(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	size_t n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	stp_report_warning(msg);
}

void stp_softerror(struct context *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->error_buffer, stp_strmax(), fmt, ap);
	va_end(ap);
	c->last_error = c->error_buffer;
}

/* Kernel-side drops for one probe, reported at once as a LOST record. */
void stp_count_lost(const struct stp_probe *p, uint64_t n)
{
	if (n == 0)
		return;
	stp_flush();
	rec_lost(stp_relay, REC_LOST_KERNEL, (int32_t)(p - stp_script.probes), n, p->pp);
}
