/* tapset_loadavg.c - the 1, 5 and 15 minute load averages from /proc/loadavg,
 * which the kernel rounds to hundredths exactly as stap's loadavg tapset does. */
#include "tapset_support.h"

#include <errno.h>
#include <stdio.h>

int tapset_loadavg(char *out, size_t size)
{
	char fields[3][32];
	FILE *f = fopen("/proc/loadavg", "r");
	int got;

	out[0] = '\0';
	if (f == NULL)
		return -errno;
	got = fscanf(f, "%31s %31s %31s", fields[0], fields[1], fields[2]);
	fclose(f);
	if (got != 3)
		return -EINVAL;
	snprintf(out, size, "%s %s %s", fields[0], fields[1], fields[2]);
	return 0;
}
