/* routes_batches.c - many jobs under one correlation id: submit (JSON or
 * NDJSON read as a stream, all or nothing), status with counts, logs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "log.h"

#define INLINE_LOG_MAX (1 << 20)

/* The jobs of a JSON batch body, {"jobs": [job, ...]}, taken one by one
 * as NDJSON lines are (request_take_job; the first error in r->nd_err).
 * 0, or -1 after queueing a 400. */
static int
batch_take_json(struct MHD_Connection *c, struct req *r)
{
	json_t *body, *list;
	size_t i;

	body = reply_body_json(c, r);
	if (body == NULL)
		return -1;
	list = json_object_get(body, "jobs");
	if (!json_is_array(list) || json_object_size(body) != 1) {
		json_decref(body);
		reply_error(c, MHD_HTTP_BAD_REQUEST, "a batch is "
		    "{\"jobs\": [job, ...]} (or application/x-ndjson, one "
		    "job per line)");
		return -1;
	}
	for (i = 0; i < json_array_size(list); i++) {
		json_t *sub = json_array_get(list, i);
		if (!json_is_object(sub)) {
			snprintf(r->nd_err, sizeof r->nd_err, "job %zu: a job "
			    "must be a JSON object", i + 1);
			break;
		}
		if (request_take_job(r, sub, i + 1) < 0)
			break;
	}
	json_decref(body);
	return 0;
}

static void
jobs_free(json_t **jobs, size_t n)
{
	size_t i;

	if (jobs != NULL)
		for (i = 0; i < n; i++)
			json_decref(jobs[i]);
	free(jobs);
}

/* Makes the n taken jobs (r->nd_jobs) under the new correlation id cid and
 * stores them all or none.  0 with *ids the array of their ids; -1 out of
 * memory before anything was stored; -2 with errno if the spool refused. */
static int
batch_store(struct api *a, struct req *r, size_t n, const char *cid,
    json_t **ids_out)
{
	json_t **jobs = calloc(n, sizeof *jobs), *ids = json_array();
	size_t i;
	int e;

	*ids_out = NULL;

	if (jobs == NULL || ids == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		/* the id request_take_job gave it ("#N" references) */
		const json_t *v = json_array_get(r->nd_jobs, i);
		jobs[i] = js_job_new(v, js_job_str(v, "id"),
		    r->who.authed ? r->who.name : NULL, cid);
		if (jobs[i] == NULL)
			goto nomem;
		json_array_append_new(ids, json_string(js_job_str(jobs[i], "id")));
	}
	if (js_spool_submit_many(a->sp, jobs, n) < 0) {
		e = errno;
		jobs_free(jobs, n);
		json_decref(ids);
		errno = e;
		return -2;
	}
	jobs_free(jobs, n);
	*ids_out = ids;
	return 0;
nomem:
	jobs_free(jobs, n);
	json_decref(ids);
	return -1;
}

/* Every job a job of the batch depends on (lib/deps) is one of the batch
 * or one the caller may see: 0, or -1 after queueing the answer (400, or
 * the error reading a job) as *rc. */
static int
batch_deps_known(struct api *a, struct MHD_Connection *c, struct req *r,
    enum MHD_Result *rc)
{
	char err[300];
	size_t i;

	for (i = 0; i < json_array_size(r->nd_jobs); i++) {
		if (jobs_deps_known(a, &r->who, json_array_get(r->nd_jobs, i),
		    r->nd_jobs, err, sizeof err) == 0)
			continue;
		*rc = errno == EINVAL ? reply_error(c, MHD_HTTP_BAD_REQUEST,
		    "invalid batch: job %zu: %s; nothing was submitted", i + 1,
		    err) : reply_errno(c, errno, "cannot read the jobs it "
		    "depends on");
		return -1;
	}
	return 0;
}

