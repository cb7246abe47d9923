/* routes_jobs.c - /api/v1/jobs and its children and the demo routes
 * (/api/v1/add/{a}/{b}, /api/v1/job/{id}). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "sched.h"
#include "digest.h"
#include "idem.h"
#include "log.h"


static enum MHD_Result
no_job(struct MHD_Connection *c, const char *id)
{
	if (!js_id_valid(id))
		return reply_error(c, MHD_HTTP_NOT_FOUND, "no such job: a job id "
		    "is a lowercase UUID");
	return reply_error(c, MHD_HTTP_NOT_FOUND, "no job %s", id);
}

json_t *
jobs_read_visible(struct api *a, const struct caller *who, const char *id,
    enum js_state *st)
{
	json_t *job;

	if (!js_id_valid(id)) {
		errno = ENOENT;
		return NULL;
	}
	job = js_spool_read(a->sp, id, st);
	if (job == NULL) {
		if (errno == EBADMSG)
			errno = ENOENT;
		return NULL;
	}
	if (!auth_visible(who, job)) {
		json_decref(job);
		errno = ENOENT;
		return NULL;
	}
	return job;
}

/* What jobs_deps_known looks at. */
struct deps_known {
	struct api *a;
	const struct caller *who;
	const json_t *batch;
	char *err;
	size_t errlen;
};

static int
dep_known(const char *id, int any, void *arg)
{
	struct deps_known *k = arg;
	const json_t *v;
	json_t *job;
	size_t i;

	json_array_foreach(k->batch, i, v) {
		const char *bid = js_job_str(v, "id");
		if (bid != NULL && strcmp(bid, id) == 0)
			return 0;	/* an earlier job of the same batch */
	}
	job = jobs_read_visible(k->a, k->who, id, NULL);
	if (job != NULL) {
		json_decref(job);
		return 0;
	}
	if (errno != ENOENT)
		return -1;
	js_errf(k->err, k->errlen, "%s: no job %s (a job it depends on must "
	    "exist and belong to the same token)", any ? "after_any" : "after",
	    id);
	errno = EINVAL;
	return -1;
}

int
jobs_deps_known(struct api *a, const struct caller *who, const json_t *job,
    const json_t *batch, char *err, size_t errlen)
{
	struct deps_known k = { a, who, batch, err, errlen };

	return js_deps_foreach(job, dep_known, &k);
}

/* The job id as the caller may see it (jobs_read_visible), or NULL after
 * queueing the 404 (or the read error) as *rc. */
static json_t *
job_for_caller(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id, enum js_state *st, enum MHD_Result *rc)
{
	json_t *job = jobs_read_visible(a, &r->who, id, st);

	if (job == NULL)
		*rc = errno == ENOENT ? no_job(c, id) :
		    reply_errno(c, errno, "cannot read the job");
	return job;
}

static const char *
owner_of(const struct req *r)
{
	return r->who.authed ? r->who.name : NULL;
}

/* 201 with the job and a Location header. */
static enum MHD_Result
created(struct MHD_Connection *c, json_t *job, unsigned status)
{
	char loc[128];
	struct MHD_Response *resp;
	size_t len;

	snprintf(loc, sizeof loc, "/api/v1/jobs/%s", js_job_str(job, "id"));
	resp = reply_json_response_len(job, &len);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
	return reply_queue_len(c, status, resp, len);
}

#ifndef MHD_HTTP_UNPROCESSABLE_CONTENT	/* libmicrohttpd before 0.9.76 */
#define MHD_HTTP_UNPROCESSABLE_CONTENT 422
#endif

/* The hex SHA-256 of a validated job (keys sorted, compact): what tells a
 * retry of a request from another request under the same key.  -1 if out
 * of memory. */
static int
job_digest(const json_t *job, char hex[JS_SHA256_HEX_SIZE])
{
	unsigned char d[JS_SHA256_SIZE];
	struct js_sha256 s;
	size_t len;
	char *text = js_json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS, NULL,
	    &len);

	if (text == NULL)
		return -1;
	js_sha256_init(&s);
	js_sha256_update(&s, text, len);
	js_sha256_final(&s, d);
	js_sha256_hex(d, hex);
	free(text);
	return 0;
}

/*
 * Submits one validated job, honouring an Idempotency-Key: the key is
 * reserved (idem sidecar, per token) before the job is published, so two
 * concurrent retries cannot both create a job.
 */
