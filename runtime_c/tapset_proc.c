/* tapset_proc.c - facts about a process read from /proc, for context
 * functions the event record does not carry (pexecname, cmdline_*, sid,
 * pgrp, env_var, proc_mem_*).  They describe the process as it is when the
 * handler runs, which for a process that has exited is an error. */
#define _GNU_SOURCE  /* open, read */
#include "tapset_support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROC_READ_MAX (256 * 1024)

/* Reads /proc/PID/NAME into a malloc'd, NUL-terminated buffer; returns its
 * length or -errno.  The caller frees *data on success. */
static ssize_t read_proc(int64_t pid, const char *name, char **data)
{
	char path[64];
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int fd;

	if (buf == NULL)
		return -ENOMEM;
	snprintf(path, sizeof path, "/proc/%lld/%s", (long long)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	for (;;) {
		ssize_t got;
		if (len + 1 == cap) {
			char *grown = cap >= PROC_READ_MAX ? NULL : realloc(buf, cap * 2);
			if (grown == NULL)
				break;  /* keep what fits */
			buf = grown;
			cap *= 2;
		}
		got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int err = errno;
			close(fd);
			free(buf);
			return -err;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	buf[len] = '\0';
	*data = buf;
	return (ssize_t)len;
}

int tapset_proc_comm(int64_t pid, char *out, size_t size)
{
	char *data;
	ssize_t len = read_proc(pid, "comm", &data);

	out[0] = '\0';
	if (len < 0)
		return (int)len;
	data[strcspn(data, "\n")] = '\0';
	snprintf(out, size, "%s", data);
	free(data);
	return 0;
}

/* Appends `s` to `out` (holding *used bytes), truncating at size-1. */
static void append(char *out, size_t size, size_t *used, const char *s)
{
	size_t n = strlen(s);

	if (n > size - 1 - *used)
		n = size - 1 - *used;
	memcpy(out + *used, s, n);
	*used += n;
	out[*used] = '\0';
}

int tapset_proc_cmdline(int64_t pid, int64_t n, int64_t m, const char *delim, char *out, size_t size)
{
	char *data;
	ssize_t len = read_proc(pid, "cmdline", &data);
	size_t used = 0;
	int64_t index = 0;

	out[0] = '\0';
	if (len < 0)
		return (int)len;
	for (ssize_t at = 0; at < len; at += (ssize_t)strlen(data + at) + 1, index++) {
		if (index < n)
			continue;
		if (m >= n && index > m)
			break;
		if (index > n)
			append(out, size, &used, delim);
		append(out, size, &used, data + at);
	}
	free(data);
	return 0;
}

int tapset_proc_stat_field(int64_t pid, int index, int64_t *value)
{
	char *data;
	ssize_t len = read_proc(pid, "stat", &data);
	char *p;

	if (len < 0)
		return (int)len;
	p = strrchr(data, ')');  /* the command name may hold spaces and parentheses */
	if (index < 3 || p == NULL) {
		free(data);
		return -EINVAL;
	}
	for (int field = 2; field < index && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL) {
		free(data);
		return -EINVAL;
	}
	*value = strtoll(p + 1, NULL, 10);
	free(data);
	return 0;
}

int tapset_proc_environ(int64_t pid, const char *name, char *out, size_t size)
{
	char *data;
	ssize_t len = read_proc(pid, "environ", &data);
	size_t name_len = strlen(name);

	out[0] = '\0';
	if (len < 0)
		return (int)len;
	for (ssize_t at = 0; at < len; at += (ssize_t)strlen(data + at) + 1) {
		if (strncmp(data + at, name, name_len) == 0 && data[at + (ssize_t)name_len] == '=') {
			snprintf(out, size, "%s", data + at + name_len + 1);
			break;
		}
	}
	free(data);
	return 0;
}

int tapset_proc_statm_field(int64_t pid, int index, int64_t *value)
{
	char *data;
	ssize_t len = read_proc(pid, "statm", &data);
	long long fields[7];
	int got;

	if (len < 0)
		return (int)len;
	got = sscanf(data, "%lld %lld %lld %lld %lld %lld %lld", &fields[0], &fields[1], &fields[2],
		     &fields[3], &fields[4], &fields[5], &fields[6]);
	free(data);
	if (index < 0 || index >= got)
		return -EINVAL;
	*value = fields[index];
	return 0;
}
