/* tapset_sysfs.c - names of block devices from their numbers, for ioblock.*. */
#define _GNU_SOURCE  /* readlink */
#include "tapset_support.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tapset_block_devname(int64_t major, int64_t minor, char *out, size_t size)
{
	char path[64], target[256];
	ssize_t len;
	const char *base;

	out[0] = '\0';
	snprintf(path, sizeof path, "/sys/dev/block/%lld:%lld", (long long)major, (long long)minor);
	len = readlink(path, target, sizeof target - 1);
	if (len < 0)
		return -errno;
	target[len] = '\0';
	base = strrchr(target, '/');
	snprintf(out, size, "%s", base ? base + 1 : target);
	return 0;
}