static enum MHD_Result
submit_one(struct api *a, struct MHD_Connection *c, struct req *r,
    json_t *validated)
{
	const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "Idempotency-Key");
	char id[JS_ID_SIZE], prev[JS_ID_SIZE], digest[JS_SHA256_HEX_SIZE];
	json_t *job;
	int e, tries, same;

	if (!reply_spool_in_place(a)) {
		json_decref(validated);
		return reply_store_errno(a, c, ENOENT, "cannot store the job");
	}
	js_id_new(id);
	if (key != NULL) {
		if (*key == '\0' || strlen(key) > 255) {
			json_decref(validated);
			return reply_error(c, MHD_HTTP_BAD_REQUEST, "Idempotency-Key "
			    "must be 1 to 255 characters");
		}
		if (job_digest(validated, digest) < 0) {
			json_decref(validated);
			return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "out of memory");
		}
		if (js_idem_reserve(a->sp, r->who.name, key, digest, id, prev,
		    &same) < 0) {
			e = errno;
			json_decref(validated);
			if (e == EILSEQ)
				return reply_error(c, MHD_HTTP_CONFLICT, "this "
				    "Idempotency-Key cannot be used; pick another");
			if (e != EEXIST)
				return reply_store_errno(a, c, e == EINVAL ? EIO : e,
				    "cannot record the Idempotency-Key");
			if (!same)
				return reply_error(c, MHD_HTTP_UNPROCESSABLE_CONTENT,
				    "Idempotency-Key was used with another body "
				    "(for job %s); a new request needs a new key",
				    prev);
			/* a retry: answer with the first job (it may still be
			 * being written by a concurrent request) */
			for (tries = 0; tries < 200; tries++) {
				job = jobs_read_visible(a, &r->who, prev, NULL);
				if (job != NULL)
					return created(c, job, MHD_HTTP_OK);
				if (errno != ENOENT)
					return reply_errno(c, errno, "cannot read "
					    "the job of the Idempotency-Key");
				usleep(10000);
			}
			return reply_error(c, MHD_HTTP_CONFLICT, "Idempotency-Key "
			    "was used for job %s, which no longer exists", prev);
		}
	}
	job = js_job_new(validated, id, owner_of(r), NULL);
	json_decref(validated);
	if (job == NULL) {
		if (key != NULL)
			js_idem_release(a->sp, r->who.name, key);
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	if (js_spool_submit(a->sp, job) < 0) {
		e = errno;
		if (key != NULL)
			js_idem_release(a->sp, r->who.name, key);
		json_decref(job);
		return reply_store_errno(a, c, e, "cannot store the job");
	}
	metrics_count_submitted(a->metrics, 1);
	bus_pending_kick(a->bus);	/* waiting worker claims look now */
	js_debug("submitted %s", id);
	return created(c, job, MHD_HTTP_CREATED);
}

/* The answer to a submission js_job_validate refused (errno set by it):
 * 400, or 503 when it was memory that ran out. */
static enum MHD_Result
invalid_job(struct MHD_Connection *c, const char *err)
{
	if (errno == ENOMEM)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	return reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid job: %s", err);
}

enum MHD_Result
route_jobs_post(struct api *a, struct MHD_Connection *c, struct req *r)
{
	char err[300];
	json_t *body, *v;

	body = reply_body_json(c, r);
	if (body == NULL)
		return MHD_YES;
	v = js_job_validate(body, err, sizeof err);
	json_decref(body);
	if (v == NULL)
		return invalid_job(c, err);
	if (jobs_deps_known(a, &r->who, v, NULL, err, sizeof err) < 0) {
		json_decref(v);
		if (errno == EINVAL)
			return invalid_job(c, err);
		return reply_errno(c, errno, "cannot read the jobs it depends on");
	}
	return submit_one(a, c, r, v);
}

enum MHD_Result
route_add(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *x, const char *y)
{
	long long ax, ay, sum;
	char err[300];
	json_t *sub, *v;

	if (js_parse_int(x, LLONG_MIN, LLONG_MAX, &ax) < 0 ||
	    js_parse_int(y, LLONG_MIN, LLONG_MAX, &ay) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "a and b must be "
		    "integers between %lld and %lld", LLONG_MIN, LLONG_MAX);
	if (__builtin_add_overflow(ax, ay, &sum))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "%lld + %lld overflows "
		    "a 64-bit integer", ax, ay);
	sub = json_pack("{s:s,s:s,s:[I,I]}", "name", "add", "builtin", "add",
	    "args", (json_int_t)ax, (json_int_t)ay);
	if (sub == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	v = js_job_validate(sub, err, sizeof err);
	json_decref(sub);
	if (v == NULL)
		return invalid_job(c, err);
	return submit_one(a, c, r, v);
}

