/*
 * spawnrate - the physical limit of running jobs: posix_spawn + wait of a
 * program (default /bin/true), CONC at once, N in all.  Prints the rate in
 * processes per second.
 *
 * usage: spawnrate N CONC [PROGRAM]
 */
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

int
main(int argc, char *argv[])
{
	long long n, conc, started = 0, done = 0;
	char *prog;
	char *args[2];
	int64_t t0, t1;

	bench_prog = "spawnrate";
	if (argc < 3 || argc > 4)
		usage("N CONC [PROGRAM]");
	n = num(argv[1], "count");
	conc = num(argv[2], "concurrency");
	if (n < 1 || conc < 1)
		usage("N CONC [PROGRAM]");
	prog = argc == 4 ? argv[3] : "/bin/true";
	args[0] = prog;
	args[1] = NULL;
	t0 = now_ns(CLOCK_MONOTONIC);
	while (done < n) {
		while (started < n && started - done < conc) {
			pid_t pid;
			int e = posix_spawn(&pid, prog, NULL, NULL, args, environ);

			if (e != 0) {
				errno = e;
				die("posix_spawn %s:", prog);
			}
			started++;
		}
		int st;
		pid_t w = waitpid(-1, &st, 0);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("waitpid:");
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("%s did not exit 0", prog);
		done++;
	}
	t1 = now_ns(CLOCK_MONOTONIC);
	printf("%.1f\n", (double)n * 1e9 / (double)(t1 - t0));
	return 0;
}
