/*
 * ws.c - GET /api/v1/jobs/{id}/log?ws: the log over a WebSocket (RFC 6455).
 * After the 101 handshake a thread of ours owns the socket: it sends one
 * binary message per log line (without its newline), answers pings and a
 * client's close, and ends with a close frame (1000 when the job ended,
 * 1001 when the server stops).  It waits on an eventfd the inotify thread
 * signals, and on the socket, never polling in a loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "api.h"
#include "digest.h"
#include "log.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_LINE_MAX 65536
#define WS_IN_MAX 4096

enum { OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

struct ws {
	struct api *a;
	char id[JS_ID_SIZE];
	uint64_t off;
	int fd;
	MHD_socket sock;
	struct MHD_UpgradeResponseHandle *urh;
	int efd;
	char *part;
	size_t plen;
	unsigned char in[WS_IN_MAX];
	size_t inlen;
	unsigned char *early;	/* what came with the upgrade request */
	size_t early_len;
	int closing;		/* we sent our close frame */
	int peer_closed;	/* the client closed, or the socket failed */
};

static int
send_frame(struct ws *w, int op, const void *data, size_t len)
{
	unsigned char h[WS_HEADER_MAX];
	size_t hl = ws_frame_header(h, op, len);

	/* SIGPIPE is ignored (main.c): a gone peer is EPIPE */
	if (js_write_all(w->sock, h, hl) < 0 ||
	    (len > 0 && js_write_all(w->sock, data, len) < 0)) {
		w->peer_closed = 1;
		return -1;
	}
	return 0;
}

static int
send_close(struct ws *w, unsigned code)
{
	unsigned char p[2] = { (unsigned char)(code >> 8), (unsigned char)code };

	if (w->closing)
		return 0;
	w->closing = 1;
	return send_frame(w, OP_CLOSE, p, 2);
}

/* Sends complete lines that are new in the log; -1 if the client is gone. */
static int
pump(struct ws *w, int flush)
{
	char buf[16384];
	ssize_t n, i, start;

	if (w->fd < 0)
		w->fd = js_spool_log_open(w->a->sp, w->id, 0);
	while (w->fd >= 0 &&
	    (n = pread(w->fd, buf, sizeof buf, (off_t)w->off)) > 0) {
		w->off += (uint64_t)n;
		for (start = 0, i = 0; i < n; i++) {
			size_t len = (size_t)(i - start);
			if (buf[i] != '\n' && w->plen + len < WS_LINE_MAX)
				continue;
			if (w->plen > 0) {
				char *nl = realloc(w->part, w->plen + len);
				if (nl == NULL)
					return -1;
				memcpy(nl + w->plen, buf + start, len);
				w->part = nl;
				if (send_frame(w, OP_BINARY, w->part,
				    w->plen + len) < 0)
					return -1;
				w->plen = 0;
			} else if (send_frame(w, OP_BINARY, buf + start, len) < 0) {
				return -1;
			}
			start = buf[i] == '\n' ? i + 1 : i;
		}
		if (start < n) {
			char *np = realloc(w->part, w->plen + (size_t)(n - start));
			if (np == NULL)
				return -1;
			memcpy(np + w->plen, buf + start, (size_t)(n - start));
			w->part = np;
			w->plen += (size_t)(n - start);
		}
	}
	if (flush && w->plen > 0) {
		if (send_frame(w, OP_BINARY, w->part, w->plen) < 0)
			return -1;
		w->plen = 0;
	}
	return 0;
}

/* Handles the whole client frames (masked, small) in w->in; -1 when
 * closed. */