/* ?status=a,b: file states to read and outcomes wanted from .retrieved */
static int
parse_status(const char *s, unsigned *mask, unsigned *outcomes)
{
	char buf[256], *tok, *save;

	*mask = 0;
	*outcomes = 0;
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		int st = js_state_from_status(tok);
		if (st < 0)
			return -1;
		*mask |= JS_STATE_BIT(st);
		if (st == JS_RETRIEVED)
			*outcomes |= JS_FINAL_MASK;
		else if (JS_FINAL_MASK & JS_STATE_BIT(st)) {
			*mask |= JS_STATE_BIT(JS_RETRIEVED);
			*outcomes |= JS_STATE_BIT(st);
		}
	}
	return *mask ? 0 : -1;
}

static int
hit_cmp(const void *x, const void *y)
{
	const struct idx_hit *a = x, *b = y;

	if (a->seq != b->seq)
		return a->seq < b->seq ? 1 : -1;	/* newest first */
	return -strcmp(a->id, b->id);
}

/* Cursor "SEQ-ID": the last job of the previous page. */
static int
parse_cursor(const char *s, long long *seq, char id[JS_ID_SIZE])
{
	const char *dash = strchr(s, '-');
	char num[32];

	if (dash == NULL || (size_t)(dash - s) >= sizeof num || dash == s)
		return -1;
	memcpy(num, s, (size_t)(dash - s));
	num[dash - s] = '\0';
	if (js_parse_int(num, 0, LLONG_MAX, seq) < 0 || !js_id_valid(dash + 1))
		return -1;
	memcpy(id, dash + 1, JS_ID_SIZE);
	return 0;
}

/* A listed job as it is now: from the file the listing saw, or, if it has
 * moved on since, where it is now if that still passes the ?status=
 * filter.  NULL with errno ENOENT if it is gone (or no longer passes),
 * EBADMSG if it is not a job, else the read error (ENOMEM, EMFILE...). */
static json_t *
list_read(struct api *a, const struct idx_filter *f, const struct idx_hit *h)
{
	enum js_state st;
	const char *status;
	json_t *job = js_spool_read_state(a->sp, h->id, h->state);
	int outcome;

	if (job != NULL || errno != ENOENT)
		return job;
	job = js_spool_read_current(a->sp, h->id, &st);
	if (job == NULL)
		return NULL;
	status = js_job_str(job, "status");
	outcome = status != NULL ? js_state_from_status(status) : -1;
	if (!(f->mask & JS_STATE_BIT(st)) || (st == JS_RETRIEVED &&
	    (outcome < 0 || !(f->status_mask & JS_STATE_BIT(outcome))))) {
		json_decref(job);
		errno = ENOENT;
		return NULL;
	}
	return job;
}

/* The first of hits (in hit_cmp order) after the cursor seq-id. */
static size_t
hits_after(const struct idx_hit *hits, size_t n, long long seq,
    const char id[JS_ID_SIZE])
{
	struct idx_hit key;
	size_t i = 0;

	memset(&key, 0, sizeof key);
	key.seq = seq;
	memcpy(key.id, id, JS_ID_SIZE);
	while (i < n && hit_cmp(&hits[i], &key) <= 0)
		i++;
	return i;
}

/* A query argument, NULL when absent or empty. */
static const char *
arg_set(struct MHD_Connection *c, const char *key)
{
	const char *v = reply_arg(c, key);

	return v != NULL && *v != '\0' ? v : NULL;
}

