/* Runtime options beyond the main loop's: pystap's -v level and -s buffer size. */
#ifndef STP_RUN_OPTIONS_H
#define STP_RUN_OPTIONS_H

#include <stdint.h>

struct context;

/* Consume argv[*i] (and its value) when it is --verbose N or --buffer-mb N: 1, else 0. */
int stp_run_option(int argc, char **argv, int *i);

int stp_verbosity(void);

/* The BPF ring's size: -s NUM megabytes rounded up to a power of two (the kernel's
 * requirement), else `default_bytes`; said on stderr at -v. */
uint32_t stp_bpf_ring_bytes(uint32_t default_bytes);

/* At -v: a user string the kernel could not read (status -errno) is read again from
 * user space. */
void stp_note_user_reread(int64_t pid, uint64_t addr, int32_t status);

#endif
