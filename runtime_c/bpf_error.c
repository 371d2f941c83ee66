/* The pipeline's last error, kept as text so the runtime can report it once. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bpf_runtime.h"

static char last_error[65536];

void stp_bpf_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

/* Add detail (e.g. the verifier log) after the message already set. */
void stp_bpf_fail_append(const char *text)
{
	size_t used = strlen(last_error);

	snprintf(last_error + used, sizeof(last_error) - used, "%s", text);
}

const char *stp_bpf_error(void)
{
	return last_error;
}
