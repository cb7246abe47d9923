/*
 * waitfiles - waits, without polling, until COUNT files whose names end in
 * one of the SUFFIXES (comma-separated) have appeared in DIR (created or
 * renamed into it), then prints the CLOCK_REALTIME nanoseconds of that
 * moment and how many matched each suffix.  Start it before the files
 * appear.  Exits 1 after TIMEOUT seconds.
 *
 * usage: waitfiles DIR SUFFIXES COUNT TIMEOUT
 */
#include <dirent.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common.h"

#define MAXSUF 8

static char *suf[MAXSUF];
static size_t nsuf;

static int
match(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < nsuf; i++) {
		size_t m = strlen(suf[i]);

		if (n > m && strcmp(name + n - m, suf[i]) == 0)
			return (int)i;
	}
	return -1;
}

/* Counts the matching files present now, per suffix; returns the total. */
static long long
scan(const char *dir, long long per[MAXSUF])
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long long total = 0;
	size_t i;

	if (d == NULL)
		die("opendir %s:", dir);
	for (i = 0; i < MAXSUF; i++)
		per[i] = 0;
	while ((e = readdir(d)) != NULL) {
		int k = match(e->d_name);

		if (k >= 0) {
			per[k]++;
			total++;
		}
	}
	closedir(d);
	return total;
}

int
main(int argc, char *argv[])
{
	long long want, timeout, seen, per[MAXSUF];
	int64_t deadline;
	char *s, *save = NULL;
	int fd;
	size_t i;

	bench_prog = "waitfiles";
	if (argc != 5)
		usage("DIR SUFFIXES COUNT TIMEOUT");
	for (s = strtok_r(argv[2], ",", &save); s != NULL && nsuf < MAXSUF;
	    s = strtok_r(NULL, ",", &save))
		suf[nsuf++] = s;
	want = num(argv[3], "count");
	timeout = num(argv[4], "timeout");
	deadline = now_ns(CLOCK_MONOTONIC) + timeout * 1000000000LL;
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		die("inotify_init1:");
	if (inotify_add_watch(fd, argv[1], IN_CREATE | IN_MOVED_TO) < 0)
		die("inotify_add_watch %s:", argv[1]);
	/* events may double-count files that appeared during this scan: the
	 * count from events only says when to scan again */
	seen = scan(argv[1], per);
	while (seen < want) {
		char buf[65536] __attribute__((aligned(8)));
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ns(CLOCK_MONOTONIC);
		ssize_t n;
		char *q;

		if (left <= 0) {
			seen = scan(argv[1], per);
			if (seen >= want)
				break;
			fprintf(stderr, "waitfiles: timeout: %lld of %lld\n", seen, want);
			return 1;
		}
		if (poll(&p, 1, (int)(left / 1000000 + 1)) < 0) {
			if (errno == EINTR)
				continue;
			die("poll:");
		}
		n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("read inotify:");
		}
		for (q = buf; q < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)(void *)q;

			if (ev->mask & IN_Q_OVERFLOW)
				seen = scan(argv[1], per);
			else if (ev->len > 0 && match(ev->name) >= 0)
				seen++;
			q += sizeof *ev + ev->len;
		}
		if (seen >= want)
			seen = scan(argv[1], per);
	}
	printf("%lld", (long long)now_ns(CLOCK_REALTIME));
	for (i = 0; i < nsuf; i++)
		printf(" %s=%lld", suf[i], per[i]);
	printf("\n");
	return 0;
}
