/*
 * request.c - what a request is, decided without a socket: the route of a
 * URL, whether the method, content type and length are acceptable, and the
 * streamed NDJSON batch body.  Pure functions of their arguments (no
 * libmicrohttpd calls), so the fuzz harness tests/fuzz/fuzz_http.c drives
 * exactly the code the server runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"

#define BATCH_MAX 10000

/* Methods each route accepts (for 405 and Allow). */
static const struct {
	const char *allow;
	int body;		/* takes a request body */
	int open;		/* needs no token */
	int worker;		/* needs the worker role */
	int raw;		/* body of raw bytes: no type or size limit */
} routes[] = {
	[R_NONE] = { .allow = "", .open = 1 },
	[R_HEALTHZ] = { .allow = "GET, HEAD", .open = 1 },
	[R_METRICS] = { .allow = "GET, HEAD", .open = 1 },
	[R_JOBS] = { .allow = "GET, HEAD, POST", .body = 1 },
	[R_JOB] = { .allow = "GET, HEAD, PUT, DELETE", .body = 1 },
	[R_JOB_LOG] = { .allow = "GET, HEAD" },
	[R_BATCHES] = { .allow = "POST", .body = 1 },
	[R_BATCH] = { .allow = "GET, HEAD" },
	[R_BATCH_LOG] = { .allow = "GET, HEAD" },
	[R_ADD] = { .allow = "POST" },
	[R_W_CLAIM] = { .allow = "POST", .body = 1, .worker = 1 },
	[R_W_LOG] = { .allow = "POST", .body = 1, .worker = 1, .raw = 1 },
	[R_W_HEARTBEAT] = { .allow = "POST", .body = 1, .worker = 1 },
	[R_W_FINISH] = { .allow = "POST", .body = 1, .worker = 1 },
	[R_DEMO_JOB] = { .allow = "GET, HEAD" },
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
request_path_ok(const char *target)
{
	const unsigned char *p = (const unsigned char *)target;
	int hi, lo, b;

	for (; *p != '\0' && *p != '?'; p++) {
		b = *p;
		if (b == '%') {
			if ((hi = hexval((char)p[1])) < 0 ||
			    (lo = hexval((char)p[2])) < 0)
				return 0;	/* a '%' that escapes nothing */
			b = hi * 16 + lo;
			p += 2;
		}
		if (b <= 0x20 || b >= 0x7f)
			return 0;
	}
	return 1;
}

/* Splits the path into segments and picks the route. */
void
request_route(struct req *r, const char *url)
{
	size_t len = strlen(url);
	char *p, *s;

	r->route = R_NONE;
	if (len > 512 || url[0] != '/')
		return;
	r->segbuf = strdup(url + 1);
	if (r->segbuf == NULL)
		return;
	len = strlen(r->segbuf);
	if (len > 0 && r->segbuf[len - 1] == '/')
		r->segbuf[len - 1] = '\0';
	for (p = r->segbuf; ; ) {
		if (r->nseg == 6)
			return;
		s = strchr(p, '/');
		r->seg[r->nseg++] = p;
		if (s == NULL)
			break;
		*s = '\0';
		p = s + 1;
	}
	if (r->nseg == 1 && strcmp(r->seg[0], "healthz") == 0)
		r->route = R_HEALTHZ;
	else if (r->nseg == 1 && strcmp(r->seg[0], "metrics") == 0)
		r->route = R_METRICS;
	if (r->nseg < 3 || strcmp(r->seg[0], "api") != 0 ||
	    strcmp(r->seg[1], "v1") != 0)
		return;
	if (strcmp(r->seg[2], "jobs") == 0) {
		if (r->nseg == 3)
			r->route = R_JOBS;
		else if (r->nseg == 4)
			r->route = R_JOB;
		else if (r->nseg == 5 && strcmp(r->seg[4], "log") == 0)
			r->route = R_JOB_LOG;
	} else if (strcmp(r->seg[2], "batches") == 0) {
		if (r->nseg == 3)
			r->route = R_BATCHES;
		else if (r->nseg == 4)
			r->route = R_BATCH;
		else if (r->nseg == 5 && strcmp(r->seg[4], "log") == 0)
			r->route = R_BATCH_LOG;
	} else if (strcmp(r->seg[2], "workers") == 0) {
		if (r->nseg == 4 && strcmp(r->seg[3], "claim") == 0)
			r->route = R_W_CLAIM;
		else if (r->nseg == 6 && strcmp(r->seg[3], "jobs") == 0 &&
		    strcmp(r->seg[5], "log") == 0)
			r->route = R_W_LOG;
		else if (r->nseg == 6 && strcmp(r->seg[3], "jobs") == 0 &&
		    strcmp(r->seg[5], "heartbeat") == 0)
			r->route = R_W_HEARTBEAT;
		else if (r->nseg == 6 && strcmp(r->seg[3], "jobs") == 0 &&
		    strcmp(r->seg[5], "finish") == 0)
			r->route = R_W_FINISH;
	} else if (strcmp(r->seg[2], "add") == 0 && r->nseg == 5) {
		r->route = R_ADD;
	} else if (strcmp(r->seg[2], "job") == 0 && r->nseg == 4) {
		r->route = R_DEMO_JOB;
	}
}

static int
method_allowed(int route, const char *method)
{
	const char *allow = routes[route].allow, *p;
	size_t ml = strlen(method);

	if (ml == 0)
		return 0;
	for (p = allow; (p = strstr(p, method)) != NULL; p += ml)
		if ((p == allow || p[-1] == ' ') && (p[ml] == ',' || p[ml] == '\0'))
			return 1;
	return 0;
}

/* Content type of a body: 0 JSON, 1 NDJSON, -1 refused. */
static int
content_kind(const char *ct, int route)
{
	size_t n;

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	n = strcspn(ct, "; ");
	if (n == 0)
		return 0;
	if ((n == 16 && strncasecmp(ct, "application/json", n) == 0) ||
	    (n == 33 && strncasecmp(ct, "application/x-www-form-urlencoded",
	    n) == 0))
		return 0;
	if (route == R_BATCHES &&
	    ((n == 20 && strncasecmp(ct, "application/x-ndjson", n) == 0) ||
	    (n == 18 && strncasecmp(ct, "application/ndjson", n) == 0) ||
	    (n == 17 && strncasecmp(ct, "application/jsonl", n) == 0)))
		return 1;
	return -1;
}

int
request_route_open(int route)
{
	return routes[route].open;
}

int
request_route_worker(int route)
{
	return routes[route].worker;
}

int
request_route_raw(int route)
{
	return routes[route].raw;
}

const char *
request_route_allow(int route)
{
	return routes[route].allow;
}

unsigned
request_check(struct req *r, const char *method, const char *content_type,
    const char *content_length, char *msg, size_t msglen)
{
	int kind;

	if (r->route == R_NONE) {
		snprintf(msg, msglen, "no such route: see man 8 jobspool-apiserver "
		    "for the API");
		return 404;
	}
	if (!method_allowed(r->route, method)) {
		snprintf(msg, msglen, "method %.32s is not allowed here; use %s",
		    method, routes[r->route].allow);
		return 405;
	}
	if (!routes[r->route].body || routes[r->route].raw ||
	    strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0 || strcmp(method, "DELETE") == 0)
		return 0;
	kind = content_kind(content_type, r->route);
	if (kind < 0) {
		snprintf(msg, msglen, "content type must be application/json%s",
		    r->route == R_BATCHES ? " or application/x-ndjson" : "");
		return 415;
	}
	r->ndjson = kind;
	if (content_length != NULL && !r->ndjson) {
		long long n;
		if (js_parse_int(content_length, 0, (long long)1 << 62, &n) < 0 ||
		    (unsigned long long)n > r->max_body) {
			snprintf(msg, msglen, "the body is larger than the limit of "
			    "%zu bytes", r->max_body);
			return 413;
		}
	}
	return 0;
}

/* Validates one job of a batch and appends it to r->nd_jobs. */
int
request_take_job(struct req *r, const json_t *sub, size_t n)
{
	char err[256];
	json_t *v;

	if (r->nd_jobs == NULL && (r->nd_jobs = json_array()) == NULL) {
		snprintf(r->nd_err, sizeof r->nd_err, "out of memory");
		return -1;
	}
	if (json_array_size(r->nd_jobs) >= BATCH_MAX) {
		snprintf(r->nd_err, sizeof r->nd_err, "a batch holds at most %d "
		    "jobs", BATCH_MAX);
		return -1;
	}
	v = js_job_validate(sub, err, sizeof err);
	if (v == NULL) {
		snprintf(r->nd_err, sizeof r->nd_err, "job %zu: %s", n, err);
		return -1;
	}
	json_array_append_new(r->nd_jobs, v);
	return 0;
}

static void
nd_line(struct req *r, const char *s, size_t len)
{
	char err[256];
	json_t *j;

	r->nd_line++;
	while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == ' ' ||
	    s[len - 1] == '\t'))
		len--;
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	if (len == 0 || r->nd_err[0] != '\0')
		return;
	j = js_job_parse(s, len, err, sizeof err);
	if (j == NULL) {
		snprintf(r->nd_err, sizeof r->nd_err, "line %zu: %s", r->nd_line,
		    err);
		return;
	}
	request_take_job(r, j, r->nd_line);
	json_decref(j);
}

