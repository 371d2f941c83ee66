/* A user struct sockaddr as stap's _struct_sockaddr_u writes it; the bytes come from
 * the probe-time copy when the kernel probe made one (tapset_read_user). */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "tapset_sockaddr.h"
#include "tapset_support.h"

#define SOCKADDR_MAX 128  /* stap reads at most this much */

static void inet4(char *out, size_t size, const struct sockaddr_in *sin)
{
	const unsigned char *a = (const unsigned char *)&sin->sin_addr;

	snprintf(out, size, "{AF_INET, %u.%u.%u.%u, %d}", a[0], a[1], a[2], a[3], ntohs(sin->sin_port));
}

/* The kernel's %pI6: eight 4-digit groups, never compressed. */
static void inet6(char *out, size_t size, const struct sockaddr_in6 *sin6)
{
	const unsigned char *a = sin6->sin6_addr.s6_addr;

	snprintf(out, size, "{AF_INET6, %02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x:%02x%02x, %d}",
		 a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15],
		 ntohs(sin6->sin6_port));
}

static void unix_path(char *out, size_t size, const struct sockaddr_un *sun, size_t len)
{
	char escaped[256];

	if (sun->sun_path[0] != '\0') {
		snprintf(out, size, "{AF_UNIX, \"%.*s\"}", (int)sizeof(sun->sun_path), sun->sun_path);
		return;
	}
	tapset_escape_n(escaped, sizeof(escaped), sun->sun_path + 1, len - sizeof(sa_family_t) - 1, -1, 0);
	snprintf(out, size, "{AF_UNIX, \"\\000%s\"}", escaped);
}

void tapset_sockaddr(char *out, size_t size, int64_t pid, uint64_t addr, int64_t len)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
		struct sockaddr_un sun;
		struct sockaddr_nl snl;
		char bytes[SOCKADDR_MAX];
	} u;
	int32_t length = (int32_t)len;  /* an int argument; negative clamps to the most, as in stap */
	size_t n = length < 0 || length > SOCKADDR_MAX ? SOCKADDR_MAX : (size_t)length;

	memset(&u, 0, sizeof(u));
	if (addr == 0)
		snprintf(out, size, "NULL");
	else if (n > 0 && tapset_read_user(pid, addr, u.bytes, n) < 0)
		snprintf(out, size, "{...}");
	else if (u.sa.sa_family == AF_INET && n == sizeof(u.sin))
		inet4(out, size, &u.sin);
	else if (u.sa.sa_family == AF_UNIX && (n == sizeof(u.sun) || n >= sizeof(sa_family_t) + 2))
		unix_path(out, size, &u.sun, n);
	else if (u.sa.sa_family == AF_NETLINK && n == sizeof(u.snl))
		snprintf(out, size, "{AF_NETLINK, pid=%d, groups=%08x}", (int)u.snl.nl_pid, u.snl.nl_groups);
	else if (u.sa.sa_family == AF_INET6 && n == sizeof(u.sin6))
		inet6(out, size, &u.sin6);
	else if (n >= sizeof(sa_family_t))
		snprintf(out, size, "{unknown sockaddr with sa=%d, salen=%d}", u.sa.sa_family, (int)n);
	else
		snprintf(out, size, "{unknown sockaddr with salen=%d}", (int)n);
}
