/*
 * ws_client - a minimal WebSocket client for the apiserver tests (curl has
 * no WebSocket support in Debian 12).  Compiled by the test suite itself.
 *
 *   ws_client PORT PATH [TOKEN]
 *   ws_client PORT --raw [MS]   < request-bytes
 *
 * Connects to 127.0.0.1:PORT, sends the RFC 6455 handshake with a fixed
 * key, and prints:
 *   STATUS <code>            the HTTP status of the handshake
 *   ACCEPT <value>           Sec-WebSocket-Accept
 *   MSG <op> <payload>       one line per message received (op 1 text, 2 binary)
 *   CLOSE <code>             the server's close frame (we answer it)
 * Exit status 0 if the server closed the WebSocket properly, 1 otherwise.
 *
 * --raw is for slow or partial requests: it sends what stdin holds, sends
 * nothing more (after waiting MS milliseconds between bytes if MS is given),
 * reads until the server closes the connection, and prints
 *   STATUS <code>            of the first answer (0 if none)
 *   CLOSED <ms>              how long after connecting the server hung up
 * Exit status 0 if the server closed the connection within 60 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static int
read_full(int fd, unsigned char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, buf + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static void
send_close(int fd)
{
	/* masked close frame with code 1000, mask 0 */
	unsigned char f[8] = { 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8 };

	if (write(fd, f, sizeof f) < 0)
		perror("write");
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
raw(int fd, long gap_ms)
{
	static char in[65536], out[65536];
	size_t n = 0, i, got = 0;
	long long t0 = now_ms();
	int status = 0;
	ssize_t k;

	signal(SIGPIPE, SIG_IGN);
	while (n < sizeof in && (k = read(0, in + n, sizeof in - n)) > 0)
		n += (size_t)k;
	for (i = 0; i < n; i++) {
		if (gap_ms > 0 && i > 0)
			usleep((useconds_t)gap_ms * 1000);
		if (write(fd, in + i, 1) != 1)	/* the server hung up */
			break;
	}
	for (;;) {
		k = read(fd, got < sizeof out - 1 ? out + got : out,
		    got < sizeof out - 1 ? sizeof out - 1 - got : sizeof out - 1);
		if (k <= 0)
			break;
		if (got < sizeof out - 1)
			got += (size_t)k;
	}
	out[got] = '\0';
	sscanf(out, "HTTP/1.%*d %d", &status);
	printf("STATUS %d\nCLOSED %lld\n", status, now_ms() - t0);
	return k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sa;
	struct timeval tv = { .tv_sec = 30 };
	int rawmode = argc > 2 && strcmp(argv[2], "--raw") == 0;
	char req[1024], hdr[4096];
	size_t hl = 0;
	int fd, status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: ws_client PORT PATH [TOKEN]\n"
		    "       ws_client PORT --raw [MS] <request\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (rawmode)
		tv.tv_sec = 60;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		return 1;
	}
	if (rawmode)
		return raw(fd, argc > 3 ? atol(argv[3]) : 0);
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
	    "%s%s%s\r\n", argv[2], argc > 3 ? "Authorization: Bearer " : "",
	    argc > 3 ? argv[3] : "", argc > 3 ? "\r\n" : "");
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		perror("write");
		return 1;
	}
	/* the response header, byte by byte up to the blank line */
	while (hl < sizeof hdr - 1) {
		if (read(fd, hdr + hl, 1) != 1)
			break;
		hl++;
		if (hl >= 4 && memcmp(hdr + hl - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	hdr[hl] = '\0';
	sscanf(hdr, "HTTP/1.1 %d", &status);
	printf("STATUS %d\n", status);
	{
		char *p = strcasestr(hdr, "\r\nSec-WebSocket-Accept:");
		if (p != NULL) {
			char val[128];
			if (sscanf(p + 23, " %127[^\r]", val) == 1)
				printf("ACCEPT %s\n", val);
		}
	}
	{
		/* how many Connection headers, and their values */
		const char *p = hdr;
		int n = 0;
		while ((p = strcasestr(p, "\r\nConnection:")) != NULL) {
			char val[128];
			p += 13;
			if (sscanf(p, " %127[^\r]", val) == 1)
				printf("CONNECTION %s\n", val);
			n++;
		}
		printf("CONNECTION_HEADERS %d\n", n);
	}
	fflush(stdout);
	if (status != 101)
		return 1;
	for (;;) {
		unsigned char h[2], ext[8], *payload;
		unsigned long long len;
		int op, i;

		if (read_full(fd, h, 2) < 0) {
			printf("EOF without close\n");
			return 1;
		}
		op = h[0] & 0x0f;
		len = h[1] & 0x7f;
		if (h[1] & 0x80) {
			printf("server frame is masked\n");
			return 1;
		}
		if (len == 126) {
			if (read_full(fd, ext, 2) < 0)
				return 1;
			len = (unsigned long long)ext[0] << 8 | ext[1];
		} else if (len == 127) {
			if (read_full(fd, ext, 8) < 0)
				return 1;
			for (len = 0, i = 0; i < 8; i++)
				len = len << 8 | ext[i];
		}
		payload = malloc(len + 1);
		if (payload == NULL || read_full(fd, payload, len) < 0)
			return 1;
		payload[len] = '\0';
		if (op == 8) {
			printf("CLOSE %d\n", len >= 2 ? payload[0] << 8 | payload[1] : 0);
			send_close(fd);
			free(payload);
			close(fd);
			return 0;
		}
		printf("MSG %d %s\n", op, (char *)payload);
		fflush(stdout);
		free(payload);
	}
}