enum MHD_Result
route_jobs_list(struct api *a, struct MHD_Connection *c, struct req *r)
{
	const char *status = arg_set(c, "status"), *lim = reply_arg(c, "limit");
	const char *after = arg_set(c, "after");
	struct idx_filter f;
	struct idx_hit *hits = NULL;
	size_t n = 0, i, start = 0, taken = 0;
	long long limit = 100, cseq = 0;
	char cid[JS_ID_SIZE], cursor[80];
	json_t *out, *arr;

	memset(&f, 0, sizeof f);
	f.mask = (1u << JS_NSTATES) - 1;
	f.status_mask = JS_FINAL_MASK;
	if (status != NULL && parse_status(status, &f.mask, &f.status_mask) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "unknown status '%.64s': "
		    "use pending, running, completed, failed, cancelled or "
		    "retrieved (comma-separated)", status);
	if (lim != NULL && js_parse_int(lim, 1, 1000, &limit) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "limit must be an "
		    "integer from 1 to 1000");
	if (after != NULL && parse_cursor(after, &cseq, cid) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "bad cursor in after: "
		    "use the \"next\" value of the previous page");
	f.batch = arg_set(c, "batch");
	f.name = arg_set(c, "name");
	f.label = arg_set(c, "label");
	if (f.label != NULL && !js_label_valid(f.label))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "bad label '%.64s': "
		    "a label is 1 to %d letters, digits, '-', '_' or '.'",
		    f.label, JS_LABEL_MAX);
	f.owner = r->who.admin ? NULL : r->who.name;
	if (idx_query(a->idx, &f, &hits, &n) < 0)
		return reply_store_errno(a, c, errno, "cannot list the spool");
	qsort(hits, n, sizeof *hits, hit_cmp);
	if (after != NULL)
		start = hits_after(hits, n, cseq, cid);
	out = json_object();
	arr = json_array();
	if (out == NULL || arr == NULL) {
		free(hits);
		json_decref(out);
		json_decref(arr);
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	for (i = start; i < n && taken < (size_t)limit; i++) {
		json_t *job = list_read(a, &f, &hits[i]);
		if (job == NULL && (errno == ENOENT || errno == EBADMSG))
			continue;	/* removed, or left the filter, meanwhile */
		if (job == NULL || json_array_append_new(arr, job) < 0) {
			/* a listing holds every job, or it is an error */
			int e = job == NULL ? errno : ENOMEM;
			free(hits);
			json_decref(out);
			json_decref(arr);
			return reply_errno(c, e, "cannot read a listed job");
		}
		taken++;
	}
	if (i < n && taken > 0)
		snprintf(cursor, sizeof cursor, "%lld-%s", hits[i - 1].seq,
		    hits[i - 1].id);
	free(hits);
	if (json_object_set_new(out, "jobs", arr) < 0 ||
	    json_object_set_new(out, "next", i < n && taken > 0 ?
	    json_string(cursor) : json_null()) < 0) {
		json_decref(out);
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	if (waiting_list(a, out) < 0) {	/* why pending jobs wait */
		if (errno == ENOMEM) {	/* not an answer without it */
			json_decref(out);
			return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "out of memory");
		}
		js_warn("job listing: cannot tell why jobs wait: %s",
		    strerror(errno));
	}
	return reply_json(c, MHD_HTTP_OK, out);
}

/* The longest ?wait= of GET /api/v1/jobs/{id}, in seconds. */
#define JOB_WAIT_MAX 3600

/* Holds a GET with ?wait= until job id is final (or gone), the wait is
 * over or the server stops: wakes on the change bus (bus.c), looking at
 * the job's state only (no read) on each change.  0 when it is time to
 * answer, or -1 if the client hung up. */
static int
job_wait_final(struct api *a, struct MHD_Connection *c, const char *id,
    long long wait_s)
{
	const union MHD_ConnectionInfo *ci;
	int64_t deadline = js_mono_ms() + wait_s * 1000, left;
	int sock = -1;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		sock = ci->connect_fd;
	for (;;) {
		uint64_t g = bus_gen(a->bus);

		if (follow_job_final(a, id) || atomic_load(&a->stopping))
			return 0;
		left = deadline - js_mono_ms();
		if (left <= 0)
			return 0;
		if (follow_peer_gone(sock))
			return -1;
		bus_wait(a->bus, g, left > 1000 ? 1000 : (int)left);
	}
}

/* The answer of a GET with ?wait=: the job, and "Jobspool-Final: true"
 * or "false" saying whether it has ended. */
static enum MHD_Result
job_answer(struct MHD_Connection *c, json_t *job, enum js_state st,
    int waited)
{
	struct MHD_Response *resp;
	size_t len;

	if (!waited)
		return reply_json(c, MHD_HTTP_OK, job);
	resp = reply_json_response_len(job, &len);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Jobspool-Final",
	    js_sched_final(st) ? "true" : "false");
	return reply_queue_len(c, MHD_HTTP_OK, resp, len);
}

enum MHD_Result
route_job_get(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id)
{
	const char *wait = reply_arg(c, "wait"), *peek = reply_arg(c, "peek");
	long long wait_s = 0;
	enum js_state st;
	enum MHD_Result rc;
	json_t *job, *j2;
	int keep;

	if (wait != NULL && js_parse_int(wait, 0, JOB_WAIT_MAX, &wait_s) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "wait must be a number "
		    "of seconds from 0 to %d", JOB_WAIT_MAX);
	if (wait == NULL && jcache_get(a, c, r, id, reply_flag(c, "peek"), &rc))
		return rc;
	job = job_for_caller(a, c, r, id, &st, &rc);
	if (job == NULL)
		return rc;
	if (wait != NULL && !js_sched_final(st)) {
		json_decref(job);
		if (job_wait_final(a, c, id, wait_s) < 0)
			return MHD_NO;	/* nobody to answer */
		if ((job = job_for_caller(a, c, r, id, &st, &rc)) == NULL)
			return rc;
	}
	/* a wait reads without marking, unless ?peek=0 asks for it */
	keep = wait != NULL ? peek == NULL || reply_flag(c, "peek") :
	    reply_flag(c, "peek");
	if (js_sched_final(st) && st != JS_RETRIEVED && !r->head && !keep) {
		j2 = js_spool_retrieve(a->sp, id);
		if (j2 != NULL) {
			json_decref(job);
			job = j2;
			st = JS_RETRIEVED;
		} else {
			js_warn("cannot mark %s retrieved: %s", id, strerror(errno));
		}
	}
	if (st == JS_PENDING && waiting_job(a, job) < 0) {
		if (errno == ENOMEM) {	/* not an answer without it */
			json_decref(job);
			return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "out of memory");
		}
		js_warn("job %s: cannot tell why it waits: %s", id,
		    strerror(errno));
	}
	return job_answer(c, job, st, wait != NULL);
}

