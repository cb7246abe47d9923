/* reply.c - the shape of every answer: JSON bodies (compact, one trailing
 * newline), {"error": ...} with the right status for errors and failed
 * spool calls, query arguments and JSON bodies of a request.  A leaf: it
 * calls nothing of the apiserver (the status of each answer is noted in
 * the connection's struct api_conn, counted and logged by http.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "api.h"
#include "log.h"

/* Queues resp, noting status and the body's length (-1: unknown). */
static enum MHD_Result
queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp,
    long long len)
{
	const union MHD_ConnectionInfo *ci;
	struct api_conn *cn;
	enum MHD_Result rc;

	if (resp == NULL)
		return MHD_NO;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (cn = ci->socket_context) != NULL) {
		cn->status = status;
		/* a stream's bytes are counted as its reader makes them */
		cn->bytes = len >= 0 ? len : cn->streamed ? 0 : -1;
	}
	rc = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

enum MHD_Result
reply_queue(struct MHD_Connection *c, unsigned status, struct MHD_Response *resp)
{
	return queue(c, status, resp, -1);
}

enum MHD_Result
reply_queue_len(struct MHD_Connection *c, unsigned status,
    struct MHD_Response *resp, size_t len)
{
	return queue(c, status, resp, (long long)len);
}

/* reply_stream's content reader around the route's. */
struct counted {
	MHD_ContentReaderCallback crc;
	MHD_ContentReaderFreeCallback crfc;
	void *cls;
	struct api_conn *cn;	/* NULL: not counted */
};

static ssize_t
counted_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct counted *k = cls;
	ssize_t n = k->crc(k->cls, pos, buf, max);

	if (n > 0 && k->cn != NULL)
		k->cn->bytes += n;
	return n;
}

static void
counted_free(void *cls)
{
	struct counted *k = cls;

	if (k->crfc != NULL)
		k->crfc(k->cls);
	free(k);
}

struct MHD_Response *
reply_stream(struct MHD_Connection *c, size_t block,
    MHD_ContentReaderCallback crc, void *cls,
    MHD_ContentReaderFreeCallback crfc)
{
	const union MHD_ConnectionInfo *ci;
	struct MHD_Response *resp;
	struct counted *k = malloc(sizeof *k);

	if (k == NULL) {
		if (crfc != NULL)
			crfc(cls);
		return NULL;
	}
	k->crc = crc;
	k->crfc = crfc;
	k->cls = cls;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	k->cn = ci != NULL ? ci->socket_context : NULL;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, block,
	    counted_read, k, counted_free);
	if (resp == NULL) {
		counted_free(k);
		return NULL;
	}
	if (k->cn != NULL)
		k->cn->streamed = 1;
	return resp;
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
reply_public(json_t *body)
{
	public_walk(body, 0);
}

struct MHD_Response *
reply_json_response(json_t *body)
{
	size_t len;

	return reply_json_response_len(body, &len);
}

char *
reply_json_text(json_t *body, size_t *lenp)
{
	if (body == NULL)
		return NULL;
	reply_public(body);
	/* js_json_dumps, not json_dumps: jansson's drops a key whose
	 * allocation failed and answers the rest; one trailing newline:
	 * nicer in a terminal */
	return js_json_dumps(body, JSON_COMPACT, "\n", lenp);
}

struct MHD_Response *
reply_text_response(char *text, size_t len)
{
	struct MHD_Response *resp;

	if (text == NULL)
		return NULL;
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	return resp;
}

struct MHD_Response *
reply_json_response_len(json_t *body, size_t *lenp)
{
	size_t len = 0;
	char *text = reply_json_text(body, &len);

	json_decref(body);
	*lenp = len;
	return reply_text_response(text, len);
}

enum MHD_Result
reply_json(struct MHD_Connection *c, unsigned status, json_t *body)
{
	size_t len;
	struct MHD_Response *resp = reply_json_response_len(body, &len);

	if (resp == NULL)
		return MHD_NO;
	return reply_queue_len(c, status, resp, len);
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
	size_t len;
	json_t *j;

	vsnprintf(msg, sizeof msg, fmt, ap);
	utf8_clean(msg);
	j = json_pack("{s:s}", "error", msg);
	if (j == NULL)
		return MHD_NO;
	resp = reply_json_response_len(j, &len);
	if (resp == NULL)
		return MHD_NO;
	if (allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"jobspool\"");
	return reply_queue_len(c, status, resp, len);
}

