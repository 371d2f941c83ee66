/* Test harness for runtime_c/bpf_*.c: load one capture program (the raw bytes the
 * Python assembler produced), attach it, and print every record as hex until stdin
 * closes; then print the per-probe loss count and detach.
 *
 *   harness PROGRAM.bin tracepoint SYSTEM:EVENT RING_BYTES [SLOT=MAP ...]
 *   harness PROGRAM.bin software CONFIG:PERIOD RING_BYTES [SLOT=MAP ...]
 *
 * HARNESS_HOLD=1 consumes nothing until stdin closes (to fill the ring on purpose);
 * HARNESS_DIGEST=HEX is the tracepoint format digest to check at attach time.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf_runtime.h"
#include "print_record.h"

/* The session's side that bpf_process.c and bpf_probes.c ask about: the harness runs
 * no script, so there is no -x/-c target, and warnings go straight to stderr. */
void stp_warn(const char *fmt, ...)
{
	va_list args;

	fputs("WARNING: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
}

int64_t stp_target_pid(void) { return 0; }
int stp_target_has_command(void) { return 0; }

uint64_t stp_now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void *read_program(const char *path, uint32_t *n_insns)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "harness: cannot open %s: %s\n", path, strerror(errno));
		exit(2);
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	*n_insns = (uint32_t)(n / sizeof(struct bpf_insn));
	return buf;
}

static void parse_relocs(int argc, char **argv, struct stp_bpf_reloc *relocs)
{
	int i;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq == NULL) {
			fprintf(stderr, "harness: bad relocation %s\n", argv[i]);
			exit(2);
		}
		*eq = '\0';
		relocs[i].insn = (uint32_t)atoi(argv[i]);
		relocs[i].map = eq + 1;
	}
}

static void consume_until_stdin_closes(void)
{
	struct pollfd fds[2] = {{stp_bpf_poll_fd(), POLLIN, 0}, {0, POLLIN, 0}};
	char buf[256];

	if (getenv("HARNESS_HOLD") != NULL) {
		while (read(0, buf, sizeof(buf)) > 0)
			;
		stp_bpf_drain(print_record, NULL);
		return;
	}
	for (;;) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR) {
			fprintf(stderr, "harness: poll: %s\n", strerror(errno));
			return;
		}
		stp_bpf_drain(print_record, NULL);
		if (fds[1].revents && read(0, buf, sizeof(buf)) <= 0)
			break;
	}
	stp_bpf_drain(print_record, NULL);
}

int main(int argc, char **argv)
{
	struct stp_bpf_probe probe;
	const struct stp_bpf_probe *table[1] = {&probe};
	struct stp_bpf_reloc relocs[16];

	if (argc < 5 || argc - 5 > 16) {
		fprintf(stderr, "usage: harness PROGRAM.bin tracepoint|software TARGET RING_BYTES [SLOT=MAP ...]\n");
		return 2;
	}
	memset(&probe, 0, sizeof(probe));
	probe.probe_point = argv[3];
	probe.insns = read_program(argv[1], &probe.n_insns);
	probe.relocs = relocs;
	probe.n_relocs = (uint32_t)(argc - 5);
	parse_relocs(argc - 5, argv + 5, relocs);
	if (strcmp(argv[2], "tracepoint") == 0) {
		probe.attach = STP_BPF_TRACEPOINT;
		probe.target = argv[3];
		probe.format_digest = getenv("HARNESS_DIGEST");
	} else {
		probe.attach = STP_BPF_PERF_EVENT;
		probe.perf_type = 1; /* PERF_TYPE_SOFTWARE */
		sscanf(argv[3], "%lu:%lu", (unsigned long *)&probe.config, (unsigned long *)&probe.period);
	}
	if (stp_bpf_start(table, 1, (uint32_t)strtoul(argv[4], NULL, 0), 0) < 0) {
		fprintf(stderr, "harness: %s\n", stp_bpf_error());
		return 1;
	}
	printf("attached\n");
	fflush(stdout);
	consume_until_stdin_closes();
	printf("lost %llu\n", (unsigned long long)stp_bpf_lost(0));
	stp_bpf_stop();
	return 0;
}