/* A PUT or DELETE of one job, decided under the job's lock by change_edit
 * (one js_spool_edit: all of it happens or none). */
struct change {
	const struct caller *who;
	const json_t *fields;	/* name, description, metadata (checked) */
	int want;		/* the status asked for, or -1 */
	int is_delete;		/* cancel if pending or running, else refuse */
	int final;		/* refused because the job had ended */
	unsigned status;	/* the answer to a refusal (ECANCELED) */
	char reason[200];	/* the cancelled job's "error" */
	char msg[300];		/* why it was refused */
};

static int
refuse(struct change *ch, unsigned status, const char *fmt, const char *cur)
{
	ch->status = status;
	snprintf(ch->msg, sizeof ch->msg, fmt, cur != NULL ? cur : "unknown");
	errno = ECANCELED;
	return -1;
}

/* js_spool_edit callback: every check against the job as it is now comes
 * before any edit, so a refused change leaves the file as it was. */
static int
change_edit(json_t *job, enum js_state st, void *arg)
{
	struct change *ch = arg;
	const char *cur = js_job_str(job, "status");
	int cancel = 0, edit = json_object_size(ch->fields) > 0;

	if (!auth_visible(ch->who, job)) {
		errno = ENOENT;
		return -1;
	}
	if (ch->is_delete || ch->want == JS_CANCELLED) {
		if (st == JS_PENDING || st == JS_WIP) {
			cancel = 1;
		} else if (ch->is_delete || cur == NULL ||
		    strcmp(cur, "cancelled") != 0) {
			ch->final = 1;
			return refuse(ch, MHD_HTTP_CONFLICT, "the job already "
			    "ended (%s); it cannot be cancelled", cur);
		}
	} else if (ch->want >= 0 && (ch->want == JS_RETRIEVED ?
	    st != JS_RETRIEVED :
	    cur == NULL || js_state_from_status(cur) != ch->want)) {
		/* the same status is no change; any other is impossible */
		return refuse(ch, MHD_HTTP_CONFLICT, "a job's status can only "
		    "be changed to cancelled (it is %s)", cur);
	}
	if (edit && st != JS_PENDING && js_job_pending_only(ch->fields))
		return refuse(ch, MHD_HTTP_CONFLICT, "the job is %s: its "
		    "priority and start time (run_at, delay) change only while "
		    "it is pending", cur);
	if (edit && st == JS_WIP)
		return refuse(ch, MHD_HTTP_CONFLICT, "the job is %s; change it "
		    "when it has ended", cur);
	if (edit && js_job_update(job, ch->fields, ch->msg, sizeof ch->msg) < 0) {
		if (errno == ENOMEM)
			return -1;	/* 503, by reply_errno */
		ch->status = MHD_HTTP_BAD_REQUEST;
		errno = ECANCELED;
		return -1;
	}
	if (cancel) {
		if (json_object_set_new(job, "error", json_string(ch->reason)) < 0) {
			errno = ENOMEM;
			return -1;
		}
		return JS_EDIT_CANCEL;
	}
	return edit ? JS_EDIT_WRITE : JS_EDIT_NONE;
}

/* Runs ch on job id: ok_status with the job as it now is (one being
 * stopped says "cancel_requested": true), or the refusal.  A DELETE of a
 * job that had ended queues nothing (ch->final: the caller removes it). */
