/* local.c - local mode: the spool itself, through lib/ (the validation of
 * lib/job.c, the atomic tmp/ + rename of lib/spool.c), no server and no
 * token: the filesystem's permissions decide.  Waiting uses inotify
 * (local_log.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "digest.h"
#include "idem.h"
#include "local.h"
#include "sched.h"
#include "spool.h"

static int
fail_errno(struct cl_ctx *ctx, const char *what, const char *id)
{
	int e = errno;

	if (e == ENOENT && id != NULL)
		snprintf(ctx->err, sizeof ctx->err, "no job %s", id);
	else
		snprintf(ctx->err, sizeof ctx->err, "%s%s%s: %s", what,
		    id ? " " : "", id ? id : "", strerror(e));
	return -1;
}

/* The hex SHA-256 of a validated job, as the apiserver keys it. */
static int
digest_of(const json_t *v, char hex[JS_SHA256_HEX_SIZE])
{
	unsigned char d[JS_SHA256_SIZE];
	struct js_sha256 s;
	char *text = js_json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS, NULL, NULL);

	if (text == NULL)
		return -1;
	js_sha256_init(&s);
	js_sha256_update(&s, text, strlen(text));
	js_sha256_final(&s, d);
	js_sha256_hex(d, hex);
	free(text);
	return 0;
}

/* An Idempotency key's reservation: 0 reserved (go on), 1 the key was
 * used for the same job (*job is it), -1 error. */
static int
idem_take(struct cl_ctx *ctx, const json_t *v, const char *key,
    const char *id, json_t **job)
{
	char hex[JS_SHA256_HEX_SIZE], prev[JS_ID_SIZE];
	int same;

	if (*key == '\0' || strlen(key) > 255) {
		snprintf(ctx->err, sizeof ctx->err, "the idempotency key must be "
		    "1 to 255 characters");
		return -1;
	}
	if (digest_of(v, hex) < 0) {
		snprintf(ctx->err, sizeof ctx->err, "out of memory");
		return -1;
	}
	if (js_idem_reserve(ctx->be, "", key, hex, id, prev, &same) == 0)
		return 0;
	if (errno != EEXIST)
		return fail_errno(ctx, "cannot record the idempotency key", NULL);
	if (!same) {
		snprintf(ctx->err, sizeof ctx->err, "the idempotency key was used "
		    "with another job (%s); a new request needs a new key", prev);
		return -1;
	}
	*job = js_spool_read_current(ctx->be, prev, NULL);
	return *job != NULL ? 1 : fail_errno(ctx, "cannot read job", prev);
}

static int
l_submit(struct cl_ctx *ctx, const json_t *sub, const char *idem,
    json_t **job)
{
	char err[512], id[JS_ID_SIZE];
	json_t *v = js_job_validate(sub, err, sizeof err);
	int r = 0;

	if (v == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "invalid job: %s", err);
		return -1;
	}
	js_id_new(id);
	if (idem != NULL && (r = idem_take(ctx, v, idem, id, job)) != 0) {
		json_decref(v);
		return r < 0 ? -1 : 0;
	}
	*job = js_job_new(v, id, NULL, NULL);
	json_decref(v);
	if (*job == NULL || js_spool_submit(ctx->be, *job) < 0) {
		if (*job == NULL)
			errno = ENOMEM;
		fail_errno(ctx, "cannot store the job", NULL);
		if (idem != NULL)
			js_idem_release(ctx->be, "", idem);
		json_decref(*job);
		*job = NULL;
		return -1;
	}
	return 0;
}

/* Validates and builds every job of a batch under cid. */
static json_t **
batch_jobs(struct cl_ctx *ctx, const json_t *subs, const char *cid)
{
	size_t n = json_array_size(subs), i;
	json_t **jobs = calloc(n ? n : 1, sizeof *jobs), *v;
	char err[512];

	for (i = 0; jobs != NULL && i < n; i++) {
		v = js_job_validate(json_array_get(subs, i), err, sizeof err);
		if (v == NULL) {
			snprintf(ctx->err, sizeof ctx->err, "job %zu: invalid job: "
			    "%s", i + 1, err);
			break;
		}
		jobs[i] = js_job_new(v, NULL, NULL, cid);
		json_decref(v);
		if (jobs[i] == NULL) {
			snprintf(ctx->err, sizeof ctx->err, "out of memory");
			break;
		}
	}
	if (jobs != NULL && i == n)
		return jobs;
	while (jobs != NULL && i > 0)
		json_decref(jobs[--i]);
	free(jobs);
	return NULL;
}