static int
take_frames(struct ws *w)
{
	for (;;) {
		unsigned char *p;
		size_t len;
		int op;
		long fl = ws_frame_parse(w->in, w->inlen, sizeof w->in, &op, &p,
		    &len);

		if (fl == 0)
			return 0;
		if (fl < 0) {		/* unmasked or too big */
			send_close(w, (unsigned)-fl);
			w->peer_closed = 1;
			return -1;
		}
		if (op == OP_CLOSE) {
			if (!w->closing) {
				w->closing = 1;
				send_frame(w, OP_CLOSE, p, len >= 2 ? 2 : 0);
			}
			w->peer_closed = 1;
			return -1;
		}
		if (op == OP_PING && send_frame(w, OP_PONG, p, len) < 0)
			return -1;
		memmove(w->in, w->in + fl, w->inlen - (size_t)fl);
		w->inlen -= (size_t)fl;
	}
}

/* Reads and handles client frames; -1 when closed. */
static int
read_client(struct ws *w)
{
	ssize_t n = recv(w->sock, w->in + w->inlen, sizeof w->in - w->inlen, 0);

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		w->peer_closed = 1;
		return -1;
	}
	w->inlen += (size_t)n;
	return take_frames(w);
}

/* Handles the frames that came with the upgrade request (a ping, a
 * close) now, not once the client sends more; in pieces as big as w->in. */
static void
take_early(struct ws *w)
{
	size_t off = 0, n;

	while (off < w->early_len && !w->peer_closed) {
		n = w->early_len - off;
		if (n > sizeof w->in - w->inlen)
			n = sizeof w->in - w->inlen;
		if (n == 0)
			break;	/* cannot be: a frame that fits is taken */
		memcpy(w->in + w->inlen, w->early + off, n);
		w->inlen += n;
		off += n;
		if (take_frames(w) < 0)
			break;
	}
	free(w->early);
	w->early = NULL;
}

static void *
ws_thread(void *arg)
{
	struct ws *w = arg;
	struct pollfd pf[2];
	int final = 0, fl;
	uint64_t junk;

	fl = fcntl(w->sock, F_GETFL);
	if (fl >= 0)
		fcntl(w->sock, F_SETFL, fl & ~O_NONBLOCK);
	{
		struct timeval tv = { .tv_sec = 30 };
		setsockopt(w->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	pf[0].fd = w->sock;
	pf[0].events = POLLIN;
	pf[1].fd = w->efd;
	pf[1].events = POLLIN;
	take_early(w);
	while (!w->peer_closed) {
		if (pump(w, final) < 0)
			break;
		if (final) {
			send_close(w, 1000);
			break;
		}
		if (atomic_load(&w->a->stopping)) {
			send_close(w, 1001);
			break;
		}
		if (follow_job_final(w->a, w->id)) {
			final = 1;	/* one more read: the last lines */
			continue;
		}
		if (poll(pf, 2, 1000) < 0 && errno != EINTR)
			break;
		if (pf[1].revents & POLLIN)
			while (read(w->efd, &junk, sizeof junk) > 0)
				;
		if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    read_client(w) < 0)
			break;
	}
	/* wait (briefly) for the client's close frame, then close */
	if (w->closing && !w->peer_closed) {
		int64_t deadline = js_mono_ms() + 2000;
		while (!w->peer_closed && js_mono_ms() < deadline) {
			struct pollfd p1 = { .fd = w->sock, .events = POLLIN };
			int left = (int)(deadline - js_mono_ms());
			if (poll(&p1, 1, left > 0 ? left : 0) <= 0)
				break;
			if (read_client(w) < 0)
				break;
		}
	}
	bus_del_efd(w->a->bus, w->efd);
	close(w->efd);
	if (w->fd >= 0)
		close(w->fd);
	free(w->part);
	MHD_upgrade_action(w->urh, MHD_UPGRADE_ACTION_CLOSE);
	atomic_fetch_sub(&w->a->ws_active, 1);
	free(w);
	return NULL;
}

static void
upgraded(void *cls, struct MHD_Connection *c, void *con_cls,
    const char *extra_in, size_t extra_in_size, MHD_socket sock,
    struct MHD_UpgradeResponseHandle *urh)
{
	struct ws *proto = cls, *w;
	pthread_attr_t at;
	pthread_t th;

	(void)con_cls;
	guard_set(c, GUARD_UPGRADED);
	w = malloc(sizeof *w);
	if (w == NULL)
		goto fail;
	memcpy(w, proto, sizeof *w);
	w->sock = sock;
	w->urh = urh;
	w->fd = -1;
	w->part = NULL;
	w->plen = 0;
	w->inlen = 0;
	w->early = NULL;
	w->early_len = 0;
	if (extra_in_size > 0) {	/* handled by the thread (take_early) */
		if ((w->early = malloc(extra_in_size)) == NULL) {
			free(w);
			goto fail;
		}
		memcpy(w->early, extra_in, extra_in_size);
		w->early_len = extra_in_size;
	}
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		free(w->early);
		free(w);
		goto fail;
	}
	if (bus_add_efd(w->a->bus, w->efd) < 0) {
		close(w->efd);
		free(w->early);
		free(w);
		goto fail;
	}
	atomic_fetch_add(&w->a->ws_active, 1);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 * 1024);
	if (pthread_create(&th, &at, ws_thread, w) != 0) {
		pthread_attr_destroy(&at);
		atomic_fetch_sub(&w->a->ws_active, 1);
		bus_del_efd(w->a->bus, w->efd);
		close(w->efd);
		free(w->early);
		free(w);
		goto fail;
	}
	pthread_attr_destroy(&at);
	return;
