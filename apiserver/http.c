/* http.c - the access handler: routing, limits, content types, auth, and
 * the shape of every answer ({"error": ...} for errors). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <gnutls/gnutls.h>

#include "api.h"
#include "log.h"

enum MHD_Result
http_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result rc;

	if (resp == NULL)
		return MHD_NO;
	metrics_count_status(status);
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void
public_walk(json_t *v, int depth)
{
	const char *k;
	json_t *x;
	size_t i;

	if (depth > 4)
		return;
	if (json_is_object(v)) {
		if (json_object_get(v, "seq") != NULL &&
		    json_object_get(v, "id") != NULL)
			json_object_del(v, "seq");
		json_object_foreach(v, k, x)
			public_walk(x, depth + 1);
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			public_walk(x, depth + 1);
	}
}

void
http_public(json_t *body)
{
	public_walk(body, 0);
}

struct MHD_Response *
http_json_response(json_t *body)
{
	struct MHD_Response *resp;
	char *text, *t2;
	size_t len;

	http_public(body);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		return NULL;
	/* one trailing newline: nicer in a terminal */
	len = strlen(text);
	t2 = realloc(text, len + 2);
	if (t2 == NULL) {
		free(text);
		return NULL;
	}
	text = t2;
	text[len++] = '\n';
	text[len] = '\0';
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	return resp;
}

enum MHD_Result
http_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
	struct MHD_Response *resp = http_json_response(body);

	if (resp == NULL)
		return MHD_NO;
	return http_queue(c, status, resp);
}

/* Length of the well-formed UTF-8 sequence at s (1 to 4), or 0. */
static size_t
utf8_seq(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;	/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;	/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;	/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;	/* beyond U+10FFFF */
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
		if (s[i] < lo || s[i] > hi)
			return 0;
	return n;
}

/* An error message may quote what the client sent (a query value, a path
 * segment), cut anywhere by its format's precision: bytes that are not
 * UTF-8 become '?', since a JSON string must be UTF-8. */
static void
utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p != '\0') {
		size_t n = utf8_seq(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

static enum MHD_Result
verror(struct MHD_Connection *c, unsigned status, const char *allow,
    const char *fmt, va_list ap)
{
	struct MHD_Response *resp;
	char msg[1024];
	json_t *j;

	vsnprintf(msg, sizeof msg, fmt, ap);
	utf8_clean(msg);
	j = json_pack("{s:s}", "error", msg);
	if (j == NULL)
		return MHD_NO;
	resp = http_json_response(j);
	if (resp == NULL)
		return MHD_NO;
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"jobspool\"");
	return http_queue(c, status, resp);
}

enum MHD_Result
http_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	enum MHD_Result rc;
	va_list ap;

	va_start(ap, fmt);
	rc = verror(c, status, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static enum MHD_Result
error_allow(struct MHD_Connection *c, unsigned status, const char *allow,
    const char *fmt, ...)
{
	enum MHD_Result rc;
	va_list ap;

	va_start(ap, fmt);
	rc = verror(c, status, allow, fmt, ap);
	va_end(ap);
	return rc;
}

enum MHD_Result
http_errno(struct MHD_Connection *c, int e, const char *what)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return http_error(c, MHD_HTTP_INSUFFICIENT_STORAGE,
		    "%s: the spool's disk is full; try again later", what);
	case EROFS:
	case EACCES:
	case EPERM:
		return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "%s: the spool is not writable (%s); see /healthz", what,
		    strerror(e));
	case ENOENT:
	case EINVAL:
		return http_error(c, MHD_HTTP_NOT_FOUND, "%s: no such job", what);
	case EBUSY:
		return http_error(c, MHD_HTTP_CONFLICT, "%s: the job is running",
		    what);
	case ENOMEM:
		return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "%s: out of memory", what);
	case EAGAIN:	/* e.g. a listing that jobs kept changing under */
		return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "%s: the spool is changing too fast; try again", what);
	default:
		js_warn("%s: %s", what, strerror(e));
		return http_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s: %s", what,
		    strerror(e));
	}
}

int
http_spool_in_place(struct api *a)
{
	struct stat dst, pst;

	if (fstat(js_spool_fd(a->sp), &dst) < 0 || dst.st_nlink == 0)
		return 0;
	if (stat(js_spool_path(a->sp), &pst) < 0)
		return 0;
	return pst.st_dev == dst.st_dev && pst.st_ino == dst.st_ino;
}

enum MHD_Result
http_store_errno(struct api *a, struct MHD_Connection *c, int e,
    const char *what)
{
	char why[512];

	if (e != ENOENT && e != ENOTDIR && e != ESTALE)
		return http_errno(c, e, what);
	/* writing a new file cannot miss a job: the spool itself is gone */
	if (js_spool_check(a->sp, why, sizeof why) == 0)
		snprintf(why, sizeof why, "%s", strerror(e));
	return http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%s: the spool is "
	    "not usable (%s); see /healthz", what, why);
}

const char *
http_arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

int
http_flag(struct MHD_Connection *c, const char *key)
{
	const char *v;

	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key,
	    strlen(key), &v, NULL) != MHD_YES)
		return 0;
	return v == NULL || *v == '\0' || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0;
}