static int
l_batch(struct cl_ctx *ctx, const json_t *subs, json_t **out)
{
	size_t n = json_array_size(subs), i;
	char cid[JS_ID_SIZE];
	json_t **jobs, *ids = json_array();
	int rc = 0;

	js_id_new(cid);
	if ((jobs = batch_jobs(ctx, subs, cid)) == NULL) {
		json_decref(ids);
		return -1;
	}
	if (js_spool_submit_many(ctx->be, jobs, n) < 0)
		rc = fail_errno(ctx, "cannot store the batch", NULL);
	for (i = 0; i < n; i++) {
		json_array_append_new(ids, json_string(js_job_str(jobs[i], "id")));
		json_decref(jobs[i]);
	}
	free(jobs);
	if (rc < 0) {
		json_decref(ids);
		return -1;
	}
	*out = json_pack("{s:s,s:o}", "correlation_id", cid, "jobs", ids);
	if (*out == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "out of memory");
		return -1;
	}
	return 0;
}

static int
l_get(struct cl_ctx *ctx, const char *id, json_t **job)
{
	*job = js_spool_read_current(ctx->be, id, NULL);
	return *job != NULL ? 0 : fail_errno(ctx, "cannot read job", id);
}

static int
l_cancel(struct cl_ctx *ctx, const char *id, json_t **job)
{
	enum js_state st;

	if (js_spool_cancel(ctx->be, id, "cancelled with jobspool(1)", job) == 0)
		return 0;
	if (errno == EINPROGRESS) {
		if (l_get(ctx, id, job) < 0)
			return -1;
		json_object_set_new(*job, "cancel_requested", json_true());
		return 0;
	}
	if (errno == EALREADY) {
		*job = js_spool_read_current(ctx->be, id, &st);
		snprintf(ctx->err, sizeof ctx->err, "job %s already ended (%s); it "
		    "cannot be cancelled", id, *job != NULL ?
		    js_job_str(*job, "status") : "final");
		json_decref(*job);
		*job = NULL;
		return -1;
	}
	return fail_errno(ctx, "cannot cancel job", id);
}

static int
l_remove(struct cl_ctx *ctx, const char *id)
{
	if (js_spool_remove(ctx->be, id) == 0)
		return 0;
	if (errno == EBUSY) {
		snprintf(ctx->err, sizeof ctx->err, "job %s has not ended: cancel "
		    "it first", id);
		return -1;
	}
	return fail_errno(ctx, "cannot remove job", id);
}

static int
l_rerun(struct cl_ctx *ctx, const char *id, json_t **job)
{
	enum js_state st;
	char err[512];
	json_t *old = js_spool_read_current(ctx->be, id, &st);

	if (old == NULL)
		return fail_errno(ctx, "cannot read job", id);
	if (!js_sched_final(st)) {
		snprintf(ctx->err, sizeof ctx->err, "job %s is %s; only a job that "
		    "has ended can be re-run", id, js_job_str(old, "status"));
		json_decref(old);
		return -1;
	}
	*job = js_job_rerun(old, err, sizeof err);
	json_decref(old);
	if (*job == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "job %s cannot be re-run: %s",
		    id, err);
		return -1;
	}
	if (js_spool_submit(ctx->be, *job) < 0) {
		json_decref(*job);
		*job = NULL;
		return fail_errno(ctx, "cannot store the job", NULL);
	}
	return 0;
}

static void
l_close(struct cl_ctx *ctx)
{
	js_spool_close(ctx->be);
	ctx->be = NULL;
}

static const struct cl_ops local_ops = {
	.submit = l_submit, .batch = l_batch, .get = l_get,
	.wait = cl_local_wait, .log = cl_local_log,
	.batch_log = cl_local_batch_log, .list = cl_local_list,
	.cancel = l_cancel, .remove = l_remove, .rerun = l_rerun,
	.close = l_close,
};

int
cl_local_open(struct cl_ctx *ctx)
{
	char err[512];

	ctx->be = js_spool_open(ctx->spool, 0, err, sizeof err);
	if (ctx->be == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "%s", err);
		return -1;
	}
	ctx->ops = &local_ops;
	return 0;
}
