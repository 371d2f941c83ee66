/* The kernel conformance cases' workload (tests/conformance/kernel.cases): known
 * system calls and function calls, each a known number of times, under a name the
 * case chooses.
 *
 *   workload NAME STEP...
 *
 * NAME becomes the process's name (execname(), at most 15 characters) before the
 * first step, so a script that filters on it sees none of the dynamic loader's system
 * calls, nor those of other processes. Descriptors 77 (/dev/zero) and 78 (/dev/null)
 * are opened before that too. The steps, run in order:
 *
 *   getpid:N       N getpid system calls
 *   read:SIZE:N    N reads of SIZE bytes from descriptor 77
 *   ramp:N         N reads from descriptor 77, of 1, 2, ... N bytes
 *   write:SIZE:N   N writes of SIZE bytes to descriptor 78
 *   open:N         N openat("/dev/null"), each closed at once
 *   fork:N         N children, one after another, each exiting at once (waited for)
 *   call:N         work(i, 10 * i) for i < N (for process(...).function probes)
 *
 * It prints nothing: a case's expected output is its script's alone.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZERO_FD 77
#define NULL_FD 78

static char buf[65536];
long total;

__attribute__((noinline)) long work(int i, long weight)
{
	total += weight;
	return i + weight;
}

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void reads(long size, long n)
{
	for (long i = 0; i < n; i++)
		if (read(ZERO_FD, buf, size) != size)
			fail("read");
}

static void writes(long size, long n)
{
	for (long i = 0; i < n; i++)
		if (write(NULL_FD, buf, size) != size)
			fail("write");
}

static void opens(long n)
{
	for (long i = 0; i < n; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			fail("open");
		close(fd);
	}
}

static void forks(long n)
{
	for (long i = 0; i < n; i++) {
		pid_t child = fork();
		if (child < 0)
			fail("fork");
		if (child == 0)
			_exit(0);
		if (waitpid(child, NULL, 0) != child)
			fail("waitpid");
	}
}

static void step(const char *text)
{
	long a = 0, b = 0;
	char name[16];
	int fields = sscanf(text, "%15[a-z]:%ld:%ld", name, &a, &b);

	if (fields == 2 && strcmp(name, "getpid") == 0)
		for (long i = 0; i < a; i++)
			syscall(SYS_getpid);
	else if (fields == 3 && strcmp(name, "read") == 0 && a <= (long)sizeof(buf))
		reads(a, b);
	else if (fields == 2 && strcmp(name, "ramp") == 0 && a <= (long)sizeof(buf))
		for (long size = 1; size <= a; size++)
			reads(size, 1);
	else if (fields == 3 && strcmp(name, "write") == 0 && a <= (long)sizeof(buf))
		writes(a, b);
	else if (fields == 2 && strcmp(name, "open") == 0)
		opens(a);
	else if (fields == 2 && strcmp(name, "fork") == 0)
		forks(a);
	else if (fields == 2 && strcmp(name, "call") == 0)
		for (long i = 0; i < a; i++)
			work((int)i, 10 * i);
	else {
		fprintf(stderr, "workload: bad step %s\n", text);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: workload NAME STEP...\n");
		return 2;
	}
	if (dup2(open("/dev/zero", O_RDONLY), ZERO_FD) != ZERO_FD || dup2(open("/dev/null", O_WRONLY), NULL_FD) != NULL_FD)
		fail("/dev/zero, /dev/null");
	if (prctl(PR_SET_NAME, argv[1]) != 0)
		fail("prctl");
	for (int i = 2; i < argc; i++)
		step(argv[i]);
	return 0;
}
