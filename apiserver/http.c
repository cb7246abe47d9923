/* http.c - the access handler: routing, limits, content types, auth; the
 * answers themselves are built by reply.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "api.h"
#include "log.h"

/* Calls the handler of the request's route and method (request_check
 * found it) with the captures of the route's pattern it takes. */
static enum MHD_Result
dispatch(struct api *a, struct MHD_Connection *c, struct req *r)
{
	const struct route_method *m = r->method;

	if (m == NULL)
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no such route");
	if (m->h0 != NULL)
		return m->h0(a, c);
	if (m->h != NULL)
		return m->h(a, c, r);
	if (m->h1 != NULL)
		return m->h1(a, c, r, r->arg[0]);
	return m->h2(a, c, r, r->arg[0], r->arg[1]);
}

/* The mark http_uri_seen leaves as a request's first *con_cls (its
 * address; a request's own state is allocated by the handler). */
static char bad_path_mark;

void *
http_uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)cls;
	(void)c;
	return request_path_ok(uri) ? NULL : &bad_path_mark;
}

/* Mutual TLS: the handshake required a certificate; check it is signed by
 * the --tls-client-ca and valid.  0 if so. */
static int
client_cert_ok(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	unsigned status = 0;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return -1;
	if (gnutls_certificate_verify_peers2((gnutls_session_t)ci->tls_session,
	    &status) < 0 || status != 0)
		return -1;
	return 0;
}

struct arg_scan {
	const struct route *route;
	const char *method;
	const char *unknown;	/* the first parameter the route does not take */
};

static enum MHD_Result
arg_check(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct arg_scan *s = cls;

	(void)kind;
	(void)value;
	if (key != NULL && request_query_ok(s->route, s->method, key))
		return MHD_YES;
	s->unknown = key != NULL ? key : "";
	return MHD_NO;
}

/* The first query parameter the route does not take with method, or
 * NULL. */
static const char *
unknown_arg(struct MHD_Connection *c, const struct route *route,
    const char *method)
{
	struct arg_scan s = { route, method, NULL };

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, arg_check, &s);
	return s.unknown;
}

/* First call of a request: everything decided from the headers. */
static enum MHD_Result
first_call(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *url, const char *method)
{
	char msg[300], allow[ROUTE_ALLOW_MAX];
	const char *unknown;
	unsigned status;
	int why;

	if (a->mtls && client_cert_ok(c) < 0) {
		r->failed = 1;
		return reply_error(c, MHD_HTTP_FORBIDDEN, "your client certificate "
		    "is not signed by the CA this server trusts");
	}
	if (r->bad_path) {
		/* url, decoded, would end at a %00: route nothing */
		r->failed = 1;
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "the path holds a byte "
		    "no route can hold (NUL, a control character, space, a byte "
		    "over 126, or a '%%' that is not an escape like %%2F)");
	}
	if (routes_match(r, url) < 0) {
		r->failed = 1;
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	r->head = strcmp(method, "HEAD") == 0;
	if (r->route != NULL && r->route->role != ROLE_OPEN &&
	    (why = auth_check(a, c, &r->who, msg, sizeof msg)) != AUTH_OK) {
		r->failed = 1;
		metrics_count_auth_refusal(a->metrics, why);
		return auth_refuse(a, c, why, msg);
	}
	if (r->route != NULL && r->route->role == ROLE_WORKER &&
	    !r->who.worker) {
		r->failed = 1;
		return reply_error(c, MHD_HTTP_FORBIDDEN, "token '%s' does not have "
		    "the worker role", r->who.name);
	}
	status = request_check(r, method,
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE),
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH), msg, sizeof msg);
	if (status == 0 && (unknown = unknown_arg(c, r->route, method)) != NULL) {
		const char *allowed = request_query_allowed(r->route, method);
		r->failed = 1;
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "unknown query "
		    "parameter '%.64s' for %s on this route: %s%s", unknown,
		    method, *allowed ? "it takes " : "it takes none", allowed);
	}
	if (status == 0 && request_raw(r))
		return r->method->begin(a, c, r, r->arg[0]);
	if (status == 0)
		return MHD_YES;
	r->failed = 1;
	return reply_error_allow(c, status, status == MHD_HTTP_METHOD_NOT_ALLOWED ?
	    request_allow(r->route, allow, sizeof allow) : NULL, "%s", msg);
}

