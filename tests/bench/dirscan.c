/*
 * dirscan - the physical limit of finding files in a spool: one readdir pass
 * over DIR counting the names that end in SUFFIX, and with "unlink" also
 * removing each of them (and its <stem>.log beside it) as a cleaner must.
 * Prints "<microseconds> <count>".
 *
 * usage: dirscan DIR SUFFIX [unlink]
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int
main(int argc, char *argv[])
{
	const char *suffix;
	size_t slen;
	long long count = 0;
	int64_t t0, t1;
	int do_unlink = 0, dfd;
	DIR *d;
	struct dirent *e;

	bench_prog = "dirscan";
	if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "unlink") != 0))
		usage("DIR SUFFIX [unlink]");
	suffix = argv[2];
	slen = strlen(suffix);
	do_unlink = argc == 4;
	t0 = now_ns(CLOCK_MONOTONIC);
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open %s:", argv[1]);
	d = fdopendir(dfd);
	if (d == NULL)
		die("fdopendir %s:", argv[1]);
	while ((errno = 0, e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		char log[512];

		if (n <= slen || strcmp(e->d_name + n - slen, suffix) != 0)
			continue;
		count++;
		if (!do_unlink)
			continue;
		if (unlinkat(dfd, e->d_name, 0) != 0)
			die("unlink %s:", e->d_name);
		if (n - slen + 4 < sizeof log) {
			memcpy(log, e->d_name, n - slen);
			memcpy(log + n - slen, ".log", 5);
			if (unlinkat(dfd, log, 0) != 0 && errno != ENOENT)
				die("unlink %s:", log);
		}
	}
	if (errno != 0)
		die("readdir %s:", argv[1]);
	if (do_unlink && fsync(dfd) != 0)
		die("fsync %s:", argv[1]);
	closedir(d);
	t1 = now_ns(CLOCK_MONOTONIC);
	printf("%lld %lld\n", (long long)((t1 - t0) / 1000), count);
	return 0;
}
