/* A user struct sockaddr as stap's _struct_sockaddr_u writes it. */
#ifndef TAPSET_SOCKADDR_H
#define TAPSET_SOCKADDR_H

#include <stddef.h>
#include <stdint.h>

/* "{AF_INET, 127.0.0.1, 80}", "{AF_INET6, 0000:...:0001, 80}", "{AF_UNIX, \"/path\"}",
 * "{AF_NETLINK, pid=0, groups=00000000}", "NULL", "{...}" when unreadable, else
 * "{unknown sockaddr with sa=N, salen=N}". */
void tapset_sockaddr(char *out, size_t size, int64_t pid, uint64_t addr, int64_t len);

#endif
