/*
 * submit - submits N jobs one after another, INTERVAL_US microseconds apart
 * (0: as fast as possible), and records "SEQ NS" (CLOCK_REALTIME of each
 * submission) into TSFILE ("-": none).  In CMD, an argument "%d" becomes
 * the sequence number of the job.
 *
 *   spool DIR    jobspool direct submission, as from a shell: the JSON
 *                {"command": [CMD...]} written into DIR/tmp, then renamed to
 *                DIR/<uuid>.pending (no fsync: what `printf > tmp; mv` does);
 *                the time is taken just before the rename
 *   http H:P     POST /api/v1/jobs over one keep-alive connection (bearer
 *                token from $BENCH_TOKEN if set); fails unless 201; the time
 *                is taken just before the request is sent
 *   exec -       runs CMD (e.g. "tsp stamp F %d", "nq ...") and waits for
 *                it; the time is taken just before the spawn.  With
 *                $BENCH_NQDIRS set to "A:B:...", job k gets NQDIR set to
 *                the (k mod count)-th of them (nq queues side by side)
 *
 * usage: submit spool|http|exec TARGET N INTERVAL_US TSFILE CMD...
 */
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "common.h"

extern char **environ;

static int sock = -1;
static char *host, *port;

static void
http_connect(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	int one = 1, e;

	e = getaddrinfo(host, port, &hints, &ai);
	if (e != 0)
		die("getaddrinfo %s:%s: %s", host, port, gai_strerror(e));
	sock = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (sock < 0)
		die("socket:");
	if (connect(sock, ai->ai_addr, ai->ai_addrlen) != 0)
		die("connect %s:%s:", host, port);
	freeaddrinfo(ai);
	if (setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		die("setsockopt:");
}

static void
send_all(const char *p, size_t n)
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

/* Reads one response; returns its status.  Dies on a short read. */
static int
http_response(char *buf, size_t cap, int *close_after)
{
	size_t len = 0, hlen, need;
	char *eoh, *h;
	int status;
	long long clen = -1;
	int chunked = 0;

	*close_after = 0;
	for (;;) {
		ssize_t r;

		buf[len] = '\0';
		if ((eoh = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (len + 1 >= cap)
			die("response headers too long");
		r = recv(sock, buf + len, cap - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("connection closed by the server");
		len += (size_t)r;
	}
	hlen = (size_t)(eoh - buf) + 4;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		die("bad response: %.40s", buf);
	*eoh = '\0';
	for (h = strstr(buf, "\r\n"); h != NULL; h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "content-length:", 15) == 0)
			clen = strtoll(h + 17, NULL, 10);
		else if (strncasecmp(h + 2, "transfer-encoding:", 18) == 0 &&
		    strstr(h + 20, "chunked") != NULL)
			chunked = 1;
		else if (strncasecmp(h + 2, "connection:", 11) == 0 &&
		    strstr(h + 13, "close") != NULL)
			*close_after = 1;
	}
	*eoh = '\r';
	memmove(buf, buf + hlen, len - hlen);
	len -= hlen;
	if (chunked)
		need = (size_t)-1;
	else if (clen >= 0)
		need = (size_t)clen;
	else {
		need = (size_t)-1;
		*close_after = 1;
	}
	for (;;) {
		ssize_t r;

		buf[len] = '\0';
		if (!chunked && need != (size_t)-1 && len >= need)
			break;
		if (chunked && strstr(buf, "\r\n0\r\n\r\n") != NULL)
			break;
		if (chunked && strncmp(buf, "0\r\n\r\n", 5) == 0)
			break;
		if (len + 1 >= cap)
			die("response body too long");
		r = recv(sock, buf + len, cap - 1 - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("recv:");
		if (r == 0) {
			if (need == (size_t)-1 && !chunked)
				break;
			die("connection closed mid-response");
		}
		len += (size_t)r;
	}
	if (status != 201)
		fprintf(stderr, "submit: HTTP %d: %s\n", status, buf);
	return status;
}

/* Appends s to the JSON string in out, escaped. */
static size_t
json_str(char *out, size_t pos, size_t cap, const char *s)
{
	if (pos + 1 < cap)
		out[pos++] = '"';
	for (; *s != '\0' && pos + 2 < cap; s++) {
		if (*s == '"' || *s == '\\')
			out[pos++] = '\\';
		out[pos++] = *s;
	}
	if (pos + 1 < cap)
		out[pos++] = '"';
	out[pos] = '\0';
	return pos;
}

int
main(int argc, char *argv[])
{
	const char *u = "spool|http|exec TARGET N INTERVAL_US TSFILE CMD...";
	char *mode, *target, *tsfile;
	long long n, interval, seq;
	int64_t *ts;
	char seqs[32], body[8192], req[9000], resp[65536];
	int ncmd, i, dfd = -1, tfd = -1;
	const char *token = getenv("BENCH_TOKEN");
	char *nqdirs[16] = { NULL }, *nqs = getenv("BENCH_NQDIRS"), *sv = NULL;
	long long nnq = 0;

	bench_prog = "submit";
	if (argc < 7)
		usage(u);
	mode = argv[1];
	target = argv[2];
	n = num(argv[3], "count");
	interval = num(argv[4], "interval");
	tsfile = argv[5];
	ncmd = argc - 6;
	if (nqs != NULL && *nqs != '\0')
		for (char *q = strtok_r(nqs, ":", &sv); q != NULL && nnq < 16;
		    q = strtok_r(NULL, ":", &sv))
			nqdirs[nnq++] = q;
	ts = calloc((size_t)n + 1, sizeof *ts);
	if (ts == NULL)
		die("calloc:");
	if (strcmp(mode, "spool") == 0) {
		dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			die("open %s:", target);
		tfd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tfd < 0)
			die("open %s/tmp:", target);
	} else if (strcmp(mode, "http") == 0) {
		char *c = strrchr(target, ':');

		if (c == NULL)
			usage(u);
		*c = '\0';
		host = target;
		port = c + 1;
		http_connect();
	} else if (strcmp(mode, "exec") != 0)
		usage(u);

	for (seq = 1; seq <= n; seq++) {
		char *args[64];
		size_t pos = 0;

		if (ncmd >= 63)
			die("command too long");
		snprintf(seqs, sizeof seqs, "%lld", seq);
		for (i = 0; i < ncmd; i++)
			args[i] = strcmp(argv[6 + i], "%d") == 0 ? seqs : argv[6 + i];
		args[ncmd] = NULL;
		if (seq > 1 && interval > 0)
			sleep_ns(interval * 1000);

		if (strcmp(mode, "exec") == 0) {
			pid_t pid;
			int st, e;

			if (nqdirs[0] != NULL &&
			    setenv("NQDIR", nqdirs[seq % nnq], 1) != 0)
				die("setenv:");

			ts[seq] = now_ns(CLOCK_REALTIME);
			e = posix_spawnp(&pid, args[0], NULL, NULL, args, environ);
			if (e != 0) {
				errno = e;
				die("spawn %s:", args[0]);
			}
			while (waitpid(pid, &st, 0) < 0)
				if (errno != EINTR)
					die("waitpid:");
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				die("%s failed", args[0]);
			continue;
		}

		pos = (size_t)snprintf(body, sizeof body, "{\"command\":[");
		for (i = 0; i < ncmd; i++) {
			if (i > 0)
				body[pos++] = ',';
			pos = json_str(body, pos, sizeof body, args[i]);
		}
		pos += (size_t)snprintf(body + pos, sizeof body - pos, "]}\n");
		if (pos >= sizeof body - 1)
			die("job too long");

		if (strcmp(mode, "spool") == 0) {
			uuid_t uu;
			char id[40], tmp[64], name[64];
			int fd;

			uuid_generate_random(uu);
			uuid_unparse_lower(uu, id);
			snprintf(tmp, sizeof tmp, "%s.json", id);
			snprintf(name, sizeof name, "%s.pending", id);
			fd = openat(tfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
			if (fd < 0)
				die("create tmp/%s:", tmp);
			if (write(fd, body, pos) != (ssize_t)pos)
				die("write:");
			if (close(fd) != 0)
				die("close:");
			ts[seq] = now_ns(CLOCK_REALTIME);
			if (renameat(tfd, tmp, dfd, name) != 0)
				die("rename:");
		} else {
			int rlen, close_after;

			rlen = snprintf(req, sizeof req,
			    "POST /api/v1/jobs HTTP/1.1\r\nHost: %s:%s\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: %zu\r\n%s%s%s\r\n%s",
			    host, port, pos, token ? "Authorization: Bearer " : "",
			    token ? token : "", token ? "\r\n" : "", body);
			if (rlen < 0 || (size_t)rlen >= sizeof req)
				die("request too long");
			if (sock < 0)
				http_connect();
			ts[seq] = now_ns(CLOCK_REALTIME);
			send_all(req, (size_t)rlen);
			if (http_response(resp, sizeof resp, &close_after) != 201)
				exit(1);
			if (close_after) {
				close(sock);
				sock = -1;
			}
		}
	}
	if (strcmp(tsfile, "-") != 0) {
		FILE *f = fopen(tsfile, "w");

		if (f == NULL)
			die("open %s:", tsfile);
		for (seq = 1; seq <= n; seq++)
			fprintf(f, "%lld %lld\n", seq, (long long)ts[seq]);
		if (fclose(f) != 0)
			die("write %s:", tsfile);
	}
	free(ts);
	return 0;
}
