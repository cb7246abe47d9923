/* Unit tests for apiserver/routes.c and request.c: the route table and
 * path matching, request_path_ok, the query parameters each route takes,
 * request_check's statuses and the streamed NDJSON batch body. */
#include "testutil.h"
#include "../../apiserver/api.h"

/* A request routed by url, as first_call routes it. */
static struct req *
routed(const char *url)
{
	struct req *r = calloc(1, sizeof *r);

	assert_non_null(r);
	r->max_body = 1024;
	routes_match(r, url);
	return r;
}

static void
req_free(struct req *r)
{
	free(r->segbuf);
	free(r->body);
	json_decref(r->nd_jobs);
	free(r);
}

/* Every route, reached by a path of its own, with its captures. */
static const struct {
	const char *url, *pattern, *arg0, *arg1;
} paths[] = {
	{ "/healthz", "/healthz", NULL, NULL },
	{ "/metrics", "/metrics", NULL, NULL },
	{ "/", "/", NULL, NULL },
	{ "/ui/app.js", "/ui/{file}", "app.js", NULL },
	{ "/api/v1/jobs", "/api/v1/jobs", NULL, NULL },
	{ "/api/v1/jobs/J1", "/api/v1/jobs/{id}", "J1", NULL },
	{ "/api/v1/jobs/J1/rerun", "/api/v1/jobs/{id}/rerun", "J1", NULL },
	{ "/api/v1/jobs/J1/log", "/api/v1/jobs/{id}/log", "J1", NULL },
	{ "/api/v1/batches", "/api/v1/batches", NULL, NULL },
	{ "/api/v1/batches/B1", "/api/v1/batches/{id}", "B1", NULL },
	{ "/api/v1/batches/B1/log", "/api/v1/batches/{id}/log", "B1", NULL },
	{ "/api/v1/processors", "/api/v1/processors", NULL, NULL },
	{ "/api/v1/pause", "/api/v1/pause", NULL, NULL },
	{ "/api/v1/pause/gpu", "/api/v1/pause/{label}", "gpu", NULL },
	{ "/api/v1/tokens", "/api/v1/tokens", NULL, NULL },
	{ "/api/v1/tokens/T1", "/api/v1/tokens/{jti}", "T1", NULL },
	{ "/api/v1/add/2/3", "/api/v1/add/{x}/{y}", "2", "3" },
	{ "/api/v1/job/J2", "/api/v1/job/{id}", "J2", NULL },
	{ "/api/v1/workers/claim", "/api/v1/workers/claim", NULL, NULL },
	{ "/api/v1/workers/jobs/J3/log", "/api/v1/workers/jobs/{id}/log", "J3",
	    NULL },
	{ "/api/v1/workers/jobs/J3/heartbeat",
	    "/api/v1/workers/jobs/{id}/heartbeat", "J3", NULL },
	{ "/api/v1/workers/jobs/J3/finish", "/api/v1/workers/jobs/{id}/finish",
	    "J3", NULL },
};
#define NPATHS (sizeof paths / sizeof paths[0])

static void
check_args(const struct req *r, const char *a0, const char *a1)
{
	if (a0 == NULL)
		assert_null(r->arg[0]);
	else
		assert_string_equal(r->arg[0], a0);
	if (a1 == NULL)
		assert_null(r->arg[1]);
	else
		assert_string_equal(r->arg[1], a1);
}