static enum MHD_Result
change_job(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id, struct change *ch, unsigned ok_status)
{
	enum js_state st;
	json_t *job;
	int e;

	ch->who = &r->who;
	snprintf(ch->reason, sizeof ch->reason, "cancelled through the API%s%s",
	    r->who.authed ? " by " : "", r->who.authed ? r->who.name : "");
	if (js_spool_edit(a->sp, id, change_edit, ch, &job, &st) == 0) {
		if (st == JS_WIP && (ch->is_delete || ch->want == JS_CANCELLED))
			json_object_set_new(job, "cancel_requested", json_true());
		return reply_json(c, ok_status, job);
	}
	e = errno;
	if (e == ECANCELED && ch->final && ch->is_delete)
		return MHD_NO;	/* nothing queued yet */
	if (e == ECANCELED)
		return reply_error(c, ch->status, "job %s: %s", id, ch->msg);
	if (e == ENOENT || e == EINVAL || e == EBADMSG)
		return no_job(c, id);
	return reply_errno(c, e, "cannot change the job");
}

enum MHD_Result
route_job_put(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id)
{
	struct change ch;
	json_t *job, *body, *status, *fields;
	enum MHD_Result rc;

	memset(&ch, 0, sizeof ch);
	ch.want = -1;
	job = job_for_caller(a, c, r, id, NULL, &rc);	/* 404 comes first */
	if (job == NULL)
		return rc;
	json_decref(job);
	body = reply_body_json(c, r);
	if (body == NULL)
		return MHD_YES;
	status = json_object_get(body, "status");
	if (status != NULL && (!json_is_string(status) ||
	    (ch.want = js_state_from_status(json_string_value(status))) < 0)) {
		json_decref(body);
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "unknown status: "
		    "only \"cancelled\" can be set");
	}
	fields = json_deep_copy(body);
	json_decref(body);
	if (fields == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	json_object_del(fields, "status");
	if (json_object_size(fields) == 0 && ch.want < 0) {
		json_decref(fields);
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "nothing to change: give "
		    "name, description, metadata, priority, run_at, delay or "
		    "status");
	}
	if (js_job_check_update(fields, ch.msg, sizeof ch.msg) < 0) {
		rc = errno == ENOMEM ? reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "out of memory") : reply_error(c, MHD_HTTP_BAD_REQUEST, "%s",
		    ch.msg);
		json_decref(fields);
		return rc;
	}
	ch.fields = fields;
	rc = change_job(a, c, r, id, &ch, MHD_HTTP_OK);
	json_decref(fields);
	return rc;
}

/* POST /api/v1/jobs/{id}/rerun: a new job with the specification of a
 * final one (lib/job's js_job_rerun: same owner, "rerun_of"). */
enum MHD_Result
route_job_rerun(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id)
{
	enum js_state st;
	char err[300];
	json_t *old, *job;
	enum MHD_Result rc;
	int e;

	old = job_for_caller(a, c, r, id, &st, &rc);
	if (old == NULL)
		return rc;
	if (!js_sched_final(st)) {
		e = reply_error(c, MHD_HTTP_CONFLICT, "job %s is %s; only a job "
		    "that has ended (completed, failed, cancelled) can be re-run",
		    id, js_state_status(st));
		json_decref(old);
		return e;
	}
	if (!reply_spool_in_place(a)) {
		json_decref(old);
		return reply_store_errno(a, c, ENOENT, "cannot store the job");
	}
	job = js_job_rerun(old, err, sizeof err);
	e = errno;
	json_decref(old);
	if (job == NULL && e == ENOMEM)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	if (job == NULL)
		return reply_error(c, MHD_HTTP_CONFLICT, "job %s cannot be re-run: "
		    "%s", id, err);
	if (js_spool_submit(a->sp, job) < 0) {
		e = errno;
		json_decref(job);
		return reply_store_errno(a, c, e, "cannot store the job");
	}
	metrics_count_submitted(a->metrics, 1);
	bus_pending_kick(a->bus);	/* waiting worker claims look now */
	js_info("job %s: re-run of %s", js_job_str(job, "id"), id);
	return created(c, job, MHD_HTTP_CREATED);
}

enum MHD_Result
route_job_delete(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id)
{
	struct change ch;
	enum MHD_Result rc;

	memset(&ch, 0, sizeof ch);
	ch.want = -1;
	ch.is_delete = 1;
	rc = change_job(a, c, r, id, &ch, MHD_HTTP_ACCEPTED);
	if (!ch.final)
		return rc;	/* cancelled, or refused */
	if (js_spool_remove(a->sp, id) < 0) {
		if (errno == EBUSY)
			return reply_error(c, MHD_HTTP_CONFLICT, "job %s was "
			    "requeued meanwhile; try again", id);
		return errno == ENOENT ? no_job(c, id) :
		    reply_errno(c, errno, "cannot remove the job");
	}
	return reply_queue_len(c, MHD_HTTP_NO_CONTENT,
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT), 0);
}

/* Where the last n lines of a log of size bytes start (a last line without
 * a newline counts).  0, or -1 with errno. */