enum MHD_Result
route_batches_post(struct api *a, struct MHD_Connection *c, struct req *r)
{
	struct MHD_Response *resp;
	char cid[JS_ID_SIZE], loc[128];
	enum MHD_Result rc;
	json_t *ids;
	size_t n, len;

	if (!r->ndjson && batch_take_json(c, r) < 0)
		return MHD_YES;
	if (r->nd_err[0] != '\0' && r->nd_oom)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory "
		    "(%s); nothing was submitted", r->nd_err);
	if (r->nd_err[0] != '\0')
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid batch: %s; "
		    "nothing was submitted", r->nd_err);
	n = r->nd_jobs ? json_array_size(r->nd_jobs) : 0;
	if (n == 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "a batch needs at least "
		    "one job");
	if (batch_deps_known(a, c, r, &rc) < 0)
		return rc;
	if (!reply_spool_in_place(a))
		return reply_store_errno(a, c, ENOENT, "cannot store the batch");
	js_id_new(cid);
	switch (batch_store(a, r, n, cid, &ids)) {
	case -1:
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "out of memory");
	case -2:
		return reply_store_errno(a, c, errno, "cannot store the batch");
	}
	metrics_count_submitted(a->metrics, n);
	bus_pending_kick(a->bus);
	resp = reply_json_response_len(json_pack("{s:s,s:o}", "correlation_id",
	    cid, "jobs", ids), &len);
	if (resp == NULL)
		return MHD_NO;
	snprintf(loc, sizeof loc, "/api/v1/batches/%s", cid);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
	return reply_queue_len(c, MHD_HTTP_CREATED, resp, len);
}

static int
seq_cmp(const void *x, const void *y)
{
	const struct idx_hit *a = x, *b = y;

	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;	/* submission order */
	return strcmp(a->id, b->id);
}

/* The jobs of batch cid the caller may see, in submission order. */
static int
batch_hits(struct api *a, struct req *r, const char *cid,
    struct idx_hit **hits, size_t *n)
{
	struct idx_filter f;

	memset(&f, 0, sizeof f);
	f.mask = (1u << JS_NSTATES) - 1;
	f.status_mask = JS_FINAL_MASK;
	f.batch = cid;
	f.owner = r->who.admin ? NULL : r->who.name;
	if (idx_query(a->idx, &f, hits, n) < 0)
		return -1;
	qsort(*hits, *n, sizeof **hits, seq_cmp);
	return 0;
}

/* The length of buf[0..len) without a last UTF-8 sequence that the cut at
 * len left incomplete. */
static size_t
utf8_whole(const char *buf, size_t len)
{
	size_t i, need;
	unsigned char c;

	for (i = len; i > 0 && len - i < 4; i--) {
		c = (unsigned char)buf[i - 1];
		if ((c & 0xc0) == 0x80)
			continue;	/* a continuation byte: look further back */
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return len - (i - 1) < need ? i - 1 : len;
	}
	return len;
}

/*
 * Sets the "log" of job (its first INLINE_LOG_MAX bytes, cut between two
 * characters), "log_truncated" (whether bytes were left out) and
 * "log_error" (why the log could not be given: null if it could).  A job
 * that has not written anything has the log "".  0, or -1/ENOMEM when
 * memory ran out (the job then lacks some of them: not an answer).
 */