static void
test_route_every(void **state)
{
	size_t i, j, seen;
	char url[128];
	struct req *r;

	(void)state;
	for (i = 0; i < NPATHS; i++) {
		r = routed(paths[i].url);
		assert_non_null(r->route);
		assert_string_equal(r->route->pattern, paths[i].pattern);
		check_args(r, paths[i].arg0, paths[i].arg1);
		req_free(r);
		/* one trailing '/' routes the same */
		snprintf(url, sizeof url, "%s/", paths[i].url);
		r = routed(url);
		assert_non_null(r->route);
		assert_string_equal(r->route->pattern, paths[i].pattern);
		check_args(r, paths[i].arg0, paths[i].arg1);
		req_free(r);
	}
	/* every row of the table is reached by exactly one of the paths
	 * above: a new row needs a line here */
	for (j = 0; j < routes_count; j++) {
		seen = 0;
		for (i = 0; i < NPATHS; i++)
			if (strcmp(routes_table[j].pattern, paths[i].pattern) == 0)
				seen++;
		assert_int_equal(seen, 1);
	}
	assert_int_equal(routes_count, NPATHS);
}

static void
test_route_roles(void **state)
{
	size_t j;
	const struct route *rt;
	int open = 0, worker = 0;

	(void)state;
	for (j = 0; j < routes_count; j++) {
		rt = &routes_table[j];
		if (rt->role == ROLE_OPEN)
			open++;
		/* /api/v1/workers/ and nothing else needs the worker role */
		assert_int_equal(rt->role == ROLE_WORKER,
		    strncmp(rt->pattern, "/api/v1/workers/", 16) == 0);
		worker += rt->role == ROLE_WORKER;
		if (strncmp(rt->pattern, "/api/", 5) == 0)
			assert_int_not_equal(rt->role, ROLE_OPEN);
	}
	assert_int_equal(open, 4);	/* /healthz, /metrics, / and /ui/{file} */
	assert_int_equal(worker, 4);
}

static void
test_route_near_miss(void **state)
{
	static const char *none[] = {
		"", "healthz", "/healthz//", "/healthz/x", "/HEALTHZ", "/ui",
		"/ui/a/b", "/UI/app.js", "/index.html",
		"/api", "/api/v1", "/api/v2/jobs", "/API/v1/jobs", "/api/v1/job",
		"/api/v1/jobs/J1/log/x", "/api/v1/jobs/J1/logs",
		"/api/v1/jobs/J1//", "/api/v1/batches/B1/log/x",
		"/api/v1/jobs/J1/rerun/x", "/api/v1/jobs/rerun/J1",
		"/api/v1/add/1", "/api/v1/add/1/2/3", "/api/v1/workers",
		"/api/v1/workers/claim/x", "/api/v1/workers/jobs/J3",
		"/api/v1/workers/jobs/J3/cancel", "/api/v1/workers/jobs/J3/log/x",
		"/api/v1/workers/x/J3/log", "/x/v1/jobs", "/api/v1/jobsx",
		"/api/v1/jobs%2FJ1", "api/v1/jobs", " /api/v1/jobs",
		"/api/v1/jobs/J1/log?x", "/a/b/c/d/e/f/g/h",
	};
	char url[600];
	struct req *r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof none / sizeof none[0]; i++) {
		r = routed(none[i]);
		if (r->route != NULL)
			fail_msg("'%s' routed to %s", none[i], r->route->pattern);
		assert_null(r->arg[0]);
		assert_null(r->arg[1]);
		assert_true(r->nseg <= ROUTE_SEGS);
		req_free(r);
	}

	/* an empty id is routed; the handler refuses it */
	r = routed("/api/v1/jobs//log");
	assert_non_null(r->route);
	assert_string_equal(r->route->pattern, "/api/v1/jobs/{id}/log");
	assert_string_equal(r->arg[0], "");
	req_free(r);
	r = routed("/api/v1/jobs//");	/* the trailing '/' goes, one '/' stays */
	assert_non_null(r->route);
	assert_string_equal(r->route->pattern, "/api/v1/jobs/{id}");
	assert_string_equal(r->arg[0], "");
	req_free(r);
	r = routed("/api/v1/add//");
	assert_null(r->route);
	req_free(r);

	/* routing sees the decoded path: a '%' escape left in it is part of
	 * the id, never a '/' */
	r = routed("/api/v1/jobs/a%2Fb/log");
	assert_non_null(r->route);
	assert_string_equal(r->route->pattern, "/api/v1/jobs/{id}/log");
	assert_string_equal(r->arg[0], "a%2Fb");
	req_free(r);

	/* a path of ROUTE_PATH_MAX bytes is routed, one byte more is not */
	strcpy(url, "/api/v1/jobs/");
	memset(url + 13, 'a', ROUTE_PATH_MAX - 13);
	url[ROUTE_PATH_MAX] = '\0';
	r = routed(url);
	assert_non_null(r->route);
	assert_string_equal(r->route->pattern, "/api/v1/jobs/{id}");
	assert_int_equal(strlen(r->arg[0]), ROUTE_PATH_MAX - 13);
	req_free(r);
	url[ROUTE_PATH_MAX] = 'a';
	url[ROUTE_PATH_MAX + 1] = '\0';
	r = routed(url);
	assert_null(r->route);
	req_free(r);

	/* seven segments stop the split at ROUTE_SEGS */
	r = routed("/api/v1/workers/jobs/J3/log/x");
	assert_null(r->route);
	assert_int_equal(r->nseg, ROUTE_SEGS);
	req_free(r);
}