json_t *
http_body_json(struct MHD_Connection *c, struct req *r)
{
	char err[300];
	json_t *j;

	if (r->len == 0) {
		http_error(c, MHD_HTTP_BAD_REQUEST, "the request needs a JSON body");
		return NULL;
	}
	j = js_job_parse(r->body, r->len, err, sizeof err);
	if (j == NULL) {
		if (strstr(err, "JSON object") != NULL)
			http_error(c, MHD_HTTP_BAD_REQUEST, "the body must be a JSON "
			    "object");
		else
			http_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	}
	return j;
}

static enum MHD_Result
dispatch(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *method)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	switch (r->route) {
	case R_HEALTHZ:
		return route_healthz(a, c);
	case R_METRICS:
		return route_metrics(a, c);
	case R_JOBS:
		return get ? route_jobs_list(a, c, r) : route_jobs_post(a, c, r);
	case R_JOB:
		if (get)
			return route_job_get(a, c, r, r->seg[3]);
		if (strcmp(method, "PUT") == 0)
			return route_job_put(a, c, r, r->seg[3]);
		return route_job_delete(a, c, r, r->seg[3]);
	case R_JOB_LOG:
		return route_job_log(a, c, r, r->seg[3]);
	case R_BATCHES:
		return route_batches_post(a, c, r);
	case R_BATCH:
		return route_batch_get(a, c, r, r->seg[3]);
	case R_BATCH_LOG:
		return route_batch_log(a, c, r, r->seg[3]);
	case R_ADD:
		return route_add(a, c, r, r->seg[3], r->seg[4]);
	case R_DEMO_JOB:
		return route_job_get(a, c, r, r->seg[3]);
	case R_W_CLAIM:
		return route_worker_claim(a, c, r);
	case R_W_LOG:
		return worker_log_end(a, c, r);
	case R_W_HEARTBEAT:
		return route_worker_heartbeat(a, c, r, r->seg[4]);
	case R_W_FINISH:
		return route_worker_finish(a, c, r, r->seg[4]);
	default:
		return http_error(c, MHD_HTTP_NOT_FOUND, "no such route");
	}
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
	int route;
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
unknown_arg(struct MHD_Connection *c, int route, const char *method)
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
	char msg[300];
	const char *unknown;
	unsigned status;

	if (a->mtls && client_cert_ok(c) < 0) {
		r->failed = 1;
		return http_error(c, MHD_HTTP_FORBIDDEN, "your client certificate "
		    "is not signed by the CA this server trusts");
	}
	if (r->bad_path) {
		/* url, decoded, would end at a %00: route nothing */
		r->failed = 1;
		return http_error(c, MHD_HTTP_BAD_REQUEST, "the path holds a byte "
		    "no route can hold (NUL, a control character, space, a byte "
		    "over 126, or a '%%' that is not an escape like %%2F)");
	}
	request_route(r, url);
	r->head = strcmp(method, "HEAD") == 0;
	if (r->route != R_NONE && !request_route_open(r->route) &&
	    auth_check(a, c, &r->who) < 0) {
		r->failed = 1;
		return http_error(c, MHD_HTTP_UNAUTHORIZED, "missing or wrong token: "
		    "send 'Authorization: Bearer SECRET'");
	}
	if (request_route_worker(r->route) && !r->who.worker) {
		r->failed = 1;
		return http_error(c, MHD_HTTP_FORBIDDEN, "token '%s' does not have "
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
		return http_error(c, MHD_HTTP_BAD_REQUEST, "unknown query "
		    "parameter '%.64s' for %s on this route: %s%s", unknown,
		    method, *allowed ? "it takes " : "it takes none", allowed);
	}
	if (status == 0 && request_route_raw(r->route))
		return worker_log_begin(a, c, r, r->seg[4]);
	if (status == 0)
		return MHD_YES;
	r->failed = 1;
	return error_allow(c, status, status == MHD_HTTP_METHOD_NOT_ALLOWED ?
	    request_route_allow(r->route) : NULL, "%s", msg);
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
			http_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
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
		if (request_route_raw(r->route)) {
			/* a worker's log upload stays open while the job
			 * writes; only the inactivity timeout applies.  On
			 * SIGTERM it is cut after what arrived was stored:
			 * the worker resends from the log's size. */
			worker_log_feed(a, r, upload_data, n);
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
		return http_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
		    "the body is larger than the limit of %zu bytes", r->max_body);
	}
	pthread_rwlock_rdlock(&a->lock);
	idle = a->conf->idle_timeout_s;
	pthread_rwlock_unlock(&a->lock);
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, idle);
	if (r->ndjson)
		request_ndjson_feed(r, NULL, 0, 1);
	r->failed = 1;	/* answered: no second dispatch */
	return dispatch(a, c, r, method);
}

void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	struct api *a = cls;

	(void)toe;
	guard_set(c, GUARD_WAITING);
	if (r == NULL || r == (void *)&bad_path_mark)
		return;	/* the handler never ran */
	atomic_fetch_sub(&a->active, 1);
	free(r->segbuf);
	free(r->body);
	json_decref(r->nd_jobs);
	free(r->ws_proto);
	worker_log_free(r);
	free(r);
	*con_cls = NULL;
}
