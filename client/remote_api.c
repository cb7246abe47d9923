/* remote_api.c - remote mode: each backend operation as requests to the
 * apiserver's routes (man 8 jobspool-apiserver).  Waiting is the long
 * poll GET /api/v1/jobs/{id}?wait=; a follow is GET .../log?follow=1,
 * resumed at the bytes already written when the stream is cut (an
 * apiserver restart); requests that get no answer at all are tried again
 * for up to a minute. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "local.h"
#include "remote.h"
#include "sched.h"
#include "util.h"

#define RETRY_MS 60000		/* how long a wait or follow tries again */
#define WAIT_MAX_S 600		/* one long poll; the server allows 3600 */

static int
r_submit(struct cl_ctx *ctx, const json_t *sub, const char *idem,
    json_t **job)
{
	char *body = js_json_dumps(sub, JSON_COMPACT, NULL, NULL);
	struct rq rq = { .method = "POST", .path = "/api/v1/jobs",
	    .body = body, .idem = idem, .timeout_s = 60 };
	int rc;

	if (body == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "out of memory");
		return -1;
	}
	rc = cl_http_json(ctx, &rq, job);
	free(body);
	return rc;
}

static int
r_batch(struct cl_ctx *ctx, const json_t *subs, json_t **out)
{
	json_t *b = json_pack("{s:O}", "jobs", subs);
	char *body = b ? js_json_dumps(b, JSON_COMPACT, NULL, NULL) : NULL;
	struct rq rq = { .method = "POST", .path = "/api/v1/batches",
	    .body = body, .timeout_s = 120 };
	int rc = -1;

	json_decref(b);
	if (body == NULL)
		snprintf(ctx->err, sizeof ctx->err, "out of memory");
	else
		rc = cl_http_json(ctx, &rq, out);
	free(body);
	return rc;
}

/* A request on one job: /api/v1/jobs/ID then tail ("?peek=1"...). */
static int
job_rq(struct cl_ctx *ctx, const char *method, const char *id,
    const char *tail, const char *body, json_t **out)
{
	char path[256];
	struct rq rq = { .method = method, .path = path, .body = body,
	    .timeout_s = 60 };

	snprintf(path, sizeof path, "/api/v1/jobs/%s%s", id, tail);
	return cl_http_json(ctx, &rq, out);
}

static int
r_get(struct cl_ctx *ctx, const char *id, json_t **job)
{
	return job_rq(ctx, "GET", id, "?peek=1", NULL, job);
}

/* Whether a failed request may be tried again (no answer came) and there
 * is time left since *since (set at the first failure); sleeps a bit. */
static int
retry(struct rq *rq, int64_t *since)
{
	if (rq->status != 0)
		return 0;
	if (*since == 0)
		*since = js_mono_ms();
	if (js_mono_ms() - *since > RETRY_MS)
		return 0;
	usleep(300000);
	return 1;
}

static int
r_wait(struct cl_ctx *ctx, const char *id, int64_t timeout_ms, json_t **job,
    int *final)
{
	int64_t deadline = js_mono_ms() + timeout_ms, since = 0, left;
	char path[256];

	for (;;) {
		struct rq rq = { .method = "GET", .path = path };
		left = timeout_ms < 0 ? WAIT_MAX_S * 1000LL :
		    deadline - js_mono_ms();
		if (left < 0)
			left = 0;
		if (left > WAIT_MAX_S * 1000LL)
			left = WAIT_MAX_S * 1000LL;
		rq.timeout_s = (long)(left / 1000) + 30;
		snprintf(path, sizeof path, "/api/v1/jobs/%s?wait=%lld", id,
		    (long long)((left + 999) / 1000));
		if (cl_http_json(ctx, &rq, job) < 0) {
			if (retry(&rq, &since))
				continue;
			return -1;
		}
		since = 0;
		*final = cl_job_exit(*job) != CL_EXIT_PENDING;
		if (*final || (timeout_ms >= 0 && js_mono_ms() >= deadline))
			return 0;
		json_decref(*job);
	}
}

/* One log request from *off (follow or not); *off moves on by what was
 * written.  0 when the answer ended, -1 (rq.status 0: no answer). */
static int
log_once(struct cl_ctx *ctx, const char *id, long long *off, int follow,
    FILE *out, long *status)
{
	char path[256];
	struct rq rq = { .method = "GET", .path = path, .stream = out,
	    .timeout_s = follow ? 0 : 300 };
	int rc;

	snprintf(path, sizeof path, "/api/v1/jobs/%s/log?offset=%lld%s", id,
	    *off, follow ? "&follow=1" : "");
	rc = cl_http(ctx, &rq);
	*off += rq.streamed;
	*status = rq.status;
	js_buf_free(&rq.body_out);
	return rc;
}

/* Whether job id is final: 0 and *fin, 1 if no answer came, -1 on an
 * error answer (ctx->err). */
static int
peek_final(struct cl_ctx *ctx, const char *id, int *fin)
{
	char path[256];
	struct rq rq = { .method = "GET", .path = path, .timeout_s = 60 };
	json_t *job;

	snprintf(path, sizeof path, "/api/v1/jobs/%s?peek=1", id);
	if (cl_http_json(ctx, &rq, &job) < 0)
		return rq.status == 0 ? 1 : -1;
	*fin = cl_job_exit(job) != CL_EXIT_PENDING;
	json_decref(job);
	return 0;
}