static void
test_path_ok(void **state)
{
	static const char *ok[] = {
		"/", "/api/v1/jobs", "/api/v1/jobs/a%2Fb", "/a%7e", "/a%41%42",
		"/x?y z", "/x?%", "/x?\x01", "/~!$&'()*+,;=:@", "",
	};
	static const char *bad[] = {
		"/a b", "/a%20b", "/a%00", "/a%0a", "/a%7f", "/a%7F", "/a%ff",
		"/a%", "/a%2", "/a%g0", "/a%0g", "/a%%41", "/a\t", "/a\x7f",
		"/a\x80", "/a\xff?x", "/%2", "/a%2?",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (!request_path_ok(ok[i]))
			fail_msg("'%s' refused", ok[i]);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (request_path_ok(bad[i]))
			fail_msg("'%s' accepted", bad[i]);
}

/* request_query_ok of each key of the comma-separated yes (and none of
 * no) on url with method; request_query_allowed is exactly yes. */
static void
query_is(const char *url, const char *method, const char *yes,
    const char *no)
{
	struct req *r = routed(url);
	char keys[128], *k, *save;

	assert_non_null(r->route);
	assert_string_equal(request_query_allowed(r->route, method), yes);
	snprintf(keys, sizeof keys, "%s", yes);
	for (k = strtok_r(keys, ",", &save); k; k = strtok_r(NULL, ",", &save))
		if (!request_query_ok(r->route, method, k))
			fail_msg("%s %s: '%s' refused", method, url, k);
	snprintf(keys, sizeof keys, "%s", no);
	for (k = strtok_r(keys, ",", &save); k; k = strtok_r(NULL, ",", &save))
		if (request_query_ok(r->route, method, k))
			fail_msg("%s %s: '%s' accepted", method, url, k);
	req_free(r);
}

static void
test_query(void **state)
{
	(void)state;
	query_is("/healthz", "GET", "", "x,peek");
	query_is("/metrics", "GET", "", "x");
	query_is("/api/v1/jobs", "GET", "status,limit,after,batch,name,label",
	    "peek,stat,statuss,Status,offset");
	query_is("/api/v1/jobs", "HEAD", "status,limit,after,batch,name,label",
	    "peek");
	query_is("/api/v1/jobs", "POST", "", "status,limit");
	query_is("/api/v1/jobs/J1", "GET", "peek,wait", "peak,logs,offset,waits");
	query_is("/api/v1/jobs/J1", "HEAD", "peek,wait", "logs");
	query_is("/api/v1/jobs/J1", "PUT", "", "peek");
	query_is("/api/v1/jobs/J1", "DELETE", "", "peek");
	query_is("/api/v1/jobs/J1/rerun", "POST", "", "peek");
	query_is("/api/v1/jobs/J1/log", "GET", "offset,follow,ws,tail,outcome",
	    "folow,peek,token,wait");
	query_is("/api/v1/batches", "POST", "", "peek");
	query_is("/api/v1/batches/B1", "GET", "peek,logs", "follow,log");
	query_is("/api/v1/batches/B1/log", "GET", "follow", "offset,tail");
	query_is("/api/v1/add/1/2", "POST", "", "x");
	query_is("/api/v1/job/J2", "GET", "peek", "logs,wait");
	query_is("/api/v1/workers/claim", "POST", "", "token");
	query_is("/api/v1/workers/jobs/J3/log", "POST", "token,offset",
	    "follow,tail");
	query_is("/api/v1/workers/jobs/J3/heartbeat", "POST", "", "token");
	query_is("/api/v1/workers/jobs/J3/finish", "POST", "", "token");
	/* a method the route does not take, or no route: nothing */
	query_is("/api/v1/jobs/J1", "POST", "", "peek");
	query_is("/api/v1/jobs", "PUT", "", "status");
	assert_string_equal(request_query_allowed(NULL, "GET"), "");
	assert_false(request_query_ok(NULL, "GET", "peek"));
	{
		struct req *r = routed("/api/v1/jobs");
		/* the empty key and list punctuation are no parameter */
		assert_false(request_query_ok(r->route, "GET", ""));
		assert_false(request_query_ok(r->route, "GET", ","));
		assert_false(request_query_ok(r->route, "GET", "status,limit"));
		assert_false(request_query_ok(r->route, "GET", "status "));
		assert_false(request_query_ok(r->route, "GET", " status"));
		assert_false(request_query_ok(r->route, "GET", "name\n"));
		req_free(r);
	}
}

/* request_check of method on url with the headers given: its status, and
 * msg containing want (if not NULL). */
static unsigned
check(const char *url, const char *method, const char *ct, const char *cl,
    const char *want, struct req **out)
{
	struct req *r = routed(url);
	char msg[300] = "";
	unsigned st;

	st = request_check(r, method, ct, cl, msg, sizeof msg);
	if (want != NULL && strstr(msg, want) == NULL)
		fail_msg("%s %s: '%s' lacks '%s'", method, url, msg, want);
	if (st != 0)
		assert_true(msg[0] != '\0');
	if (out != NULL)
		*out = r;
	else
		req_free(r);
	return st;
}

static void
test_check_404_405(void **state)
{
	struct req *r;
	char allow[ROUTE_ALLOW_MAX];

	(void)state;
	assert_int_equal(check("/nope", "GET", NULL, NULL, "no such route",
	    &r), 404);
	assert_null(r->method);
	req_free(r);
	assert_int_equal(check("/api/v1/jobs/J1", "PATCH", NULL, NULL,
	    "method PATCH is not allowed here; use GET, HEAD, PUT, DELETE",
	    &r), 405);
	assert_null(r->method);
	req_free(r);
	/* methods are whole words, case-sensitive */
	assert_int_equal(check("/api/v1/jobs", "GE", NULL, NULL, NULL, NULL),
	    405);
	assert_int_equal(check("/api/v1/jobs", "get", NULL, NULL, NULL, NULL),
	    405);
	assert_int_equal(check("/api/v1/jobs", "", NULL, NULL, NULL, NULL),
	    405);
	assert_int_equal(check("/api/v1/jobs", "GET, HEAD", NULL, NULL, NULL,
	    NULL), 405);
	assert_int_equal(check("/api/v1/jobs", "DELETE", NULL, NULL,
	    "use GET, HEAD, POST", NULL), 405);
	assert_int_equal(check("/healthz", "POST", NULL, NULL, "use GET, HEAD",
	    NULL), 405);
	assert_int_equal(check("/api/v1/batches", "GET", NULL, NULL,
	    "use POST", NULL), 405);
	assert_int_equal(check("/api/v1/jobs/J1/rerun", "GET", NULL, NULL,
	    "use POST", NULL), 405);
	assert_int_equal(check("/api/v1/workers/jobs/J3/log", "GET", NULL,
	    NULL, "use POST", NULL), 405);
	/* and each method taken goes on, with its entry */
	assert_int_equal(check("/api/v1/jobs/J1", "DELETE", NULL, NULL, NULL,
	    &r), 0);
	assert_non_null(r->method);
	assert_non_null(r->method->h1);
	assert_string_equal(r->method->methods, "DELETE");
	req_free(r);
	assert_int_equal(check("/api/v1/jobs/J1", "HEAD", NULL, NULL, NULL,
	    &r), 0);
	assert_string_equal(r->method->methods, "GET, HEAD");
	assert_ptr_equal(r->method->h1, r->route->m[0].h1);
	req_free(r);

	/* Allow lists each route's methods */
	r = routed("/api/v1/jobs");
	assert_string_equal(request_allow(r->route, allow, sizeof allow),
	    "GET, HEAD, POST");
	assert_string_equal(request_allow(r->route, allow, 10), "GET, HEAD");
	req_free(r);
	r = routed("/api/v1/add/1/2");
	assert_string_equal(request_allow(r->route, allow, sizeof allow),
	    "POST");
	req_free(r);
}

static void
test_check_415_413(void **state)
{
	struct req *r;

	(void)state;
	/* JSON bodies: the type is checked */
	assert_int_equal(check("/api/v1/jobs", "POST", "text/plain", NULL,
	    "content type must be application/json", &r), 415);
	assert_int_equal(r->ndjson, 0);
	req_free(r);
	assert_int_equal(check("/api/v1/jobs", "POST", "application/x-ndjson",
	    NULL, NULL, NULL), 415);
	assert_int_equal(check("/api/v1/jobs/J1", "PUT", "application/jsonx",
	    NULL, NULL, NULL), 415);
	assert_int_equal(check("/api/v1/workers/claim", "POST", "text/json",
	    NULL, NULL, NULL), 415);
	assert_int_equal(check("/api/v1/jobs", "POST",
	    " Application/JSON; charset=utf-8", NULL, NULL, NULL), 0);
	assert_int_equal(check("/api/v1/jobs", "POST",
	    "application/x-www-form-urlencoded", NULL, NULL, NULL), 0);
	assert_int_equal(check("/api/v1/jobs", "POST", NULL, NULL, NULL, NULL),
	    0);
	assert_int_equal(check("/api/v1/jobs", "POST", "", NULL, NULL, NULL),
	    0);
	/* a batch may be NDJSON too */
	assert_int_equal(check("/api/v1/batches", "POST", "text/plain", NULL,
	    "application/json or application/x-ndjson", NULL), 415);
	assert_int_equal(check("/api/v1/batches", "POST", "application/json",
	    NULL, NULL, &r), 0);
	assert_int_equal(r->ndjson, 0);
	req_free(r);
	assert_int_equal(check("/api/v1/batches", "POST",
	    "application/x-ndjson", NULL, NULL, &r), 0);
	assert_int_equal(r->ndjson, 1);
	req_free(r);
	assert_int_equal(check("/api/v1/batches", "POST", "application/ndjson",
	    NULL, NULL, &r), 0);
	assert_int_equal(r->ndjson, 1);
	req_free(r);
	assert_int_equal(check("/api/v1/batches", "POST", "application/jsonl",
	    NULL, NULL, &r), 0);
	assert_int_equal(r->ndjson, 1);
	req_free(r);
	/* no type check where no JSON body is taken */
	assert_int_equal(check("/api/v1/jobs", "GET", "text/plain", "99999",
	    NULL, NULL), 0);
	assert_int_equal(check("/api/v1/jobs/J1", "DELETE", "text/plain",
	    "99999", NULL, NULL), 0);
	assert_int_equal(check("/api/v1/add/1/2", "POST", "text/plain",
	    "99999", NULL, NULL), 0);

	/* the declared length against max_body (1024) */
	assert_int_equal(check("/api/v1/jobs", "POST", NULL, "1024", NULL,
	    NULL), 0);
	assert_int_equal(check("/api/v1/jobs", "POST", NULL, "1025",
	    "larger than the limit of 1024 bytes", NULL), 413);
	assert_int_equal(check("/api/v1/jobs/J1", "PUT", "application/json",
	    "99999999999999999999", NULL, NULL), 413);
	assert_int_equal(check("/api/v1/jobs", "POST", NULL, "-1", NULL, NULL),
	    413);
	assert_int_equal(check("/api/v1/jobs", "POST", NULL, "12x", NULL,
	    NULL), 413);
	/* the type is checked before the length */
	assert_int_equal(check("/api/v1/jobs", "POST", "text/plain", "99999",
	    NULL, NULL), 415);
	/* an NDJSON batch is limited per line, not as a whole */
	assert_int_equal(check("/api/v1/batches", "POST",
	    "application/x-ndjson", "99999", NULL, NULL), 0);
	assert_int_equal(check("/api/v1/batches", "POST", "application/json",
	    "99999", NULL, NULL), 413);
}

static void
test_check_raw(void **state)
{
	struct req *r;

	(void)state;
	/* a worker's log upload: any type, any length, streamed */
	assert_int_equal(check("/api/v1/workers/jobs/J3/log", "POST",
	    "application/octet-stream", "99999999", NULL, &r), 0);
	assert_true(request_raw(r));
	assert_non_null(r->method->begin);
	assert_non_null(r->method->feed);
	assert_non_null(r->method->h);
	req_free(r);
	assert_int_equal(check("/api/v1/jobs", "POST", NULL, NULL, NULL, &r),
	    0);
	assert_false(request_raw(r));
	req_free(r);
	/* before request_check (and after a 405) nothing is raw */
	r = routed("/api/v1/workers/jobs/J3/log");
	assert_false(request_raw(r));
	req_free(r);
	assert_int_equal(check("/api/v1/workers/jobs/J3/log", "PUT", NULL,
	    NULL, NULL, &r), 405);
	assert_false(request_raw(r));
	req_free(r);
}

#define JOB "{\"command\": [\"echo\", \"hi\"]}"

static struct req *
batch(size_t max_body)
{
	struct req *r = routed("/api/v1/batches");

	r->max_body = max_body;
	r->ndjson = 1;
	return r;
}

static void
feed_str(struct req *r, const char *s, int last)
{
	request_ndjson_feed(r, s, strlen(s), last);
}

static size_t
njobs(const struct req *r)
{
	return r->nd_jobs != NULL ? json_array_size(r->nd_jobs) : 0;
}

static void
test_ndjson_lines(void **state)
{
	static const char body[] = JOB "\n" JOB "\n" JOB;
	struct req *r;
	size_t i, step;

	(void)state;
	/* whole, and in pieces of every size from 1 byte: the same 3 jobs */
	for (step = 1; step <= sizeof body; step++) {
		r = batch(1024);
		for (i = 0; i < sizeof body - 1; i += step)
			request_ndjson_feed(r, body + i,
			    sizeof body - 1 - i < step ? sizeof body - 1 - i :
			    step, 0);
		assert_int_equal(njobs(r), 2);	/* the last line is not ended */
		request_ndjson_feed(r, NULL, 0, 1);
		assert_int_equal(njobs(r), 3);
		assert_string_equal(r->nd_err, "");
		assert_string_equal(json_string_value(json_array_get(
		    json_object_get(json_array_get(r->nd_jobs, 2), "command"),
		    1)), "hi");
		req_free(r);
	}

	/* empty and blank lines, CRLF and surrounding blanks are skipped but
	 * counted for the line numbers of errors */
	r = batch(1024);
	feed_str(r, "\n\r\n  \t \n " JOB " \r\n\n", 0);
	feed_str(r, "\t" JOB "\r\n", 1);
	assert_int_equal(njobs(r), 2);
	assert_string_equal(r->nd_err, "");
	assert_int_equal(r->nd_line, 6);
	req_free(r);

	/* no line at all: no job and no error (the route answers) */
	r = batch(1024);
	feed_str(r, "\n\n", 1);
	assert_int_equal(njobs(r), 0);
	assert_string_equal(r->nd_err, "");
	req_free(r);
}

static void
test_ndjson_errors(void **state)
{
	struct req *r;
	char big[200];

	(void)state;
	/* the first bad line is reported by number; later lines are not
	 * taken */
	r = batch(1024);
	feed_str(r, JOB "\n\nnot json\n" JOB "\n{\"x\n", 1);
	assert_int_equal(njobs(r), 1);
	assert_true(strncmp(r->nd_err, "line 3: ", 8) == 0);
	req_free(r);

	/* JSON that is no valid job: "job N" */
	r = batch(1024);
	feed_str(r, JOB "\n{\"command\": [\"x\"], \"bogus\": 1}\n", 1);
	assert_int_equal(njobs(r), 1);
	assert_true(strncmp(r->nd_err, "job 2: ", 7) == 0);
	assert_non_null(strstr(r->nd_err, "bogus"));
	req_free(r);

	/* a line over max_body, arriving in pieces: refused, the buffer never
	 * grows past the limit, the lines before it are kept */
	r = batch(64);
	feed_str(r, JOB "\n", 0);
	memset(big, ' ', sizeof big);
	memcpy(big, "{\"command\": [\"", 14);
	big[sizeof big - 1] = '\0';
	feed_str(r, big, 0);
	assert_true(r->len <= r->max_body);
	feed_str(r, big, 0);
	assert_true(r->len <= r->max_body);
	feed_str(r, "\n" JOB "\n", 1);
	assert_int_equal(njobs(r), 1);
	assert_string_equal(r->nd_err,
	    "line 2 is longer than the limit of 64 bytes");
	req_free(r);

	/* a line of exactly max_body bytes is taken, split or not */
	r = batch(strlen(JOB));
	feed_str(r, "{\"command\": ", 0);
	feed_str(r, "[\"echo\", \"hi\"]}\n", 1);
	assert_int_equal(njobs(r), 1);
	assert_string_equal(r->nd_err, "");
	req_free(r);
	r = batch(strlen(JOB) - 1);
	feed_str(r, "{\"command\": ", 0);
	feed_str(r, "[\"echo\", \"hi\"]}\n", 1);
	assert_int_equal(njobs(r), 0);
	assert_true(strncmp(r->nd_err, "line 1 is longer", 16) == 0);
	req_free(r);
}

static void
test_take_job_limit(void **state)
{
	struct req *r = batch(1024);
	json_t *job = json_loads(JOB, 0, NULL);
	size_t i;

	(void)state;
	assert_non_null(job);
	for (i = 1; i <= 10000; i++)
		if (request_take_job(r, job, i) < 0)
			fail_msg("job %zu refused: %s", i, r->nd_err);
	assert_int_equal(request_take_job(r, job, 10001), -1);
	assert_string_equal(r->nd_err, "a batch holds at most 10000 jobs");
	assert_int_equal(njobs(r), 10000);
	json_decref(job);
	req_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_every),
		cmocka_unit_test(test_route_roles),
		cmocka_unit_test(test_route_near_miss),
		cmocka_unit_test(test_path_ok),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_check_404_405),
		cmocka_unit_test(test_check_415_413),
		cmocka_unit_test(test_check_raw),
		cmocka_unit_test(test_ndjson_lines),
		cmocka_unit_test(test_ndjson_errors),
		cmocka_unit_test(test_take_job_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
