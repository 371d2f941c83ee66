/* A known process workload for the process.begin/.end tests.
 *
 *   spawner FORKS EXECS PROGRAM   fork FORKS children that exit at once, then EXECS
 *                                 children that exec PROGRAM (with no arguments), wait
 *                                 for all; start and join one thread; exit
 *   spawner wait PROGRAM          read stdin to its end, then exec PROGRAM
 *   spawner                       exit at once (what the exec'd children run)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *thread_main(void *arg)
{
	return arg;
}

static void spawn(int forks, int execs, const char *program)
{
	pthread_t thread;
	int i;

	for (i = 0; i < forks + execs; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			exit(1);
		}
		if (pid == 0) {
			if (i >= forks)
				execl(program, program, (char *)NULL);
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	if (pthread_create(&thread, NULL, thread_main, NULL) != 0 || pthread_join(thread, NULL) != 0)
		exit(1);
}

int main(int argc, char **argv)
{
	char buffer[64];

	if (argc == 4) {
		spawn(atoi(argv[1]), atoi(argv[2]), argv[3]);
	} else if (argc == 3) {
		while (fread(buffer, 1, sizeof(buffer), stdin) > 0)
			;
		execl(argv[2], argv[2], (char *)NULL);
		return 1;
	}
	return 0;
}