static int
add_log(struct api *a, const char *id, json_t *job)
{
	char why[160];
	struct stat st;
	size_t len, got = 0;
	char *buf = NULL;
	json_t *s = NULL;
	int fd, truncated = 0, nomem = 0;

	why[0] = '\0';
	fd = js_spool_log_open(a->sp, id, 0);
	if (fd < 0 && errno == ENOENT) {
		nomem = (s = json_string("")) == NULL;
		goto out;
	}
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, sizeof why, "cannot read the log: %s",
		    errno == ELOOP || errno == EBADMSG ?
		    "it is not a regular file" : strerror(errno));
		goto out;
	}
	len = st.st_size > INLINE_LOG_MAX ? INLINE_LOG_MAX : (size_t)st.st_size;
	if ((buf = malloc(len + 1)) == NULL) {
		nomem = 1;
		goto out;
	}
	while (got < len) {
		ssize_t k = pread(fd, buf + got, len - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			snprintf(why, sizeof why, "cannot read the log: %s",
			    strerror(errno));
			goto out;
		}
		if (k == 0)
			break;	/* it shrank meanwhile */
		got += (size_t)k;
	}
	if ((off_t)got < st.st_size) {
		truncated = 1;
		got = utf8_whole(buf, got);
	}
	/* a log is text; bytes that are not UTF-8 cannot go into JSON */
	js_json_nomem();
	s = json_stringn(buf, got);
	if (s == NULL && js_json_nomem())
		nomem = 1;
	else if (s == NULL)
		snprintf(why, sizeof why, "the log is not UTF-8 text; read its "
		    "bytes from /api/v1/jobs/%s/log", id);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	if (nomem ||
	    json_object_set_new(job, "log", s != NULL ? s : json_null()) < 0 ||
	    json_object_set_new(job, "log_truncated", json_boolean(truncated)) < 0 ||
	    json_object_set_new(job, "log_error", why[0] != '\0' ?
	    json_string(why) : json_null()) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/*
 * The answer of GET /api/v1/batches/{cid}, streamed: the jobs are read up
 * front (for the counts, which come first), but each is serialised, with
 * its log, only when the client is ready for it and freed once sent, so
 * the answer holds at most one log in memory whatever the batch's size.
 */
struct batch_out {
	struct api *a;
	json_t *jobs;		/* read up front, without their logs */
	size_t next;		/* the next job to serialise */
	int logs;		/* ?logs=1 */
	int closed;		/* the closing "]}" is out */
	char *buf;		/* serialised text not yet sent */
	size_t len, off;
};

static void
batch_out_free(void *cls)
{
	struct batch_out *b = cls;

	json_decref(b->jobs);
	free(b->buf);
	free(b);
}

/* Serialises the next piece into b->buf: a job (after a comma but for the
 * first), or the end.  0, 1 at the end of the answer, -1 out of memory. */
static int
batch_next(struct batch_out *b)
{
	json_t *job;
	char *text;
	size_t n;

	free(b->buf);
	b->buf = NULL;
	b->len = b->off = 0;
	if (b->next >= json_array_size(b->jobs)) {
		if (b->closed)
			return 1;
		b->closed = 1;
		b->buf = strdup("]}\n");
		b->len = 3;
		return b->buf != NULL ? 0 : -1;
	}
	job = json_array_get(b->jobs, b->next);
	if (b->logs && add_log(b->a, js_job_str(job, "id"), job) < 0)
		return -1;
	reply_public(job);
	text = js_json_dumps(job, JSON_COMPACT, NULL, NULL);
	json_array_set_new(b->jobs, b->next, json_null());	/* sent: freed */
	if (text == NULL)
		return -1;
	n = strlen(text);
	b->buf = malloc(n + 2);
	if (b->buf == NULL) {
		free(text);
		return -1;
	}
	b->buf[0] = ',';
	memcpy(b->buf + 1, text, n + 1);
	free(text);
	b->off = b->next == 0;	/* no comma before the first */
	b->len = n + 1;
	b->next++;
	return 0;
}

static ssize_t
batch_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct batch_out *b = cls;
	size_t n;
	int rc;

	(void)pos;
	while (b->off == b->len) {
		rc = batch_next(b);
		if (rc > 0)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (rc < 0) {
			js_warn("batch answer: out of memory; answer cut");
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
	}
	n = b->len - b->off < max ? b->len - b->off : max;
	memcpy(out, b->buf + b->off, n);
	b->off += n;
	return (ssize_t)n;
}

/* The jobs of batch cid the caller may see (batch_hits), or after
 * queueing the 404 or error answer *rc, -1. */
static int
batch_find(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *cid, struct idx_hit **hits, size_t *n, enum MHD_Result *rc)
{
	*hits = NULL;
	*n = 0;
	if (!js_id_valid(cid)) {
		*rc = reply_error(c, MHD_HTTP_NOT_FOUND, "no such batch: a "
		    "correlation id is a lowercase UUID");
		return -1;
	}
	if (batch_hits(a, r, cid, hits, n) < 0) {
		*rc = reply_store_errno(a, c, errno, "cannot list the spool");
		return -1;
	}
	if (*n == 0) {
		free(*hits);
		*hits = NULL;
		*rc = reply_error(c, MHD_HTTP_NOT_FOUND, "no batch %s", cid);
		return -1;
	}
	return 0;
}

/* Reads the n jobs of hits (marking the final ones retrieved unless peek)
 * into *jobs and counts them by status into *counts.  0, or -1 with errno
 * (ENOMEM, or the error reading a job that is there) and nothing in *jobs
 * and *counts: an answer holds every job of the batch, or is an error. */
static int
batch_read_jobs(struct api *a, const struct idx_hit *hits, size_t n,
    int peek, json_t **jobs, json_t **counts)
{
	static const char *const names[] = { "pending", "running", "completed",
	    "failed", "cancelled" };
	size_t i;
	int e = ENOMEM;

	*jobs = json_array();
	*counts = json_object();
	if (*jobs == NULL || *counts == NULL)
		goto fail;
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (json_object_set_new(*counts, names[i], json_integer(0)) < 0)
			goto fail;
	for (i = 0; i < n; i++) {
		enum js_state st;
		json_t *job = js_spool_read(a->sp, hits[i].id, &st), *cnt;
		const char *s;
		if (job == NULL && (errno == ENOENT || errno == EBADMSG))
			continue;	/* gone meanwhile, or not a job */
		if (job == NULL) {
			e = errno;
			goto fail;
		}
		if (!peek && (JS_FINAL_MASK & JS_STATE_BIT(st))) {
			json_t *j2 = js_spool_retrieve(a->sp, hits[i].id);
			if (j2 != NULL) {
				json_decref(job);
				job = j2;
			}
		}
		s = js_job_str(job, "status");
		if (s != NULL && (cnt = json_object_get(*counts, s)) != NULL)
			json_integer_set(cnt, json_integer_value(cnt) + 1);
		if (json_array_append_new(*jobs, job) < 0)
			goto fail;
	}
	return 0;
fail:
	json_decref(*jobs);
	json_decref(*counts);
	*jobs = *counts = NULL;
	errno = e;
	return -1;
}

/* The streamed answer's state for jobs (taken), its first piece the head
 * {"correlation_id":...,"total":...,"counts":{...},"jobs":[ (counts
 * taken).  NULL: out of memory. */
static struct batch_out *
batch_out_new(struct api *a, const char *cid, json_t *jobs, json_t *counts,
    int logs)
{
	struct batch_out *b;
	json_t *head;
	char *text, *more;

	head = json_pack("{s:s,s:I,s:o}", "correlation_id", cid, "total",
	    (json_int_t)json_array_size(jobs), "counts", counts);
	text = head != NULL ? js_json_dumps(head, JSON_COMPACT, NULL, NULL) :
	    NULL;
	json_decref(head);
	b = calloc(1, sizeof *b);
	if (text == NULL || b == NULL || jobs == NULL) {
		free(text);
		free(b);
		json_decref(jobs);
		return NULL;
	}
	b->a = a;
	b->jobs = jobs;
	b->logs = logs;
	b->len = strlen(text);
	more = realloc(text, b->len + sizeof ",\"jobs\":[");
	if (more == NULL) {
		free(text);
		batch_out_free(b);
		return NULL;
	}
	b->buf = more;
	memcpy(b->buf + b->len - 1, ",\"jobs\":[", sizeof ",\"jobs\":[");
	b->len += sizeof ",\"jobs\":[" - 2;	/* the '}' went, the NUL stays out */
	return b;
}

enum MHD_Result
route_batch_get(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *cid)
{
	struct idx_hit *hits;
	struct batch_out *b;
	struct MHD_Response *resp;
	enum MHD_Result rc;
	size_t n;
	json_t *jobs, *counts;

	if (batch_find(a, c, r, cid, &hits, &n, &rc) < 0)
		return rc;
	if (batch_read_jobs(a, hits, n, r->head || reply_flag(c, "peek"),
	    &jobs, &counts) < 0) {
		free(hits);
		return reply_errno(c, errno, "cannot read the batch's jobs");
	}
	free(hits);
	b = batch_out_new(a, cid, jobs, counts, reply_flag(c, "logs"));
	if (b == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	if (r->head) {
		/* no body: libmicrohttpd would send a chunked stream's
		 * terminator after a HEAD answer */
		batch_out_free(b);
		b = NULL;
		resp = MHD_create_response_from_buffer(0, "",
		    MHD_RESPMEM_PERSISTENT);
	} else {
		/* frees b when it cannot be made */
		resp = reply_stream(c, 65536, batch_read, b, batch_out_free);
		b = NULL;
	}
	if (resp == NULL) {
		if (b != NULL)
			batch_out_free(b);
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	return reply_queue(c, MHD_HTTP_OK, resp);
}

enum MHD_Result
route_batch_log(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *cid)
{
	struct idx_hit *hits;
	char (*ids)[JS_ID_SIZE];
	struct MHD_Response *resp;
	enum MHD_Result rc;
	size_t n, i;
	int follow;

	if (batch_find(a, c, r, cid, &hits, &n, &rc) < 0)
		return rc;
	ids = calloc(n, sizeof *ids);
	if (ids == NULL) {
		free(hits);
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	for (i = 0; i < n; i++)
		memcpy(ids[i], hits[i].id, JS_ID_SIZE);
	free(hits);
	follow = reply_flag(c, "follow");
	if (r->head)	/* headers only, never a chunked stream (see above) */
		resp = MHD_create_response_from_buffer(0, "",
		    MHD_RESPMEM_PERSISTENT);
	else
		resp = follow_batch_response(a, c, ids, n, follow);
	free(ids);
	if (resp == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain");	/* the jobs' bytes: not checked as UTF-8 */
	return reply_queue(c, MHD_HTTP_OK, resp);
}