/* Takes one chunk of upload data; -1 after queueing an error. */
static int
take_body(struct MHD_Connection *c, struct req *r, const char *data,
    size_t len)
{
	if (r->ndjson) {
		request_ndjson_feed(r, data, len, 0);
		return 0;
	}
	if (r->too_big || len > r->max_body - r->len) {
		/* answered once the client has sent it all: libmicrohttpd
		 * cannot answer in the middle of a chunked upload */
		r->too_big = 1;
		r->discarded += len;
		return r->discarded > 16 * r->max_body + (16u << 20) ? -1 : 0;
	}
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *nb;
		while (cap < r->len + len + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (nb == NULL) {
			r->failed = 1;
			reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
			return -1;
		}
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

enum MHD_Result
http_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct req *r = *con_cls;
	unsigned idle;

	(void)version;
	if (r == NULL || r == (void *)&bad_path_mark) {
		int bad = r != NULL;
		r = calloc(1, sizeof *r);
		if (r == NULL)
			return MHD_NO;
		r->bad_path = bad;
		snprintf(r->verb, sizeof r->verb, "%s", method);
		*con_cls = r;
		atomic_fetch_add(&a->active, 1);
		guard_set(c, GUARD_BUSY);
		pthread_rwlock_rdlock(&a->lock);
		r->max_body = a->conf->max_body;
		r->read_timeout_s = a->conf->read_timeout_s;
		r->start_ms = js_mono_ms();
		MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
		    a->conf->read_timeout_s);
		pthread_rwlock_unlock(&a->lock);
		return first_call(a, c, r, url, method);
	}
	if (r->failed) {
		*upload_data_size = 0;	/* discard the rest */
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (request_raw(r)) {
			/* a worker's log upload stays open while the job
			 * writes; only the inactivity timeout applies.  On
			 * SIGTERM it is cut after what arrived was stored:
			 * the worker resends from the log's size. */
			r->method->feed(a, r, upload_data, n);
			return atomic_load(&a->stopping) ? MHD_NO : MHD_YES;
		}
		if (js_mono_ms() - r->start_ms > (int64_t)r->read_timeout_s * 1000) {
			js_info("closing a connection: its request took longer "
			    "than --read-timeout");
			return MHD_NO;
		}
		if (take_body(c, r, upload_data, n) < 0 && r->too_big)
			return MHD_NO;	/* far too much: hang up */
		return MHD_YES;
	}
	if (r->too_big) {
		r->failed = 1;
		return reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "the body is larger than the limit of %zu bytes", r->max_body);
	}
	pthread_rwlock_rdlock(&a->lock);
	idle = a->conf->idle_timeout_s;
	pthread_rwlock_unlock(&a->lock);
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, idle);
	if (r->ndjson)
		request_ndjson_feed(r, NULL, 0, 1);
	r->failed = 1;	/* answered: no second dispatch */
	return dispatch(a, c, r);
}

/* The path r asked for, from its segments, cleaned for a log line. */
static void
req_path(const struct req *r, char *out, size_t size)
{
	char path[ROUTE_PATH_MAX + 2];
	size_t o = 0;
	int i;

	if (r->segbuf == NULL) {
		snprintf(out, size, "-");
		return;
	}
	for (i = 0; i < r->nseg && o < sizeof path - 1; i++)
		o += (size_t)snprintf(path + o, sizeof path - o, "/%s", r->seg[i]);
	if (o >= sizeof path)
		o = sizeof path - 1;
	path[o] = '\0';
	js_log_clean(path, out, size);
}

/* One line of the access log (--access-log) for the request r answered
 * with status: time, client address, method, path, route, status, body
 * bytes, duration and token name; never the secret. */
static void
access_line(struct api *a, struct MHD_Connection *c, const struct req *r,
    unsigned status, long long bytes)
{
	char ts[JS_STAMP_SIZE], dur[JS_DURATION_SIZE], path[ROUTE_PATH_MAX * 2];
	char who[140], peer[INET6_ADDRSTRLEN + 8], line[2048], nb[24];
	int n;

	reply_peer(c, peer, sizeof peer, "-");
	req_path(r, path, sizeof path);
	js_log_clean(r->who.name[0] != '\0' ? r->who.name : "-", who, sizeof who);
	if (bytes >= 0)
		snprintf(nb, sizeof nb, "%lld", bytes);
	else
		snprintf(nb, sizeof nb, "-");
	n = snprintf(line, sizeof line, "%s %s %s %s route=%s status=%u "
	    "bytes=%s time=%s token=%s\n", js_log_stamp(ts), peer, r->verb, path,
	    r->route != NULL ? r->route->name : "none", status, nb,
	    js_duration_format(js_mono_ms() - r->start_ms, dur), who);
	if (n > 0 && write(a->access_fd, line, (size_t)n < sizeof line ?
	    (size_t)n : sizeof line - 1) < 0)
		js_debug("access log: %s", strerror(errno));
}

void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct api_conn *cn = NULL;
	struct req *r = *con_cls;
	struct api *a = cls;

	(void)toe;
	guard_set(c, GUARD_WAITING);
	if (r == NULL || r == (void *)&bad_path_mark)
		return;	/* the handler never ran */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL)
		cn = ci->socket_context;
	if (cn != NULL && cn->status != 0) {
		metrics_count_request(a->metrics, r->route != NULL ?
		    r->route->name : "none", cn->status);
		if (a->access_on)
			access_line(a, c, r, cn->status, cn->bytes);
		cn->status = 0;
	}
	atomic_fetch_sub(&a->active, 1);
	free(r->segbuf);
	free(r->body);
	json_decref(r->nd_jobs);
	free(r->ws_proto);
	worker_log_free(r);
	free(r);
	*con_cls = NULL;
}
