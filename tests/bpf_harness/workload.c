/* Workloads with known system calls, for the kernel-probe tests.  Built static, so
 * no dynamic loader adds calls of its own; every call is a raw syscall().
 *
 *   workload argstr DIR        one call of each kind in the argstr table (see the test)
 *   workload counts W R P C    W writes, R reads, P getpids, C closes of a bad fd
 *   workload paths DIR N       openat DIR/f0 .. DIR/f<N-1>, closing those that open
 *   workload spin MS           burn MS milliseconds of CPU, then print the CPU ns used
 *   workload nonresident FILE  openat the path stored in FILE, from a mapping of FILE never
 *                              touched before (not resident when the syscall starts), then
 *                              stay alive 300 ms
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <netinet/in.h>
#include <unistd.h>

static char path[4096];

static const char *in_dir(const char *dir, const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void argstr_table(const char *dir)
{
	static char message[] = "hello\n";
	char other[4096];
	long fd, dirfd;

	fd = syscall(SYS_openat, AT_FDCWD, in_dir(dir, "new"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	/* overwritten at once: only a copy taken at probe time still says hello */
	syscall(SYS_write, fd, message, 6);
	memcpy(message, "XXXXXX", 6);
	syscall(SYS_lseek, fd, -5L, SEEK_END);
	syscall(SYS_dup3, fd, 100, O_CLOEXEC);
	syscall(SYS_dup2, fd, 50);
	syscall(SYS_close, fd);
	syscall(SYS_close, 999);
	syscall(SYS_openat, AT_FDCWD, in_dir(dir, "missing"), O_RDONLY | O_CLOEXEC);
	dirfd = syscall(SYS_open, dir, O_RDONLY | O_DIRECTORY);
	syscall(SYS_openat, dirfd, "new", O_RDWR | O_APPEND | O_NONBLOCK);
	syscall(SYS_access, in_dir(dir, "new"), R_OK | W_OK);
	syscall(SYS_faccessat, AT_FDCWD, in_dir(dir, "new"), F_OK, 0);
	syscall(SYS_fchmodat, AT_FDCWD, in_dir(dir, "new"), 0600);
	syscall(SYS_mkdirat, AT_FDCWD, in_dir(dir, "sub"), 0750);
	syscall(SYS_mkdirat, AT_FDCWD, in_dir(dir, "sub"), 0750);
	syscall(SYS_unlinkat, AT_FDCWD, in_dir(dir, "sub"), AT_REMOVEDIR);
	snprintf(other, sizeof(other), "%s/renamed", dir);
	syscall(SYS_renameat2, AT_FDCWD, in_dir(dir, "new"), AT_FDCWD, other, 1 /* RENAME_NOREPLACE */);
	syscall(SYS_umask, 022);
	syscall(SYS_umask, 077);
	syscall(SYS_kill, (long)syscall(SYS_getpid), 0);
	syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
}

static void counts(int writes, int reads, int getpids, int closes)
{
	char buf[16];
	long fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR);
	int i;

	for (i = 0; i < writes; i++)
		syscall(SYS_write, fd, "x", 1);
	for (i = 0; i < reads; i++)
		syscall(SYS_read, fd, buf, sizeof(buf));
	for (i = 0; i < getpids; i++)
		syscall(SYS_getpid);
	for (i = 0; i < closes; i++)
		syscall(SYS_close, 1000 + i);
}

static void paths(const char *dir, int n)
{
	char name[32];
	int i;

	for (i = 0; i < n; i++) {
		long fd;

		snprintf(name, sizeof(name), "f%d", i);
		fd = syscall(SYS_openat, AT_FDCWD, in_dir(dir, name), O_RDONLY);
		if (fd >= 0)
			syscall(SYS_close, fd);
	}
}

static void spin(long ms)
{
	struct timespec now;
	volatile unsigned long sink = 0;
	struct rusage usage;
	long long ns;

	do {
		for (int i = 0; i < 100000; i++)
			sink += (unsigned long)i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
		ns = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
	} while (ns < ms * 1000000LL);
	getrusage(RUSAGE_SELF, &usage);
	printf("cpu_ns %lld faults %ld\n", ns, usage.ru_minflt + usage.ru_majflt);
}

static int nonresident(const char *file)
{
	struct timespec pause = {0, 300000000};
	int fd = open(file, O_RDONLY);
	const char *mapped = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);

	if (mapped == MAP_FAILED) {
		perror(file);
		return 1;
	}
	syscall(SYS_openat, AT_FDCWD, mapped, O_RDONLY);
	nanosleep(&pause, NULL);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "argstr") == 0)
		argstr_table(argv[2]);
	else if (argc == 6 && strcmp(argv[1], "counts") == 0)
		counts(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
	else if (argc == 4 && strcmp(argv[1], "paths") == 0)
		paths(argv[2], atoi(argv[3]));
	else if (argc == 3 && strcmp(argv[1], "spin") == 0)
		spin(atol(argv[2]));
	else if (argc == 3 && strcmp(argv[1], "nonresident") == 0)
		return nonresident(argv[2]);
	else {
		fprintf(stderr, "usage: workload argstr DIR | counts W R P C | paths DIR N | spin MS | nonresident FILE\n");
		return 2;
	}
	return 0;
}