enum MHD_Result
reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	enum MHD_Result rc;
	va_list ap;

	va_start(ap, fmt);
	rc = verror(c, status, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

enum MHD_Result
reply_error_allow(struct MHD_Connection *c, unsigned status, const char *allow,
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
reply_errno(struct MHD_Connection *c, int e, const char *what)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
		return reply_error(c, MHD_HTTP_INSUFFICIENT_STORAGE,
		    "%s: the spool's disk is full; try again later", what);
	case EFBIG:
		return reply_error(c, MHD_HTTP_INSUFFICIENT_STORAGE,
		    "%s: the file would pass the server's file size limit "
		    "(RLIMIT_FSIZE)", what);
	case EROFS:
	case EACCES:
	case EPERM:
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "%s: the spool is not writable (%s); see /healthz", what,
		    strerror(e));
	case ENOENT:
	case EINVAL:
		return reply_error(c, MHD_HTTP_NOT_FOUND, "%s: no such job", what);
	case EBUSY:
		return reply_error(c, MHD_HTTP_CONFLICT, "%s: the job is running",
		    what);
	case ENOMEM:
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "%s: out of memory", what);
	case EMFILE:
	case ENFILE:	/* a burst of clients: said, as an admin may raise it */
		js_warn("%s: %s", what, strerror(e));
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "%s: the server is out of file descriptors; try again "
		    "later", what);
	case EAGAIN:	/* e.g. a listing that jobs kept changing under */
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "%s: the spool is changing too fast; try again", what);
	default:
		js_warn("%s: %s", what, strerror(e));
		return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s: %s", what,
		    strerror(e));
	}
}

int
reply_spool_in_place(struct api *a)
{
	struct stat dst, pst;

	if (fstat(js_spool_fd(a->sp), &dst) < 0 || dst.st_nlink == 0)
		return 0;
	if (stat(js_spool_path(a->sp), &pst) < 0)
		return 0;
	return pst.st_dev == dst.st_dev && pst.st_ino == dst.st_ino;
}

enum MHD_Result
reply_store_errno(struct api *a, struct MHD_Connection *c, int e,
    const char *what)
{
	char why[512];

	if (e != ENOENT && e != ENOTDIR && e != ESTALE)
		return reply_errno(c, e, what);
	/* writing a new file cannot miss a job: the spool itself is gone */
	if (js_spool_check(a->sp, why, sizeof why) == 0)
		snprintf(why, sizeof why, "%s", strerror(e));
	return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%s: the spool is "
	    "not usable (%s); see /healthz", what, why);
}

const char *
reply_arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

int
reply_flag(struct MHD_Connection *c, const char *key)
{
	const char *v;

	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, key,
	    strlen(key), &v, NULL) != MHD_YES)
		return 0;
	return v == NULL || *v == '\0' || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0;
}

json_t *
reply_body_json(struct MHD_Connection *c, struct req *r)
{
	char err[300];
	json_t *j;

	if (r->len == 0) {
		reply_error(c, MHD_HTTP_BAD_REQUEST, "the request needs a JSON body");
		return NULL;
	}
	j = js_job_parse(r->body, r->len, err, sizeof err);
	if (j == NULL) {
		if (errno == ENOMEM)	/* not the client's fault */
			reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of "
			    "memory");
		else if (strstr(err, "JSON object") != NULL)
			reply_error(c, MHD_HTTP_BAD_REQUEST, "the body must be a JSON "
			    "object");
		else
			reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	}
	return j;
}

const char *
reply_peer(struct MHD_Connection *c, char *out, size_t size,
    const char *unknown)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;
	const void *ad = NULL;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa = ci != NULL ? ci->client_addr : NULL;
	if (sa != NULL && sa->sa_family == AF_INET)
		ad = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa != NULL && sa->sa_family == AF_INET6)
		ad = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (ad == NULL || inet_ntop(sa->sa_family, ad, out, (socklen_t)size) ==
	    NULL)
		snprintf(out, size, "%s", unknown);
	return out;
}
