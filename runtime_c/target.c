/* target.c - the script's target process: -x PID, or -c CMD which the runtime starts
 * itself once every probe is attached (as staprun does), ending the session when the
 * command exits. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include "loop.h"
#include "output.h"
#include "runtime.h"

static int64_t target_pid;
static const char *command;

int64_t stp_target_pid(void)
{
	return target_pid;
}

int stp_target_has_command(void)
{
	return command != NULL;
}

const char *stp_target_command(void)
{
	return command;
}

void stp_target_configure(int64_t pid, const char *cmd)
{
	target_pid = pid;
	command = cmd;
}

/* Kernel events still queued when the command exits happened while it ran: handle
 * them before ending (bpf_events.c; weak, so scripts without kernel probes link). */
void stp_bpf_catch_up(void) __attribute__((weak));

static void on_command_exit(int fd, void *arg)
{
	(void)arg;
	int status;
	if (waitpid((pid_t)target_pid, &status, WNOHANG) == 0)
		return;
	stp_remove_event_source(fd);
	close(fd);
	if (stp_bpf_catch_up != NULL)
		stp_bpf_catch_up();
	stp_exit();
}

int stp_target_start(void)
{
	if (command == NULL)
		return 0;
	pid_t pid = fork();
	if (pid < 0) {
		stp_warn("cannot start the command: fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		/* As staprun: a simple command is split with wordexp and run directly, so
		 * target() is its pid and no shell adds system calls; shell syntax runs under sh. */
		wordexp_t words;
		if (wordexp(command, &words, WRDE_NOCMD) == 0 && words.we_wordc > 0)
			execvp(words.we_wordv[0], words.we_wordv);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		fprintf(stderr, "ERROR: cannot run /bin/sh -c %s: %s\n", command, strerror(errno));
		_exit(127);
	}
	target_pid = pid;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		stp_warn("pidfd_open: %s", strerror(errno));
		return -1;
	}
	return stp_add_event_source(fd, on_command_exit, NULL);
}

void stp_target_stop(void)
{
	if (command != NULL && target_pid > 0 && waitpid((pid_t)target_pid, NULL, WNOHANG) == 0)
		kill((pid_t)target_pid, SIGTERM);
}
