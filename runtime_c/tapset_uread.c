/* tapset_uread.c - reading another process's memory for the user_* conversions.
 *
 * Handlers run in the runtime process, not in the probed one, so user memory
 * is read with process_vm_readv from the pid of the event.  The kernel never
 * splits one iovec element, so reads are cut at page boundaries: a string
 * that ends just before an unmapped page still reads.
 */
#define _GNU_SOURCE  /* process_vm_readv */
#include "tapset_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Bytes from `addr` to the end of its page. */
static size_t to_page_end(uint64_t addr)
{
	static size_t page;

	if (page == 0) {
		long size = sysconf(_SC_PAGESIZE);
		page = size > 0 ? (size_t)size : 4096;
	}
	return page - (size_t)(addr % page);
}

/* One read that stays within a page. */
static int read_chunk(int64_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };
	ssize_t got = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);

	if (got < 0)
		return -errno;
	return (size_t)got == len ? 0 : -EFAULT;
}

/* Buffers a kernel probe copied at probe time (runtime_c/bpf_events.c); weak as below. */
int stp_event_buffer(int64_t pid, uint64_t addr, void *out, size_t len) __attribute__((weak));

int tapset_read_user_at(int64_t pid, uint64_t addr, void *buf, size_t len, uint64_t *fault)
{
	char *out = buf;

	*fault = addr;
	if (addr == 0)
		return -EFAULT;
	if (stp_event_buffer != NULL && stp_event_buffer(pid, addr, buf, len) == 0)
		return 0;
	while (len > 0) {
		size_t n = to_page_end(addr);
		int rc;

		if (n > len)
			n = len;
		rc = read_chunk(pid, addr, out, n);
		if (rc < 0) {
			*fault = addr;  /* whole pages are readable or not: the chunk's first byte */
			return rc;
		}
		addr += n;
		out += n;
		len -= n;
	}
	return 0;
}

int tapset_read_user(int64_t pid, uint64_t addr, void *buf, size_t len)
{
	uint64_t fault;

	return tapset_read_user_at(pid, addr, buf, len, &fault);
}

/* Strings a kernel probe copied at probe time (runtime_c/bpf_events.c): the probed
 * process may have changed or unmapped them since.  Weak, so this file links alone. */
int stp_event_string(int64_t pid, uint64_t addr, char *out, size_t size, int64_t maxlen) __attribute__((weak));

int tapset_read_user_int(int64_t pid, uint64_t addr, int size, int is_signed, int64_t *value)
{
	unsigned char bytes[8];
	uint64_t raw = 0;
	int rc;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	rc = tapset_read_user(pid, addr, bytes, (size_t)size);
	if (rc < 0)
		return rc;
	for (int i = size - 1; i >= 0; i--)  /* little-endian, as x86_64 stores it */
		raw = (raw << 8) | bytes[i];
	if (is_signed && size < 8 && (raw >> (8 * size - 1)) & 1)
		raw |= ~(uint64_t)0 << (8 * size);
	*value = (int64_t)raw;
	return 0;
}

int tapset_read_user_string(int64_t pid, uint64_t addr, char *out, size_t size, int64_t maxlen)
{
	size_t limit = maxlen < 0 ? 0 : (uint64_t)maxlen > size - 2 ? size - 2 : (size_t)maxlen;
	size_t used = 0;

	out[0] = '\0';
	if (addr == 0)
		return -EFAULT;
	if (stp_event_string != NULL && stp_event_string(pid, addr, out, size, maxlen) == 0)
		return 0;
	while (used < limit) {
		size_t n = to_page_end(addr + used);
		int rc;
		char *nul;

		if (n > limit - used)
			n = limit - used;
		rc = read_chunk(pid, addr + used, out + used, n);
		if (rc < 0) {
			out[0] = '\0';
			return rc;
		}
		nul = memchr(out + used, '\0', n);
		if (nul != NULL)
			return 0;
		used += n;
	}
	out[used] = '\0';
	return 0;
}

int tapset_user_buffer_quoted(int64_t pid, uint64_t addr, int64_t inlen, int64_t outlen, char *out, size_t size)
{
	size_t len = (inlen <= 0 || (uint64_t)inlen > size - 1) ? size - 1 : (size_t)inlen;
	char *buf;
	int rc;

	out[0] = '\0';
	if (outlen <= 0)
		return 0;
	buf = malloc(len);
	if (buf == NULL)
		return -ENOMEM;
	rc = tapset_read_user(pid, addr, buf, len);
	if (rc == 0)
		tapset_escape_n(out, size, buf, len, outlen, 1);
	else
		snprintf(out, (size_t)outlen < size ? (size_t)outlen : size, "0x%llx", (unsigned long long)addr);
	free(buf);
	return rc;
}
