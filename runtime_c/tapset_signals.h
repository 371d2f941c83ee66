/* Signal sets, sigactions and rlimits in user memory, as stap's syscall tapsets write
 * them (_stp_sigset_u, _struct_sigaction_u, _struct_rlimit_u). */
#ifndef TAPSET_SIGNALS_H
#define TAPSET_SIGNALS_H

#include <stddef.h>
#include <stdint.h>

void tapset_sigset_u(char *out, size_t size, int64_t pid, uint64_t addr);     /* "[SIGINT|SIGTERM]" */
void tapset_sigaction_u(char *out, size_t size, int64_t pid, uint64_t addr);  /* "SIG_IGN", "0x401136, SA_RESTART, 0x..., [EMPTY]" */
void tapset_rlimit_u(char *out, size_t size, int64_t pid, uint64_t addr);     /* "[1024,4096]" */

#endif
