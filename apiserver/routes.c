/*
 * routes.c - the route table: the only place a route is defined.  A row
 * gives the path pattern, who may call it, and for each method it takes:
 * its body, its query parameters and the handler that answers.  Routing
 * (routes_match), 404 and 405 with Allow, the query check, the body checks
 * (request.c) and the dispatch (http.c) all read it; adding a route is
 * adding a row.  The name is for people: tests/integration/matrix.tab
 * calls the route R_ and its name in capitals.
 *
 * A pattern is "/"-separated segments, each a literal or a {capture} that
 * matches any one segment (even an empty one: the handler validates it);
 * the captures are handed to the handler in order (h1: one, h2: two).
 */
#include <string.h>

#include "api.h"

#define GET "GET, HEAD"

const struct route routes_table[] = {
	{ "healthz", "/healthz", ROLE_OPEN, {
		{ GET, "", BODY_NONE, .h0 = route_healthz } } },
	{ "metrics", "/metrics", ROLE_OPEN, {
		{ GET, "", BODY_NONE, .h0 = route_metrics } } },
	/* the status page (ui.c): it asks for the token itself */
	{ "ui", "/", ROLE_OPEN, {
		{ GET, "", BODY_NONE, .h0 = route_ui_index } } },
	{ "ui_file", "/ui/{file}", ROLE_OPEN, {
		{ GET, "", BODY_NONE, .h1 = route_ui_file } } },
	{ "jobs", "/api/v1/jobs", ROLE_TOKEN, {
		{ GET, "status,limit,after,batch,name,label", BODY_NONE,
		    .h = route_jobs_list },
		{ "POST", "", BODY_JSON, .h = route_jobs_post } } },
	{ "job", "/api/v1/jobs/{id}", ROLE_TOKEN, {
		{ GET, "peek,wait", BODY_NONE, .h1 = route_job_get },
		{ "PUT", "", BODY_JSON, .h1 = route_job_put },
		{ "DELETE", "", BODY_NONE, .h1 = route_job_delete } } },
	{ "job_rerun", "/api/v1/jobs/{id}/rerun", ROLE_TOKEN, {
		{ "POST", "", BODY_NONE, .h1 = route_job_rerun } } },
	{ "job_log", "/api/v1/jobs/{id}/log", ROLE_TOKEN, {
		{ GET, "offset,follow,ws,tail,outcome", BODY_NONE,
		    .h1 = route_job_log } } },
	{ "batches", "/api/v1/batches", ROLE_TOKEN, {
		{ "POST", "", BODY_BATCH, .h = route_batches_post } } },
	{ "batch", "/api/v1/batches/{id}", ROLE_TOKEN, {
		{ GET, "peek,logs", BODY_NONE, .h1 = route_batch_get } } },
	{ "batch_log", "/api/v1/batches/{id}/log", ROLE_TOKEN, {
		{ GET, "follow", BODY_NONE, .h1 = route_batch_log } } },
	/* scheduling: processors, pause and resume (routes_sched.c) */
	{ "processors", "/api/v1/processors", ROLE_TOKEN, {
		{ GET, "", BODY_NONE, .h = route_processors } } },
	{ "pause", "/api/v1/pause", ROLE_TOKEN, {
		{ GET, "", BODY_NONE, .h = route_pause_get },
		{ "PUT", "", BODY_NONE, .h = route_pause_put },
		{ "DELETE", "", BODY_NONE, .h = route_pause_delete } } },
	{ "pause_label", "/api/v1/pause/{label}", ROLE_TOKEN, {
		{ "PUT", "", BODY_NONE, .h1 = route_pause_label_put },
		{ "DELETE", "", BODY_NONE, .h1 = route_pause_label_delete } } },
	/* JWTs: minting and revoking (routes_tokens.c) */
	{ "tokens", "/api/v1/tokens", ROLE_TOKEN, {
		{ "POST", "", BODY_JSON, .h = route_tokens_post } } },
	{ "token", "/api/v1/tokens/{jti}", ROLE_TOKEN, {
		{ "DELETE", "", BODY_NONE, .h1 = route_token_delete } } },
	/* the demo routes */
	{ "add", "/api/v1/add/{x}/{y}", ROLE_TOKEN, {
		{ "POST", "", BODY_NONE, .h2 = route_add } } },
	{ "demo_job", "/api/v1/job/{id}", ROLE_TOKEN, {
		{ GET, "peek", BODY_NONE, .h1 = route_job_get } } },
	/* remote processors (man 8 jobspool-apiserver, WORKER ROUTES) */
	{ "w_claim", "/api/v1/workers/claim", ROLE_WORKER, {
		{ "POST", "", BODY_JSON, .h = route_worker_claim } } },
	{ "w_log", "/api/v1/workers/jobs/{id}/log", ROLE_WORKER, {
		{ "POST", "token,offset", BODY_RAW, .h = worker_log_end,
		    .begin = worker_log_begin, .feed = worker_log_feed } } },
	{ "w_heartbeat", "/api/v1/workers/jobs/{id}/heartbeat", ROLE_WORKER, {
		{ "POST", "", BODY_JSON, .h1 = route_worker_heartbeat } } },
	{ "w_finish", "/api/v1/workers/jobs/{id}/finish", ROLE_WORKER, {
		{ "POST", "", BODY_JSON, .h1 = route_worker_finish } } },
};
const size_t routes_count = sizeof routes_table / sizeof routes_table[0];

/* Whether the segments of r match pattern; fills r->arg with its
 * captures. */
static int
match(struct req *r, const char *pattern)
{
	const char *p = pattern + 1, *e;
	int i, narg = 0;
	size_t n;

	for (i = 0; ; i++) {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (i == r->nseg)
			return 0;	/* the path is shorter */
		if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
			if (narg == ROUTE_ARGS)
				return 0;
			r->arg[narg++] = r->seg[i];
		} else if (strlen(r->seg[i]) != n ||
		    strncmp(r->seg[i], p, n) != 0) {
			return 0;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return i + 1 == r->nseg;	/* not if the path is longer */
}

int
routes_match(struct req *r, const char *url)
{
	size_t len = strlen(url), i;
	char *p, *s;

	r->route = NULL;
	if (len > ROUTE_PATH_MAX || url[0] != '/')
		return 0;
	r->segbuf = strdup(url + 1);
	if (r->segbuf == NULL)
		return -1;
	len = strlen(r->segbuf);
	if (len > 0 && r->segbuf[len - 1] == '/')
		r->segbuf[len - 1] = '\0';	/* one trailing '/' is ignored */
	for (p = r->segbuf; ; ) {
		if (r->nseg == ROUTE_SEGS)
			return 0;	/* longer than every route */
		s = strchr(p, '/');
		r->seg[r->nseg++] = p;
		if (s == NULL)
			break;
		*s = '\0';
		p = s + 1;
	}
	for (i = 0; i < routes_count; i++) {
		r->arg[0] = r->arg[1] = NULL;
		if (match(r, routes_table[i].pattern)) {
			r->route = &routes_table[i];
			return 0;
		}
	}
	r->arg[0] = r->arg[1] = NULL;
	return 0;
}
