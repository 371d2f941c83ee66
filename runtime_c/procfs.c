/* procfs.c - procfs("NAME").read/.write probes served as named pipes in a per-run
 * directory (stap's /proc/systemtap/MODULE/NAME cannot be created from user space).
 * The directory is announced as a warning-free note on stderr's channel at start:
 *   "procfs files in DIR".
 * .write: data written to the pipe becomes $value of the handler (per read() chunk, up
 * to maxsize). .read: when a reader opens the pipe the handler runs and $value is
 * written to it, then the pipe is closed (the reader sees end-of-file).
 * A pipe has one direction that the runtime cannot tell apart from its own end, so a
 * NAME with both .read and .write probes is served as two pipes: NAME for reading
 * and NAME.write for writing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "output.h"
#include "session.h"

static char directory[256];
static int reader_poll_armed;

static int has_procfs_probes(void)
{
	for (size_t i = 0; i < stp_script.nprobes; i++) {
		enum stp_probe_kind k = stp_script.probes[i].kind;
		if (k == STP_PROBE_PROCFS_READ || k == STP_PROBE_PROCFS_WRITE)
			return 1;
	}
	return 0;
}

static int has_reader_probe(const char *name)
{
	for (size_t i = 0; i < stp_script.nprobes; i++) {
		const struct stp_probe *p = &stp_script.probes[i];
		if (p->kind == STP_PROBE_PROCFS_READ && strcmp(p->procfs_name, name) == 0)
			return 1;
	}
	return 0;
}

static void path_of(const struct stp_probe *p, char *out, size_t size)
{
	int split = p->kind == STP_PROBE_PROCFS_WRITE && has_reader_probe(p->procfs_name);
	snprintf(out, size, "%s/%s%s", directory, p->procfs_name, split ? ".write" : "");
}

static void run_with_value(const struct stp_probe *p, const char *data, size_t n)
{
	struct context c;
	stp_context_init(&c, p);
	size_t max = (size_t)stp_script.limits.maxstringlen - 1;
	if (p->procfs_maxsize > 0 && (size_t)p->procfs_maxsize < max)
		max = (size_t)p->procfs_maxsize;
	if (n > max)
		n = max;
	memcpy(c.procfs_value, data, n);
	c.procfs_value[n] = '\0';
	stp_dispatch(p, &c);
}

static void on_writable_data(int fd, void *arg)
{
	const struct stp_probe *p = arg;
	char data[65536];
	ssize_t n = read(fd, data, sizeof data);
	if (n > 0) {
		run_with_value(p, data, (size_t)n);
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	/* the writer closed: reopen so the next writer is served */
	char path[512];
	path_of(p, path, sizeof path);
	stp_remove_event_source(fd);
	close(fd);
	int again = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (again < 0)
		stp_warn("procfs: cannot reopen %s: %s", path, strerror(errno));
	else
		stp_add_event_source(again, on_writable_data, (void *)p);
}

/* For .read probes: serve every reader that has opened the pipe meanwhile. */
static void serve_readers(void)
{
	for (size_t i = 0; i < stp_script.nprobes; i++) {
		const struct stp_probe *p = &stp_script.probes[i];
		if (p->kind != STP_PROBE_PROCFS_READ)
			continue;
		char path[512];
		path_of(p, path, sizeof path);
		int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue; /* ENXIO: nobody is reading */
		struct context c;
		stp_context_init(&c, p);
		stp_dispatch(p, &c);
		size_t len = strlen(c.procfs_value);
		if (write(fd, c.procfs_value, len) < 0 && errno != EPIPE)
			stp_warn("procfs: write %s: %s", path, strerror(errno));
		close(fd);
	}
}

static int make_fifo(const struct stp_probe *p)
{
	char path[512];
	path_of(p, path, sizeof path);
	if (mkfifo(path, 0600) < 0 && errno != EEXIST) {
		stp_warn("procfs: mkfifo %s: %s", path, strerror(errno));
		return -1;
	}
	if (p->kind == STP_PROBE_PROCFS_READ) {
		reader_poll_armed = 1;
		return 0;
	}
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		stp_warn("procfs: open %s: %s", path, strerror(errno));
		return -1;
	}
	return stp_add_event_source(fd, on_writable_data, (void *)p);
}

int stp_procfs_start(void)
{
	if (!has_procfs_probes())
		return 0;
	const char *base = getenv("XDG_RUNTIME_DIR");
	snprintf(directory, sizeof directory, "%s/stapui-%s-%d", base && *base ? base : "/tmp", stp_script.name,
		 (int)getpid());
	if (mkdir(directory, 0700) < 0 && errno != EEXIST) {
		stp_warn("procfs: mkdir %s: %s", directory, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < stp_script.nprobes; i++) {
		enum stp_probe_kind k = stp_script.probes[i].kind;
		if ((k == STP_PROBE_PROCFS_READ || k == STP_PROBE_PROCFS_WRITE) && make_fifo(&stp_script.probes[i]) < 0)
			return -1;
	}
	stp_warn("procfs files in %s", directory);
	return 0;
}

/* How soon the loop must call stp_procfs_poll() again. */
int stp_procfs_timeout_ms(void)
{
	return reader_poll_armed ? 50 : -1;
}

void stp_procfs_poll(void)
{
	if (reader_poll_armed)
		serve_readers();
}

void stp_procfs_stop(void)
{
	if (directory[0] == '\0')
		return;
	for (size_t i = 0; i < stp_script.nprobes; i++) {
		const struct stp_probe *p = &stp_script.probes[i];
		if (p->kind != STP_PROBE_PROCFS_READ && p->kind != STP_PROBE_PROCFS_WRITE)
			continue;
		char path[512];
		path_of(p, path, sizeof path);
		unlink(path);
	}
	rmdir(directory);
	directory[0] = '\0';
}
