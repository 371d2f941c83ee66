/* tapset_system.c - system(): run a shell command in the background.
 *
 * The command must not hold up the handler, and the runtime must not collect
 * it (the runtime may be waiting for a -c target), so it runs in a grandchild:
 * the child starts it and exits at once, and init adopts it.
 */
#define _GNU_SOURCE  /* fork, _exit */
#include "tapset_support.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

int tapset_system(const char *command)
{
	pid_t child = fork();
	int status;

	if (child < 0)
		return -errno;
	if (child == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0) {
			execl("/bin/sh", "sh", "-c", command, (char *)NULL);
			_exit(127);
		}
		_exit(grandchild < 0 ? 1 : 0);
	}
	while (waitpid(child, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EAGAIN;
}