static int
tail_start(int fd, long long size, long long n, long long *start)
{
	char buf[8192];
	long long pos = size, seen = 0;

	*start = 0;
	if (n == 0) {
		*start = size;
		return 0;
	}
	while (pos > 0) {
		size_t chunk = pos > (long long)sizeof buf ? sizeof buf :
		    (size_t)pos;
		ssize_t got = pread(fd, buf, chunk, (off_t)(pos - (long long)chunk));
		size_t i;

		if (got < 0)
			return -1;
		if ((size_t)got != chunk) {
			errno = EIO;	/* the log shrank: cannot happen */
			return -1;
		}
		for (i = chunk; i > 0; i--) {
			long long at = pos - (long long)chunk + (long long)i - 1;
			/* the newline ending the log ends the last line */
			if (buf[i - 1] == '\n' && at != size - 1 && ++seen == n) {
				*start = at + 1;
				return 0;
			}
		}
		pos -= (long long)chunk;
	}
	return 0;
}

/* A Range header against a log of size bytes (RFC 9110 §14): 1 and the
 * byte span if it is one satisfiable range, -1 if unsatisfiable (416),
 * 0 to ignore it (not "bytes=", several ranges, bad syntax: the whole log
 * is sent, as RFC 9110 allows). */
/* The number in the len bytes at p, if any (len 0: *v unchanged).  0, or
 * -1 if they are not one. */
static int
range_num(const char *p, size_t len, long long *v)
{
	char num[24];

	if (len >= sizeof num)
		return -1;
	if (len == 0)
		return 0;
	memcpy(num, p, len);
	num[len] = '\0';
	return js_parse_int(num, 0, LLONG_MAX, v) < 0 ? -1 : 0;
}

static int
parse_range(const char *h, long long size, long long *first, long long *last)
{
	const char *p = h, *dash;
	long long a = -1, b = -1;
	size_t len;

	while (*p == ' ')
		p++;
	if (strncasecmp(p, "bytes", 5) != 0)
		return 0;
	p += 5;
	while (*p == ' ')
		p++;
	if (*p++ != '=')
		return 0;
	while (*p == ' ')
		p++;
	if (strchr(p, ',') != NULL || (dash = strchr(p, '-')) == NULL)
		return 0;
	if (range_num(p, (size_t)(dash - p), &a) < 0)
		return 0;
	p = dash + 1;
	len = strcspn(p, " ");
	if (p[len + strspn(p + len, " ")] != '\0' || range_num(p, len, &b) < 0)
		return 0;
	if (a < 0) {			/* bytes=-S: the last S bytes */
		if (b < 0)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (b >= 0 && b < a)
		return 0;
	if (a >= size)
		return -1;
	*first = a;
	*last = b < 0 || b >= size ? size - 1 : b;
	return 1;
}

/* 416 with a JSON error and "Content-Range: bytes star/SIZE". */
static enum MHD_Result
range_unsatisfiable(struct MHD_Connection *c, const char *range,
    long long size)
{
	struct MHD_Response *resp;
	char cr[64];
	size_t len;

	resp = reply_json_response_len(json_pack("{s:s++}", "error",
	    "Range '", range, "' is past the end of the log; see Content-Range "
	    "for its size"), &len);
	if (resp == NULL)
		return MHD_NO;
	snprintf(cr, sizeof cr, "bytes */%lld", size);
	MHD_add_response_header(resp, "Content-Range", cr);
	return reply_queue_len(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, len);
}

/* What GET /api/v1/jobs/{id}/log asks for: ?offset=, ?tail=, a Range
 * header, ?follow, ?ws. */
struct log_ask {
	const char *off, *tail, *range;
	long long offset, ntail;	/* ntail -1: no ?tail= */
	int follow, ws;
};

/* Reads and checks the arguments of a log request; 0, or -1 after
 * queueing a 400 as *rc. */
static int
log_ask_parse(struct MHD_Connection *c, struct log_ask *q,
    enum MHD_Result *rc)
{
	q->off = reply_arg(c, "offset");
	q->tail = reply_arg(c, "tail");
	q->range = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_RANGE);
	q->offset = 0;
	q->ntail = -1;
	q->follow = reply_flag(c, "follow");
	q->ws = reply_flag(c, "ws");
	if (q->off != NULL &&
	    js_parse_int(q->off, 0, (long long)1 << 60, &q->offset) < 0) {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "offset must be a byte "
		    "count (0 or more)");
		return -1;
	}
	if (q->tail != NULL && js_parse_int(q->tail, 0, 10000000, &q->ntail) < 0) {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "tail must be a number "
		    "of lines from 0 to 10000000");
		return -1;
	}
	if (q->tail != NULL && q->off != NULL) {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "give ?tail= or "
		    "?offset=, not both");
		return -1;
	}
	if (q->range != NULL && (q->follow || q->ws))
		q->range = NULL;	/* a stream has no byte range: ignored */
	if (q->range != NULL && (q->tail != NULL || q->off != NULL)) {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "give a Range header "
		    "or ?tail= / ?offset=, not both");
		return -1;
	}
	return 0;
}

