/*
 * request.c - what is decided about a request without a socket, given its
 * row of the route table (routes.c): whether the method, query parameters,
 * content type and length are acceptable, and the streamed NDJSON batch
 * body.  Pure functions of their arguments (no libmicrohttpd calls), so the
 * fuzz harness tests/fuzz/fuzz_http.c drives exactly the code the server
 * runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"

#define BATCH_MAX 10000

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

/* Whether word is one of the words of list, separated by ',' and ' '
 * ("GET, HEAD", "peek,logs"). */
static int
in_list(const char *list, const char *word)
{
	const char *p = list;
	size_t n, wl = strlen(word);

	while (*p != '\0') {
		n = strcspn(p, ", ");
		if (n == wl && n > 0 && strncmp(p, word, n) == 0)
			return 1;
		p += n;
		p += strspn(p, ", ");
	}
	return 0;
}

const struct route_method *
request_method(const struct route *rt, const char *method)
{
	const struct route_method *m;

	if (rt == NULL)
		return NULL;
	for (m = rt->m; m < rt->m + ROUTE_METHODS && m->methods != NULL; m++)
		if (in_list(m->methods, method))
			return m;
	return NULL;
}

const char *
request_allow(const struct route *rt, char *buf, size_t size)
{
	const struct route_method *m;
	size_t n = 0;
	int k;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	for (m = rt->m; m < rt->m + ROUTE_METHODS && m->methods != NULL; m++) {
		k = snprintf(buf + n, size - n, "%s%s", n > 0 ? ", " : "",
		    m->methods);
		if (k < 0 || (size_t)k >= size - n)
			break;
		n += (size_t)k;
	}
	return buf;
}

int
request_raw(const struct req *r)
{
	return r->method != NULL && r->method->body == BODY_RAW;
}

/* Content type of a body: 0 JSON, 1 NDJSON, -1 refused. */
static int
content_kind(const char *ct, int batch)
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
	if (batch &&
	    ((n == 20 && strncasecmp(ct, "application/x-ndjson", n) == 0) ||
	    (n == 18 && strncasecmp(ct, "application/ndjson", n) == 0) ||
	    (n == 17 && strncasecmp(ct, "application/jsonl", n) == 0)))
		return 1;
	return -1;
}

unsigned
request_check(struct req *r, const char *method, const char *content_type,
    const char *content_length, char *msg, size_t msglen)
{
	char allow[ROUTE_ALLOW_MAX];
	int kind, batch;

	r->method = NULL;
	if (r->route == NULL) {
		snprintf(msg, msglen, "no such route: see man 8 jobspool-apiserver "
		    "for the API");
		return 404;
	}
	r->method = request_method(r->route, method);
	if (r->method == NULL) {
		snprintf(msg, msglen, "method %.32s is not allowed here; use %s",
		    method, request_allow(r->route, allow, sizeof allow));
		return 405;
	}
	if (r->method->body != BODY_JSON && r->method->body != BODY_BATCH)
		return 0;
	batch = r->method->body == BODY_BATCH;
	kind = content_kind(content_type, batch);
	if (kind < 0) {
		snprintf(msg, msglen, "content type must be application/json%s",
		    batch ? " or application/x-ndjson" : "");
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

/* One job of a batch, validated, holding the "id" it will get: its "#N"
 * references to earlier jobs of the batch become their ids (lib/deps).
 * NULL with err and errno. */
static json_t *
batch_job(struct req *r, const json_t *sub, char *err, size_t errlen)
{
	char id[JS_ID_SIZE];
	json_t *res, *v;
	int e;

	res = js_deps_batch_refs(sub, r->nd_jobs, err, errlen);
	if (res == NULL)
		return NULL;
	v = js_job_validate(res, err, errlen);
	e = errno;
	json_decref(res);
	if (v == NULL) {
		errno = e;
		return NULL;
	}
	js_id_new(id);
	if (json_object_set_new(v, "id", json_string(id)) < 0) {
		json_decref(v);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	return v;
}

/* Validates one job of a batch and appends it to r->nd_jobs. */
int
request_take_job(struct req *r, const json_t *sub, size_t n)
{
	char err[256];
	json_t *v;

	if (r->nd_jobs == NULL && (r->nd_jobs = json_array()) == NULL) {
		snprintf(r->nd_err, sizeof r->nd_err, "out of memory");
		r->nd_oom = 1;
		return -1;
	}
	if (json_array_size(r->nd_jobs) >= BATCH_MAX) {
		snprintf(r->nd_err, sizeof r->nd_err, "a batch holds at most %d "
		    "jobs", BATCH_MAX);
		return -1;
	}
	v = batch_job(r, sub, err, sizeof err);
	if (v == NULL) {
		snprintf(r->nd_err, sizeof r->nd_err, "job %zu: %s", n, err);
		r->nd_oom = errno == ENOMEM;
		return -1;
	}
	if (json_array_append_new(r->nd_jobs, v) < 0) {
		snprintf(r->nd_err, sizeof r->nd_err, "out of memory");
		r->nd_oom = 1;
		return -1;
	}
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
		r->nd_oom = errno == ENOMEM;
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
				} else if (r->nd_err[0] == '\0') {
					/* the line is lost: the batch fails */
					snprintf(r->nd_err, sizeof r->nd_err,
					    "out of memory");
					r->nd_oom = 1;
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
				if (r->nd_err[0] == '\0') {
					snprintf(r->nd_err, sizeof r->nd_err,
					    "out of memory");
					r->nd_oom = 1;
				}
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
request_query_allowed(const struct route *rt, const char *method)
{
	const struct route_method *m = request_method(rt, method);

	return m != NULL ? m->query : "";
}

int
request_query_ok(const struct route *rt, const char *method, const char *key)
{
	return in_list(request_query_allowed(rt, method), key);
}
