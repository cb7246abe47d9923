/*
 * bsclient - the beanstalkd side of the benchmark, speaking the beanstalk
 * text protocol on 127.0.0.1:PORT.
 *
 *   work PORT   a minimal worker: reserve, run the job body (words split at
 *               blanks, posix_spawn, wait), delete; exits after a job whose
 *               body is "quit"
 *   put PORT N INTERVAL_US TSFILE NQUIT CMD...
 *               puts N jobs (body: CMD, "%d" replaced by the sequence
 *               number; priority 100), INTERVAL_US apart, recording "SEQ NS"
 *               before each put into TSFILE ("-": none); then NQUIT "quit"
 *               jobs at a lower priority, so that workers stop once every
 *               job has been reserved
 *
 * usage: bsclient work PORT | bsclient put PORT N INTERVAL_US TSFILE NQUIT CMD...
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

extern char **environ;

static int sock;
static char rbuf[65536];
static size_t rlen;

static void
bs_connect(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1;

	sa.sin_port = htons((uint16_t)num(port, "port"));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		die("socket:");
	if (connect(sock, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("connect 127.0.0.1:%s:", port);
	if (setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		die("setsockopt:");
}

static void
bs_send(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(sock, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("send:");
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Ensures at least n bytes are buffered. */
static void
bs_fill(size_t n)
{
	while (rlen < n) {
		ssize_t r;

		if (n >= sizeof rbuf)
			die("reply too long");
		r = recv(sock, rbuf + rlen, sizeof rbuf - rlen, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("beanstalkd closed the connection");
		rlen += (size_t)r;
	}
}

/* Reads one "\r\n"-terminated line into out (without the terminator). */
static void
bs_line(char *out, size_t cap)
{
	for (;;) {
		char *e = memmem(rbuf, rlen, "\r\n", 2);

		if (e != NULL) {
			size_t l = (size_t)(e - rbuf);

			if (l >= cap)
				die("reply line too long");
			memcpy(out, rbuf, l);
			out[l] = '\0';
			memmove(rbuf, e + 2, rlen - l - 2);
			rlen -= l + 2;
			return;
		}
		bs_fill(rlen + 1);
	}
}

static void
work(void)
{
	char line[256], body[4096], cmd[64];

	for (;;) {
		unsigned long long id;
		size_t bytes;
		char *args[64], *save = NULL, *w;
		int na = 0, st, e;
		pid_t pid;

		bs_send("reserve\r\n", 9);
		bs_line(line, sizeof line);
		if (sscanf(line, "RESERVED %llu %zu", &id, &bytes) != 2)
			die("unexpected reply: %s", line);
		if (bytes + 2 >= sizeof body)
			die("job too long");
		bs_fill(bytes + 2);
		memcpy(body, rbuf, bytes);
		body[bytes] = '\0';
		memmove(rbuf, rbuf + bytes + 2, rlen - bytes - 2);
		rlen -= bytes + 2;
		if (strcmp(body, "quit") != 0) {
			for (w = strtok_r(body, " ", &save); w != NULL && na < 63;
			    w = strtok_r(NULL, " ", &save))
				args[na++] = w;
			args[na] = NULL;
			if (na == 0)
				die("empty job");
			e = posix_spawn(&pid, args[0], NULL, NULL, args, environ);
			if (e != 0) {
				errno = e;
				die("spawn %s:", args[0]);
			}
			while (waitpid(pid, &st, 0) < 0)
				if (errno != EINTR)
					die("waitpid:");
		}
		snprintf(cmd, sizeof cmd, "delete %llu\r\n", id);
		bs_send(cmd, strlen(cmd));
		bs_line(line, sizeof line);
		if (strcmp(line, "DELETED") != 0)
			die("delete: %s", line);
		if (strcmp(body, "quit") == 0)
			return;
	}
}

static void
put(const char *body, int pri)
{
	char hdr[128], line[256];
	size_t n = strlen(body);

	snprintf(hdr, sizeof hdr, "put %d 0 600 %zu\r\n", pri, n);
	bs_send(hdr, strlen(hdr));
	bs_send(body, n);
	bs_send("\r\n", 2);
	bs_line(line, sizeof line);
	if (strncmp(line, "INSERTED ", 9) != 0)
		die("put: %s", line);
}

int
main(int argc, char *argv[])
{
	const char *u = "work PORT | put PORT N INTERVAL_US TSFILE NQUIT CMD...";
	long long n, interval, nquit, seq, i;
	int64_t *ts;

	bench_prog = "bsclient";
	if (argc == 3 && strcmp(argv[1], "work") == 0) {
		bs_connect(argv[2]);
		work();
		return 0;
	}
	if (argc < 8 || strcmp(argv[1], "put") != 0)
		usage(u);
	bs_connect(argv[2]);
	n = num(argv[3], "count");
	interval = num(argv[4], "interval");
	nquit = num(argv[6], "quit count");
	ts = calloc((size_t)n + 1, sizeof *ts);
	if (ts == NULL)
		die("calloc:");
	for (seq = 1; seq <= n; seq++) {
		char body[4096];
		size_t pos = 0;

		for (i = 7; i < argc; i++) {
			int w = snprintf(body + pos, sizeof body - pos, "%s%s",
			    i > 7 ? " " : "", argv[i]);

			if (w < 0 || (size_t)w >= sizeof body - pos)
				die("job too long");
			if (strcmp(argv[i], "%d") == 0)
				w = snprintf(body + pos, sizeof body - pos, "%s%lld",
				    i > 7 ? " " : "", seq);
			pos += (size_t)w;
		}
		if (seq > 1 && interval > 0)
			sleep_ns(interval * 1000);
		ts[seq] = now_ns(CLOCK_REALTIME);
		put(body, 100);
	}
	for (i = 0; i < nquit; i++)
		put("quit", 1000);
	if (strcmp(argv[5], "-") != 0) {
		FILE *f = fopen(argv[5], "w");

		if (f == NULL)
			die("open %s:", argv[5]);
		for (seq = 1; seq <= n; seq++)
			fprintf(f, "%lld %lld\n", seq, (long long)ts[seq]);
		if (fclose(f) != 0)
			die("write %s:", argv[5]);
	}
	free(ts);
	return 0;
}