void
request_ndjson_feed(struct req *r, const char *data, size_t len, int last)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		if (data[i] != '\n')
			continue;
		if (r->len > 0) {
			if (r->len + (i - start) <= r->max_body) {
				char *nb = realloc(r->body, r->len + (i - start) + 1);
				if (nb != NULL) {
					memcpy(nb + r->len, data + start, i - start);
					r->body = nb;
					r->len += i - start;
					nd_line(r, r->body, r->len);
				}
			} else if (r->nd_err[0] == '\0') {
				snprintf(r->nd_err, sizeof r->nd_err, "line %zu is "
				    "longer than the limit of %zu bytes",
				    r->nd_line + 1, r->max_body);
			}
			r->len = 0;
		} else {
			nd_line(r, data + start, i - start);
		}
		start = i + 1;
	}
	if (start < len) {
		size_t rest = len - start;
		if (r->len + rest > r->max_body) {
			if (r->nd_err[0] == '\0')
				snprintf(r->nd_err, sizeof r->nd_err, "line %zu is "
				    "longer than the limit of %zu bytes",
				    r->nd_line + 1, r->max_body);
			r->len = 0;
		} else {
			char *nb = realloc(r->body, r->len + rest + 1);
			if (nb == NULL) {
				snprintf(r->nd_err, sizeof r->nd_err, "out of memory");
			} else {
				memcpy(nb + r->len, data + start, rest);
				r->body = nb;
				r->len += rest;
			}
		}
	}
	if (last && r->len > 0) {
		nd_line(r, r->body, r->len);
		r->len = 0;
	}
}

const char *
request_query_allowed(int route, const char *method)
{
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	switch (route) {
	case R_JOBS:
		return get ? "status,limit,after,batch,name" : "";
	case R_JOB:
	case R_DEMO_JOB:
		return get ? "peek" : "";
	case R_JOB_LOG:
		return "offset,follow,ws,tail";
	case R_BATCH:
		return "peek,logs";
	case R_BATCH_LOG:
		return "follow";
	case R_W_LOG:
		return "token,offset";
	default:
		return "";
	}
}

int
request_query_ok(int route, const char *method, const char *key)
{
	const char *p = request_query_allowed(route, method);
	size_t n = strlen(key);

	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		if (len == n && n > 0 && strncmp(p, key, n) == 0)
			return 1;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}
