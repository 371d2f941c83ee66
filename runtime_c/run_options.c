/* Runtime options beyond the main loop's: pystap's -v level and -s buffer size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_options.h"

#define MAX_RING_MB 1024u  /* BPF ring buffers are limited to under 4 GB; keep it sane */

static int verbosity;
static unsigned buffer_mb;

int stp_run_option(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		return 0;
	if (strcmp(argv[*i], "--verbose") == 0)
		verbosity = atoi(argv[++*i]);
	else if (strcmp(argv[*i], "--buffer-mb") == 0)
		buffer_mb = (unsigned)strtoul(argv[++*i], NULL, 10);
	else
		return 0;
	return 1;
}

int stp_verbosity(void)
{
	return verbosity;
}

uint32_t stp_bpf_ring_bytes(uint32_t default_bytes)
{
	unsigned mb = 1;

	if (buffer_mb == 0) {
		if (verbosity > 0)
			fprintf(stderr, "Pass 5: kernel ring buffer %u MB (default; -s NUM sets it)\n", default_bytes >> 20);
		return default_bytes;
	}
	while (mb < buffer_mb && mb < MAX_RING_MB)
		mb *= 2;
	if (verbosity > 0)
		fprintf(stderr, "Pass 5: kernel ring buffer %u MB (-s %u)\n", mb, buffer_mb);
	return mb << 20;
}

void stp_note_user_reread(int64_t pid, uint64_t addr, int32_t status)
{
	if (verbosity > 0)
		fprintf(stderr, "Pass 5: user string at 0x%llx of pid %lld was not readable in the kernel (%s); "
			"reading it from user space\n", (unsigned long long)addr, (long long)pid,
			status < 0 ? strerror(-status) : "nothing read");
}