static int
r_log(struct cl_ctx *ctx, const char *id, long long offset, int follow,
    FILE *out)
{
	int64_t since = 0;
	long status;
	int rc, fin = 0;

	for (;;) {
		rc = log_once(ctx, id, &offset, follow, out, &status);
		if (!follow || (rc < 0 && status >= 300))
			return rc;
		/* the stream ended: the job's end, or a cut (a restart) */
		rc = rc == 0 || status != 0 ? peek_final(ctx, id, &fin) : 1;
		if (rc < 0)
			return -1;
		if (rc == 0 && fin)	/* what came after the stream's end */
			return log_once(ctx, id, &offset, 0, out, &status);
		if (rc == 0)
			since = 0;
		else if (since == 0)
			since = js_mono_ms();
		else if (js_mono_ms() - since > RETRY_MS)
			return -1;
		usleep(300000);
	}
}

static int
r_batch_log(struct cl_ctx *ctx, const json_t *batch, FILE *out)
{
	const char *cid = js_job_str(batch, "correlation_id");
	char path[256];
	struct rq rq = { .method = "GET", .path = path, .stream = out };
	int rc;

	if (cid == NULL || !js_id_valid(cid)) {
		snprintf(ctx->err, sizeof ctx->err, "the server's answer has no "
		    "correlation_id");
		return -1;
	}
	snprintf(path, sizeof path, "/api/v1/batches/%s/log?follow=1", cid);
	rc = cl_http(ctx, &rq);
	js_buf_free(&rq.body_out);
	return rc;
}

/* The query of ls (status, name, batch) after "?limit=1000". */
static int
list_query(struct cl_ctx *ctx, const struct cl_filter *f, char *q,
    size_t qlen)
{
	const char *keys[3] = { "status", "name", "batch" };
	const char *vals[3] = { f->state, f->name, f->batch };
	size_t i;

	snprintf(q, qlen, "/api/v1/jobs?limit=1000");
	for (i = 0; i < 3; i++) {
		char *e;
		if (vals[i] == NULL)
			continue;
		if ((e = cl_http_escape(ctx, vals[i])) == NULL)
			return -1;
		snprintf(q + strlen(q), qlen - strlen(q), "&%s=%s", keys[i], e);
		curl_free(e);
	}
	return 0;
}

static int
r_list(struct cl_ctx *ctx, const struct cl_filter *f, json_t **jobs)
{
	char q[1024], path[1200], *next = NULL;
	json_t *page, *j;
	size_t i;

	if (list_query(ctx, f, q, sizeof q) < 0)
		return -1;
	*jobs = json_array();
	for (;;) {
		struct rq rq = { .method = "GET", .path = path, .timeout_s = 60 };
		snprintf(path, sizeof path, "%s%s%s", q, next ? "&after=" : "",
		    next ? next : "");
		free(next);
		next = NULL;
		if (cl_http_json(ctx, &rq, &page) < 0) {
			json_decref(*jobs);
			return -1;
		}
		json_array_foreach(json_object_get(page, "jobs"), i, j)
			if (cl_filter_match(f, j) && (f->limit < 0 ||
			    json_array_size(*jobs) < (size_t)f->limit))
				json_array_append(*jobs, j);
		if (js_job_str(page, "next") != NULL && (f->limit < 0 ||
		    json_array_size(*jobs) < (size_t)f->limit))
			next = strdup(js_job_str(page, "next"));
		json_decref(page);
		if (next == NULL)
			return 0;
	}
}

/* A PUT of status cancelled: a DELETE would remove a job that ended.  A
 * job already cancelled is refused as the other final ones are (the
 * server takes it as no change). */
static int
r_cancel(struct cl_ctx *ctx, const char *id, json_t **job)
{
	if (r_get(ctx, id, job) < 0)
		return -1;
	if (cl_job_exit(*job) != CL_EXIT_PENDING) {
		snprintf(ctx->err, sizeof ctx->err, "job %s already ended (%s); "
		    "it cannot be cancelled", id, js_job_str(*job, "status"));
		json_decref(*job);
		*job = NULL;
		return -1;
	}
	json_decref(*job);
	return job_rq(ctx, "PUT", id, "", "{\"status\":\"cancelled\"}", job);
}

static int
r_remove(struct cl_ctx *ctx, const char *id)
{
	json_t *job;
	int fin;

	if (r_get(ctx, id, &job) < 0)
		return -1;
	fin = cl_job_exit(job) != CL_EXIT_PENDING;
	json_decref(job);
	if (!fin) {	/* a DELETE would cancel it */
		snprintf(ctx->err, sizeof ctx->err, "job %s has not ended: cancel "
		    "it first", id);
		return -1;
	}
	return job_rq(ctx, "DELETE", id, "", NULL, NULL);
}

static int
r_rerun(struct cl_ctx *ctx, const char *id, json_t **job)
{
	return job_rq(ctx, "POST", id, "/rerun", NULL, job);
}

static const struct cl_ops remote_ops = {
	.submit = r_submit, .batch = r_batch, .get = r_get, .wait = r_wait,
	.log = r_log, .batch_log = r_batch_log, .list = r_list,
	.cancel = r_cancel, .remove = r_remove, .rerun = r_rerun,
	.close = cl_remote_close,
};

int
cl_remote_open(struct cl_ctx *ctx)
{
	if (cl_http_open(ctx) < 0)
		return -1;
	ctx->ops = &remote_ops;
	return 0;
}
