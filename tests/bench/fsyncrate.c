/*
 * fsyncrate - the physical limit of durable state changes on this disk:
 * the same steps as jobspool's atomic write (write a ~400-byte file in
 * DIR/tmp, fsync it, rename it into DIR, fsync DIR).  Prints durable
 * writes per second.
 *
 *   CONC   processes doing it at once in the same directory (default 1)
 *   GROUP  renames covered by one directory fsync (default 1): each file is
 *          still written and fsync'ed, then GROUP renames share one fsync
 *          of DIR, which is what batching state changes would buy.
 *
 * usage: fsyncrate DIR N [CONC [GROUP]]
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static void
writer(const char *dir, int w, long long n, long long group)
{
	char body[400], tmp[64], name[64];
	int dfd, tfd;
	long long i, j;

	memset(body, 'x', sizeof body);
	body[0] = '{';
	body[sizeof body - 2] = '}';
	body[sizeof body - 1] = '\n';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open %s:", dir);
	tfd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0)
		die("open %s/tmp:", dir);
	for (i = 0; i < n; i += group) {
		for (j = i; j < i + group && j < n; j++) {
			int fd;

			snprintf(tmp, sizeof tmp, "w%d-%lld", w, j);
			fd = openat(tfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    0660);
			if (fd < 0)
				die("create tmp/%s:", tmp);
			if (write(fd, body, sizeof body) != (ssize_t)sizeof body)
				die("write:");
			if (fsync(fd) != 0)
				die("fsync:");
			if (close(fd) != 0)
				die("close:");
		}
		for (j = i; j < i + group && j < n; j++) {
			snprintf(tmp, sizeof tmp, "w%d-%lld", w, j);
			snprintf(name, sizeof name, "w%d-%lld.pending", w, j);
			if (renameat(tfd, tmp, dfd, name) != 0)
				die("rename:");
		}
		if (fsync(dfd) != 0)
			die("fsync dir:");
	}
	close(tfd);
	close(dfd);
}

int
main(int argc, char *argv[])
{
	const char *u = "DIR N [CONC [GROUP]]";
	long long n, conc = 1, group = 1, w;
	int64_t t0, t1;
	char path[4096];

	bench_prog = "fsyncrate";
	if (argc < 3 || argc > 5)
		usage(u);
	n = num(argv[2], "count");
	if (argc > 3)
		conc = num(argv[3], "concurrency");
	if (argc > 4)
		group = num(argv[4], "group");
	if (n < 1 || conc < 1 || group < 1)
		usage(u);
	snprintf(path, sizeof path, "%s/tmp", argv[1]);
	if (mkdir(path, 0770) != 0 && errno != EEXIST)
		die("mkdir %s:", path);
	t0 = now_ns(CLOCK_MONOTONIC);
	for (w = 0; w < conc; w++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork:");
		if (pid == 0) {
			writer(argv[1], (int)w, n / conc + (w < n % conc), group);
			_exit(0);
		}
	}
	for (w = 0; w < conc; w++) {
		int st;

		if (wait(&st) < 0)
			die("wait:");
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("a writer failed");
	}
	t1 = now_ns(CLOCK_MONOTONIC);
	printf("%.1f\n", (double)n * 1e9 / (double)(t1 - t0));
	return 0;
}
