/*
 * follow - log-follow latency: opens NFOLLOW connections to
 * GET /api/v1/jobs/ID/log?follow=1 on HOST:PORT (bearer token from
 * $BENCH_TOKEN if set), then NLINES times appends one line to LOGFILE (the
 * job's log, as the job itself would) and measures the time until every
 * follower has received it.  Prints one line per written line:
 * "<all-received µs> <median follower µs>", or "timeout <got>/<n>".
 *
 * With HOST:PORT "tail", the followers are NFOLLOW local "tail -n 0 -f
 * LOGFILE" processes read through pipes instead (ID is ignored): the
 * baseline of a log follow that involves no HTTP at all.
 *
 * usage: follow HOST:PORT|tail ID LOGFILE NFOLLOW NLINES
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

struct follower {
	int fd;
	pid_t pid;		/* tail mode: the tail process */
	int headers;		/* response headers seen */
	char head[2048];	/* the start of the response */
	size_t hlen;
	char tail[512];		/* last bytes received */
	size_t tlen;
	int64_t got;		/* when the current line arrived, 0 if not yet */
};

static struct follower *tails;
static long long ntails;

/* Ends the tail processes (at exit, also after die()). */
static void
stop_tails(void)
{
	long long i;

	for (i = 0; i < ntails; i++)
		if (tails[i].pid > 0) {
			kill(tails[i].pid, SIGTERM);
			waitpid(tails[i].pid, NULL, 0);
			tails[i].pid = 0;
		}
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends data to f's tail buffer, keeping the last bytes. */
static void
push(struct follower *f, const char *p, size_t n)
{
	if (n >= sizeof f->tail - 1) {
		p += n - (sizeof f->tail - 1);
		n = sizeof f->tail - 1;
	}
	if (f->tlen + n > sizeof f->tail - 1) {
		size_t drop = f->tlen + n - (sizeof f->tail - 1);

		memmove(f->tail, f->tail + drop, f->tlen - drop);
		f->tlen -= drop;
	}
	memcpy(f->tail + f->tlen, p, n);
	f->tlen += n;
	f->tail[f->tlen] = '\0';
}

int
main(int argc, char *argv[])
{
	const char *u = "HOST:PORT ID LOGFILE NFOLLOW NLINES";
	const char *token = getenv("BENCH_TOKEN");
	struct follower *fs;
	long long nf, nl, i, line;
	char *c, req[1024], marker[64];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int ep, lfd, tailmode;
	int64_t *lat;

	bench_prog = "follow";
	if (argc != 6)
		usage(u);
	tailmode = strcmp(argv[1], "tail") == 0;
	c = strrchr(argv[1], ':');
	if (!tailmode) {
		if (c == NULL)
			usage(u);
		*c = '\0';
		if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
			die("bad address %s", argv[1]);
		sa.sin_port = htons((uint16_t)num(c + 1, "port"));
	}
	nf = num(argv[4], "followers");
	nl = num(argv[5], "lines");
	fs = calloc((size_t)nf, sizeof *fs);
	lat = calloc((size_t)nf, sizeof *lat);
	if (fs == NULL || lat == NULL)
		die("calloc:");
	tails = fs;
	ntails = nf;
	if (atexit(stop_tails) != 0)
		die("atexit");
	lfd = open(argv[3], O_WRONLY | O_APPEND | O_CLOEXEC);
	if (lfd < 0)
		die("open %s:", argv[3]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1:");
	if (!tailmode)
		snprintf(req, sizeof req, "GET /api/v1/jobs/%s/log?follow=1 HTTP/1.1\r\n"
		    "Host: %s:%s\r\n%s%s%s\r\n", argv[2], argv[1], c + 1,
		    token ? "Authorization: Bearer " : "", token ? token : "",
		    token ? "\r\n" : "");
	for (i = 0; i < nf; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)i };
		int one = 1;

		if (tailmode) {
			posix_spawn_file_actions_t fa;
			char *targs[] = { "tail", "-n", "0", "-f", argv[3], NULL };
			int p[2], e;

			if (pipe2(p, O_CLOEXEC) != 0)
				die("pipe:");
			if (posix_spawn_file_actions_init(&fa) != 0 ||
			    posix_spawn_file_actions_adddup2(&fa, p[1], 1) != 0)
				die("posix_spawn_file_actions");
			e = posix_spawnp(&fs[i].pid, "tail", &fa, NULL, targs, environ);
			if (e != 0) {
				errno = e;
				die("spawn tail:");
			}
			posix_spawn_file_actions_destroy(&fa);
			close(p[1]);
			fs[i].fd = p[0];
			fs[i].headers = 1;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fs[i].fd, &ev) != 0)
				die("epoll_ctl:");
			continue;
		}
		fs[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fs[i].fd < 0)
			die("socket:");
		if (connect(fs[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0)
			die("connect:");
		setsockopt(fs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (send(fs[i].fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
			die("send:");
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fs[i].fd, &ev) != 0)
			die("epoll_ctl:");
	}

	/* line 0 waits for the headers (and whatever the log held) */
	for (line = 0; line <= nl; line++) {
		long long waiting = nf;
		int64_t t0, deadline, next_warm;

		for (i = 0; i < nf; i++)
			fs[i].got = 0;
		if (line > 0) {
			int len;

			sleep_ns(20 * 1000000LL);
			len = snprintf(marker, sizeof marker, "bench-line-%lld-end\n", line);
			t0 = now_ns(CLOCK_MONOTONIC);
			if (write(lfd, marker, (size_t)len) != len)
				die("write %s:", argv[3]);
			marker[len - 1] = '\0';
		} else {
			t0 = now_ns(CLOCK_MONOTONIC);
			strcpy(marker, "bench-warm");
		}
		next_warm = t0;
		deadline = t0 + (line == 0 ? 30 : 5) * 1000000000LL;
		while (waiting > 0) {
			struct epoll_event evs[64];
			int64_t left = deadline - now_ns(CLOCK_MONOTONIC);
			int n, k;

			if (left <= 0)
				break;
			/* tails see only what is written after they opened the
			 * file: warm-up lines until every one has shown one */
			if (tailmode && line == 0 && now_ns(CLOCK_MONOTONIC) >= next_warm) {
				if (write(lfd, "bench-warm\n", 11) != 11)
					die("write %s:", argv[3]);
				next_warm += 100 * 1000000LL;
			}
			if (tailmode && line == 0 && left > 100 * 1000000LL)
				left = 100 * 1000000LL;
			n = epoll_wait(ep, evs, 64, (int)(left / 1000000) + 1);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("epoll_wait:");
			}
			for (k = 0; k < n; k++) {
				struct follower *f = &fs[evs[k].data.u64];
				char buf[8192];
				ssize_t r = read(f->fd, buf, sizeof buf);

				if (r <= 0) {
					if (r < 0 && errno == EINTR)
						continue;
					die("follower %llu: connection closed%s",
					    (unsigned long long)evs[k].data.u64,
					    f->headers ? "" : " before the headers");
				}
				/* the headers are looked for in their own buffer: with
				 * the log so far behind them they can be longer than
				 * the tail kept for the markers */
				if (!f->headers) {
					size_t m = sizeof f->head - 1 - f->hlen;

					if (m > (size_t)r)
						m = (size_t)r;
					memcpy(f->head + f->hlen, buf, m);
					f->hlen += m;
					f->head[f->hlen] = '\0';
				}
				push(f, buf, (size_t)r);
				if (!f->headers && strstr(f->head, "\r\n\r\n") != NULL) {
					if (strncmp(f->head, "HTTP/1.1 200", 12) != 0 &&
					    strncmp(f->head, "HTTP/1.0 200", 12) != 0)
						die("follow answered: %.60s", f->head);
					f->headers = 1;
					if (line == 0) {
						f->got = now_ns(CLOCK_MONOTONIC);
						waiting--;
					}
				}
				if ((line > 0 || tailmode) && f->got == 0 &&
				    strstr(f->tail, marker) != NULL) {
					f->got = now_ns(CLOCK_MONOTONIC);
					waiting--;
				}
			}
		}
		if (waiting > 0) {
			printf("timeout %lld/%lld\n", nf - waiting, nf);
			fflush(stdout);
			if (line == 0)
				return 1;
			continue;
		}
		if (line == 0)
			continue;
		for (i = 0; i < nf; i++)
			lat[i] = fs[i].got - t0;
		qsort(lat, (size_t)nf, sizeof *lat, cmp64);
		printf("%lld %lld\n", (long long)(lat[nf - 1] / 1000),
		    (long long)(lat[nf / 2] / 1000));
		fflush(stdout);
	}
	for (i = 0; i < nf; i++)
		close(fs[i].fd);
	stop_tails();
	ntails = 0;	/* fs is freed below; nothing left for atexit */
	close(lfd);
	free(fs);
	free(lat);
	return 0;
}
