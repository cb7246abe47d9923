/*
 * libFuzzer harness: the apiserver's request decisions (apiserver/request.c)
 * as the server makes them, without a socket.  The input is
 *
 *   METHOD \n URL-PATH \n CONTENT-TYPE \n CONTENT-LENGTH \n BODY
 *
 * (an empty header line means the header is absent).  The harness routes
 * the path, checks method, content type and length as first_call() does,
 * then reads the body as the route would: a streamed NDJSON batch in chunks
 * of a size taken from the input, or a JSON job validated for submission
 * or update.  It traps on a broken invariant (a status the server never
 * sends, a segment with a '/', a route whose pattern does not spell the
 * path, a batch over its limit, a path request_path_ok accepts with a byte
 * no route can hold).  The route table names the handlers, so it links the
 * whole apiserver but main.o (libapiserver.a), as fuzz_api does.
 *
 * fuzz-make: yes
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../apiserver/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next '\n'-terminated field of the input as a string (NULL if empty);
 * *buf is advanced past it. */
static char *
field(const uint8_t **buf, size_t *left)
{
	const uint8_t *nl = memchr(*buf, '\n', *left);
	size_t n = nl != NULL ? (size_t)(nl - *buf) : *left;
	size_t adv = nl != NULL ? n + 1 : n;
	char *s = NULL;

	if (n > 0 && (s = malloc(n + 1)) != NULL) {
		memcpy(s, *buf, n);	/* a NUL inside ends the string */
		s[n] = '\0';
	}
	*buf += adv;
	*left -= adv;
	return s;
}

/* The path r was routed by spells its route's pattern: each literal
 * segment is the path's, each {capture} is the path's segment at that
 * place and is passed to the handler (r->arg, in order). */
static void
check_pattern(const struct req *r)
{
	const char *p = r->route->pattern;
	int i, narg = 0;
	size_t n;

	if (*p++ != '/')
		__builtin_trap();
	for (i = 0; i < r->nseg; i++) {
		n = strcspn(p, "/");
		if (p[0] == '{') {
			if (narg == ROUTE_ARGS || r->arg[narg++] != r->seg[i])
				__builtin_trap();
		} else if (strlen(r->seg[i]) != n ||
		    memcmp(r->seg[i], p, n) != 0) {
			__builtin_trap();
		}
		p += n;
		if ((*p == '\0') != (i == r->nseg - 1))
			__builtin_trap();	/* more or fewer segments */
		if (*p == '/')
			p++;
	}
	for (; narg < ROUTE_ARGS; narg++)
		if (r->arg[narg] != NULL)
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	size_t left = size, i;
	char *method, *url, *ct, *cl, msg[300], allow[ROUTE_ALLOW_MAX];
	struct req r;
	unsigned status;

	method = field(&p, &left);
	url = field(&p, &left);
	ct = field(&p, &left);
	cl = field(&p, &left);
	if (p > end || left != (size_t)(end - p))
		__builtin_trap();

	/* a path request_path_ok accepts holds no raw byte it refuses */
	if (url != NULL && request_path_ok(url))
		for (i = 0; url[i] != '\0' && url[i] != '?'; i++)
			if ((unsigned char)url[i] <= 0x20 ||
			    (unsigned char)url[i] >= 0x7f)
				__builtin_trap();
	memset(&r, 0, sizeof r);
	r.max_body = 4096;
	routes_match(&r, url != NULL ? url : "");
	if (r.nseg > ROUTE_SEGS)
		__builtin_trap();
	for (i = 0; i < (size_t)r.nseg; i++)
		if (r.seg[i] == NULL || strchr(r.seg[i], '/') != NULL)
			__builtin_trap();
	if (r.route != NULL) {
		if (r.route < routes_table ||
		    r.route >= routes_table + routes_count ||
		    request_allow(r.route, allow, sizeof allow)[0] == '\0')
			__builtin_trap();
		check_pattern(&r);
	}
	status = request_check(&r, method != NULL ? method : "", ct, cl, msg,
	    sizeof msg);
	if (status != 0 && status != 404 && status != 405 && status != 413 &&
	    status != 415)
		__builtin_trap();
	if ((r.route == NULL) != (status == 404))
		__builtin_trap();
	if ((r.method == NULL) != (status == 404 || status == 405))
		__builtin_trap();
	if (status == 0 && r.method->h0 == NULL && r.method->h == NULL &&
	    r.method->h1 == NULL && r.method->h2 == NULL)
		__builtin_trap();	/* nothing to dispatch to */
	if (status != 0 && msg[0] == '\0')
		__builtin_trap();
	if (status == 0 && r.ndjson) {
		/* the body arrives in chunks of 1 to 64 bytes */
		size_t step = left > 0 ? (size_t)(p[0] % 64) + 1 : 1, off = 0;
		while (off < left) {
			size_t n = left - off < step ? left - off : step;
			request_ndjson_feed(&r, (const char *)p + off, n, 0);
			off += n;
		}
		request_ndjson_feed(&r, NULL, 0, 1);
		if (r.nd_jobs != NULL && json_array_size(r.nd_jobs) > 10000)
			__builtin_trap();
		if (r.len > r.max_body)
			__builtin_trap();
	} else if (status == 0 && left > 0 && left <= r.max_body) {
		char err[300];
		json_t *j = js_job_parse((const char *)p, left, err, sizeof err);
		if (j != NULL) {
			json_t *v = js_job_validate(j, err, sizeof err);
			json_decref(v);
			(void)js_job_check_update(j, err, sizeof err);
			if (r.method != NULL &&
			    r.method->body == BODY_BATCH) {
				json_t *list = json_object_get(j, "jobs");
				for (i = 0; json_is_array(list) &&
				    i < json_array_size(list); i++)
					if (request_take_job(&r,
					    json_array_get(list, i), i + 1) < 0)
						break;
			}
			json_decref(j);
		}
	}
	free(r.segbuf);
	free(r.body);
	json_decref(r.nd_jobs);
	free(method);
	free(url);
	free(ct);
	free(cl);
	return 0;
}