fail:
	js_warn("cannot start a WebSocket stream: %s", strerror(errno));
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static int
has_token(const char *v, const char *tok)
{
	size_t tl = strlen(tok);

	while (v != NULL && *v != '\0') {
		size_t n;
		while (*v == ' ' || *v == ',')
			v++;
		n = strcspn(v, ", ");
		if (n == tl && strncasecmp(v, tok, tl) == 0)
			return 1;
		v += n;
	}
	return 0;
}

enum MHD_Result
ws_upgrade(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id, uint64_t offset)
{
	const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_UPGRADE);
	const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONNECTION);
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Sec-WebSocket-Key");
	const char *ver = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Sec-WebSocket-Version");
	char buf[128], accept[JS_BASE64_SIZE(JS_SHA1_SIZE)];
	unsigned char digest[JS_SHA1_SIZE];
	struct MHD_Response *resp;
	struct ws *proto;
	enum MHD_Result rc;

	if (!has_token(up, "websocket") || !has_token(conn, "upgrade"))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "?ws needs a WebSocket "
		    "upgrade request (Connection: Upgrade, Upgrade: websocket)");
	if (ver == NULL || strcmp(ver, "13") != 0) {
		resp = NULL;
		rc = reply_error(c, MHD_HTTP_UPGRADE_REQUIRED, "WebSocket version "
		    "13 is required");
		return rc;
	}
	if (key == NULL || strlen(key) != 24 || key[22] != '=' || key[23] != '=')
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "bad Sec-WebSocket-Key");
	if (atomic_load(&a->stopping))
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is "
		    "stopping");
	snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
	js_sha1(buf, strlen(buf), digest);
	js_base64_encode(digest, sizeof digest, accept);

	proto = calloc(1, sizeof *proto);
	if (proto == NULL)
		return MHD_NO;
	proto->a = a;
	memcpy(proto->id, id, JS_ID_SIZE);
	proto->off = offset;
	resp = MHD_create_response_for_upgrade(upgraded, proto);
	if (resp == NULL) {
		free(proto);
		return MHD_NO;
	}
	/* the prototype lives as long as the response */
	/* libmicrohttpd adds "Connection: Upgrade" to an upgrade response
	 * itself: adding it here sent it twice */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	/* the answer itself has no body; the frames after it are not HTTP */
	rc = reply_queue_len(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp, 0);
	/* upgraded() copies the prototype; the request closure frees it */
	r->ws_proto = proto;
	return rc;
}