/* The log as it is now: *fd (-1 if the job has written none) and its
 * *size; q->offset moved to where the last ?tail= lines start.  0, or -1
 * after queueing the error answer *rc. */
static int
log_open_at(struct api *a, struct MHD_Connection *c, const char *id,
    struct log_ask *q, int *fd, long long *size, enum MHD_Result *rc)
{
	struct stat sb;
	int e;

	*size = 0;
	*fd = js_spool_log_open(a->sp, id, 0);
	if (*fd < 0 && errno != ENOENT) {
		*rc = reply_errno(c, errno, "cannot open the log");
		return -1;
	}
	if (*fd < 0) {
		if (q->ntail >= 0)
			q->offset = 0;
		return 0;
	}
	if (fstat(*fd, &sb) < 0)
		goto unreadable;
	*size = (long long)sb.st_size;
	if (q->ntail >= 0 && tail_start(*fd, *size, q->ntail, &q->offset) < 0)
		goto unreadable;
	return 0;
unreadable:
	e = errno;
	close(*fd);
	*rc = reply_errno(c, e, "cannot read the log");
	return -1;
}

/* The bytes of the log from offset (or of the one range rr == 1 asks for,
 * as 206 with its Content-Range in cr) as a plain answer of *len bytes;
 * takes fd.  NULL: out of memory. */
static struct MHD_Response *
log_bytes_response(int fd, long long size, long long offset, int rr,
    long long first, long long last, unsigned *status, size_t *len)
{
	struct MHD_Response *resp;
	char cr[96];

	if (rr == 1) {
		offset = first;
		*status = MHD_HTTP_PARTIAL_CONTENT;
		snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", first, last, size);
	} else {
		last = size - 1;
	}
	*len = 0;
	if (fd < 0 || size <= offset) {
		if (fd >= 0)
			close(fd);
		resp = MHD_create_response_from_buffer(0, NULL,
		    MHD_RESPMEM_PERSISTENT);
	} else {
		*len = (size_t)(last + 1 - offset);
		resp = MHD_create_response_from_fd_at_offset64(
		    (uint64_t)(last + 1 - offset), fd, (uint64_t)offset);
		if (resp == NULL)
			close(fd);
	}
	if (resp == NULL)
		return NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (*status == MHD_HTTP_PARTIAL_CONTENT)
		MHD_add_response_header(resp, "Content-Range", cr);
	return resp;
}

enum MHD_Result
route_job_log(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id)
{
	struct log_ask q;
	long long size, first = 0, last = -1;
	unsigned status = MHD_HTTP_OK;
	struct MHD_Response *resp;
	enum MHD_Result rc;
	json_t *job;
	size_t len = 0;
	int fd, rr = 0;

	job = job_for_caller(a, c, r, id, NULL, &rc);
	if (job == NULL)
		return rc;
	json_decref(job);
	if (log_ask_parse(c, &q, &rc) < 0)
		return rc;
	if (log_open_at(a, c, id, &q, &fd, &size, &rc) < 0)
		return rc;
	if (q.range != NULL &&
	    (rr = parse_range(q.range, size, &first, &last)) < 0) {
		if (fd >= 0)
			close(fd);
		return range_unsatisfiable(c, q.range, size);
	}
	if (q.ws) {
		if (fd >= 0)
			close(fd);
		return ws_upgrade(a, c, r, id, (uint64_t)q.offset);
	}
	/* HEAD of a follow: the headers of the log as it is (libmicrohttpd
	 * would send a chunked stream's terminator after a HEAD answer) */
	if (q.follow && !r->head) {
		if (fd >= 0)
			close(fd);
		resp = follow_job_response(a, c, id, (uint64_t)q.offset,
		    reply_flag(c, "outcome"));
		if (resp == NULL)
			return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "out of memory");
	} else {
		resp = log_bytes_response(fd, size, q.offset, rr, first, last,
		    &status, &len);
		if (resp == NULL)
			return MHD_NO;
	}
	/* the log holds whatever the job wrote: bytes, not checked as UTF-8 */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* a follow's bytes are counted as they are sent (reply_stream) */
	return q.follow && !r->head ? reply_queue(c, status, resp) :
	    reply_queue_len(c, status, resp, len);
}

