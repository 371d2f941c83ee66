/* tapset_names.c - symbolic names of error numbers and signals. */
#define _GNU_SOURCE  /* strerrorname_np */
#include "tapset_support.h"

#include <stdio.h>
#include <string.h>

/* stap's errno table stops at ENOTRECOVERABLE; newer numbers have no name there. */
#define LAST_NAMED_ERRNO 131

const char *tapset_errno_name(int64_t err)
{
	int64_t e = err < 0 ? -err : err;

	if (e <= 0 || e > LAST_NAMED_ERRNO)
		return NULL;
	return strerrorname_np((int)e);
}

void tapset_signal_name(char *out, size_t size, int64_t sig)
{
	static const char *const classic[32] = {
		"", "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS",
		"FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
		"STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
		"XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO/POLL", "PWR", "SYS",
	};

	if (sig >= 0 && sig < 32)
		snprintf(out, size, "%s", classic[sig]);
	else if (sig == 32)
		snprintf(out, size, "RTMIN");
	else if (sig > 32 && sig <= 64)
		snprintf(out, size, "RTMIN+%d", (int)(sig - 32));
	else
		out[0] = '\0';
}
