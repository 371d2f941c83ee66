/* A fixed sequence of system calls for tests/test_tapsets_syscalls.py, each with arguments
 * and a result known in advance, so the test can expect the exact argstr and retstr of
 * the syscall.* aliases. Buffers live in one mapping at a fixed address so that their
 * %p values are known too.
 *
 * Usage: syscalls_more DIR   (DIR an empty directory the test created)
 * Exits 0 when every call gave the expected result, else 1 with the failing step.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#define AREA ((char *)0x200000000UL)

static int failed(const char *step)
{
	fprintf(stderr, "syscalls_more: %s gave an unexpected result\n", step);
	return 1;
}

/* Names are one or two characters so that getdents64 returns 4 records of 24 bytes. */
static int directory(const char *dir)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/a", dir);
	if (mknodat(AT_FDCWD, path, S_IFIFO | 0644, 0) != 0)
		return failed("mknodat");
	snprintf(path, sizeof(path), "%s/bb", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || close(fd) != 0)
		return failed("create bb");
	if (fchownat(AT_FDCWD, path, 0, 0, AT_SYMLINK_NOFOLLOW) != 0)
		return failed("fchownat");
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd != 3)
		return failed("open directory");
	if (syscall(SYS_getdents64, fd, AREA + 4096, 4096) != 96 || syscall(SYS_getdents64, fd, AREA + 4096, 4096) != 0)
		return failed("getdents64");
	if (flock(fd, LOCK_EX | LOCK_NB) != 0)
		return failed("flock");
	return close(fd) != 0 ? failed("close directory") : 0;
}

static int process(void)
{
	struct itimerval *timer = (struct itimerval *)(AREA + 8192);
	siginfo_t *info = (siginfo_t *)(AREA + 8192 + 256);
	pid_t child;

	strcpy(AREA, "stapui-t");
	if (getpgid(-5) != -1 || prctl(PR_SET_NAME, (unsigned long)AREA, 0, 0, 0) != 0 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1 || prctl(PR_SET_TIMING, PR_TIMING_STATISTICAL, 0, 0, 0) != 0)
		return failed("getpgid/prctl");
	if (setpriority(PRIO_PROCESS, 0, 5) != 0 || syscall(SYS_getpriority, PRIO_PROCESS, 0) != 15)
		return failed("priority");
	if (getitimer(ITIMER_REAL, timer) != 0 || timer->it_value.tv_sec != 0)
		return failed("getitimer");
	child = fork();
	if (child == 0)
		_exit(7);
	if (child < 0 || waitid(P_ALL, 0, info, WEXITED) != 0 || info->si_status != 7)
		return failed("waitid");
	return 0;
}

static int memory_and_sockets(void)
{
	int *pair = (int *)(AREA + 12288);
	int *size = pair + 4;

	if (mlock(AREA, 8192) != 0 || munlock(AREA, 8192) != 0 || mlock2(AREA, 4096, MLOCK_ONFAULT) != 0 ||
	    msync(AREA + 8192, 4096, MS_SYNC | MS_INVALIDATE) != 0)
		return failed("mlock/munlock/msync");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 || pair[0] != 3)
		return failed("socketpair");
	*size = 65536;
	if (setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, size, sizeof(*size)) != 0 || shutdown(pair[0], SHUT_WR) != 0)
		return failed("setsockopt/shutdown");
	if (getxattr("/nonexistent/x", "user.k", AREA + 12288 + 64, 3) != -1)
		return failed("getxattr");
	return 0;
}

/* After memory_and_sockets: descriptors 3 and 4 are the socket pair. */
static int notify(const char *dir)
{
	if (inotify_init1(IN_CLOEXEC) != 5 || inotify_add_watch(5, dir, IN_CREATE | IN_DELETE) != 1)
		return failed("inotify");
	if (eventfd(3, EFD_CLOEXEC | EFD_NONBLOCK) != 6 || inotify_rm_watch(5, 1) != 0)
		return failed("eventfd/inotify_rm_watch");
	return 0;
}

/* The identifiers are the kernel's choice: the test reads them from the return lines.
 * The control calls go straight to the kernel, which glibc's wrappers may not. */
static int ipc(void)
{
	int queue = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	int segment = shmget(IPC_PRIVATE, 4096, 0600);
	int set = semget(IPC_PRIVATE, 1, IPC_CREAT | IPC_EXCL | 0600);

	if (queue < 0 || segment < 0 || set < 0)
		return failed("msgget/shmget/semget");
	if (syscall(SYS_msgctl, queue, IPC_RMID, 0) != 0 || syscall(SYS_shmctl, segment, IPC_RMID, 0) != 0 ||
	    syscall(SYS_semctl, set, 0, IPC_RMID, 0) != 0)
		return failed("msgctl/shmctl/semctl");
	return 0;
}

/* After notify: descriptors up to 6 are taken. */
static int resources(void)
{
	if (syscall(SYS_getrusage, RUSAGE_SELF, AREA + 12288 + 128) != 0 || sched_get_priority_max(SCHED_FIFO) != 99 ||
	    sched_getscheduler(0) != SCHED_OTHER)
		return failed("getrusage/sched_*");
	if (syscall(SYS_ioprio_get, 1, 0) < 0)
		return failed("ioprio_get");
	if (personality(0xffffffff) != 0 || memfd_create("t", MFD_CLOEXEC) != 7)
		return failed("personality/memfd_create");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	if (mmap(AREA, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != AREA)
		return failed("mmap");
	return directory(argv[1]) || process() || memory_and_sockets() || notify(argv[1]) || ipc() || resources();
}
