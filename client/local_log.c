/* local_log.c - local mode's waiting, log following and listing.  Waiting
 * sleeps on inotify events of the spool directory (a job file renamed, a
 * log written); a one-second timeout is the safety net for filesystems
 * without events. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "local.h"
#include "sched.h"

#define SAFETY_MS 1000

struct js_spool *
cl_local_spool(struct cl_ctx *ctx)
{
	return ctx->be;
}

/* An inotify watch of the spool directory, or -1 (then the waits are
 * plain sleeps of the safety timeout). */
static int
watch_open(struct cl_ctx *ctx)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	if (fd >= 0 && inotify_add_watch(fd, js_spool_path(
	    cl_local_spool(ctx)), IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
	    IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Whether the n bytes of events in buf say anything about a job's files:
 * not jobs.lock, which every lock of a job opens and closes (our own
 * included: waking on it would wake us for ever), nor tmp/. */
static int
job_event(const char *buf, ssize_t n)
{
	char id[JS_ID_SIZE];
	const char *side;
	ssize_t off;
	int st;

	for (off = 0; off < n; ) {
		const struct inotify_event *ev =
		    (const struct inotify_event *)(const void *)(buf + off);
		if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 &&
		    js_spool_parse_name(ev->name, id, &st, &side) == 0))
			return 1;
		off += (ssize_t)(sizeof *ev + ev->len);
	}
	return 0;
}

/* Sleeps until a job's file changed or ms (at most the safety timeout)
 * passed; drains what came. */
static void
watch_wait(int fd, int64_t ms)
{
	char buf[4096] __attribute__((aligned(8)));
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t end, left;
	ssize_t n;
	int hit = 0;

	if (ms > SAFETY_MS || ms < 0)
		ms = SAFETY_MS;
	if (fd < 0) {
		usleep((useconds_t)(ms > 200 ? 200 : ms) * 1000);
		return;
	}
	end = js_mono_ms() + ms;
	while (!hit && (left = end - js_mono_ms()) > 0 &&
	    poll(&p, 1, (int)left) > 0) {
		while ((n = read(fd, buf, sizeof buf)) > 0)
			hit |= job_event(buf, n);
	}
	if (hit)
		usleep(20000);	/* a busy spool wakes us at most 50 times a second */
}

/* Whether job id is final now: 1 yes (or gone: *gone), 0 no, -1 error. */
static int
is_final(struct cl_ctx *ctx, const char *id, int *gone)
{
	enum js_state st;

	*gone = 0;
	if (js_spool_locate(cl_local_spool(ctx), id, &st) < 0) {
		if (errno != ENOENT)
			return -1;
		*gone = 1;
		return 1;
	}
	return js_sched_final(st);
}

int
cl_local_wait(struct cl_ctx *ctx, const char *id, int64_t timeout_ms,
    json_t **job, int *final)
{
	int64_t deadline = js_mono_ms() + timeout_ms;
	int fd = watch_open(ctx), f, gone;

	*final = 0;
	for (;;) {
		if ((f = is_final(ctx, id, &gone)) < 0 || gone) {
			snprintf(ctx->err, sizeof ctx->err, gone ? "no job %s" :
			    "cannot find job %s: %s", id, strerror(errno));
			break;
		}
		if (f || (timeout_ms >= 0 && js_mono_ms() >= deadline))
			break;
		watch_wait(fd, timeout_ms < 0 ? SAFETY_MS :
		    deadline - js_mono_ms());
	}
	if (fd >= 0)
		close(fd);
	if (f < 0 || gone)
		return -1;
	*final = f;
	*job = js_spool_read_current(cl_local_spool(ctx), id, NULL);
	if (*job == NULL)
		snprintf(ctx->err, sizeof ctx->err, "cannot read job %s: %s", id,
		    strerror(errno));
	return *job != NULL ? 0 : -1;
}

/* Copies what the log has after *off to out.  0, or -1 (errno). */
static int
copy_new(int fd, long long *off, FILE *out)
{
	char buf[16384];
	ssize_t n;

	while ((n = pread(fd, buf, sizeof buf, (off_t)*off)) > 0) {
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			return -1;
		*off += n;
	}
	fflush(out);
	return n < 0 ? -1 : 0;
}

int
cl_local_log(struct cl_ctx *ctx, const char *id, long long offset,
    int follow, FILE *out)
{
	int fd = -1, wfd = follow ? watch_open(ctx) : -1, done = 0, gone, f;
	int rc = 0;

	if (is_final(ctx, id, &gone) < 0 || gone) {
		snprintf(ctx->err, sizeof ctx->err, "no job %s", id);
		rc = -1;
	}
	while (rc == 0) {
		if (fd < 0)
			fd = js_spool_log_open(cl_local_spool(ctx), id, 0);
		if (fd < 0 && errno != ENOENT)
			rc = -1;
		else if (fd >= 0 && copy_new(fd, &offset, out) < 0)
			rc = -1;
		if (rc < 0)
			snprintf(ctx->err, sizeof ctx->err, "cannot read the log "
			    "of %s: %s", id, strerror(errno));
		if (rc < 0 || done || !follow)
			break;
		if ((f = is_final(ctx, id, &gone)) != 0) {
			done = 1;	/* once more: the last lines */
			continue;
		}
		watch_wait(wfd, SAFETY_MS);
	}
	if (fd >= 0)
		close(fd);
	if (wfd >= 0)
		close(wfd);
	return rc;
}

/* One job of a merged batch log. */
struct bj {
	const char *id;
	int fd, done;
	long long off;
	char part[4096];	/* an incomplete last line */
	size_t plen;
};

/* Prints the new complete lines of one job, each prefixed by its id; its
 * last incomplete line too when last is set. */
static void
bj_pump(struct cl_ctx *ctx, struct bj *j, int last, FILE *out)
{
	char buf[4096];
	ssize_t n, i;

	if (j->fd < 0)
		j->fd = js_spool_log_open(cl_local_spool(ctx), j->id, 0);
	while (j->fd >= 0 &&
	    (n = pread(j->fd, buf, sizeof buf, (off_t)j->off)) > 0) {
		j->off += n;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n' && j->plen < sizeof j->part) {
				j->part[j->plen++] = buf[i];
				continue;
			}
			fprintf(out, "%s %.*s\n", j->id, (int)j->plen, j->part);
			j->plen = 0;
			if (buf[i] != '\n')
				j->part[j->plen++] = buf[i];
		}
	}
	if (last && j->plen > 0)
		fprintf(out, "%s %.*s\n", j->id, (int)j->plen, j->part);
	fflush(out);
}

/* Follows the logs of the n jobs of js until each is final. */
static void
follow_merged(struct cl_ctx *ctx, struct bj *js, size_t n, FILE *out)
{
	int wfd = watch_open(ctx), gone;
	size_t i, ndone = 0;

	for (i = 0; i < n; i++)
		ndone += js[i].done != 0;
	while (ndone < n) {
		for (i = 0; i < n; i++) {
			int fin;
			if (js[i].done)
				continue;
			fin = is_final(ctx, js[i].id, &gone) != 0;
			bj_pump(ctx, &js[i], fin, out);
			if (fin) {
				js[i].done = 1;
				ndone++;
			}
		}
		if (ndone < n)
			watch_wait(wfd, SAFETY_MS);
	}
	if (wfd >= 0)
		close(wfd);
}

int
cl_local_batch_log(struct cl_ctx *ctx, const json_t *batch, FILE *out)
{
	json_t *ids = json_object_get(batch, "jobs");
	size_t n = json_array_size(ids), i;
	struct bj *js = calloc(n ? n : 1, sizeof *js);

	if (js == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		js[i].id = json_string_value(json_array_get(ids, i));
		js[i].fd = -1;
		if (js[i].id == NULL || !js_id_valid(js[i].id)) {
			js[i].id = "?";	/* not from our batch: never */
			js[i].done = 1;
		}
	}
	follow_merged(ctx, js, n, out);
	for (i = 0; i < n; i++)
		if (js[i].fd >= 0)
			close(js[i].fd);
	free(js);
	return 0;
}

int
cl_filter_match(const struct cl_filter *f, const json_t *job)
{
	const char *st = js_job_str(job, "status"), *v;
	json_t *labels = json_object_get(job, "labels"), *l;
	char buf[256], *tok, *save;
	size_t i;
	int hit = f->state == NULL;

	if (f->state != NULL && strlen(f->state) < sizeof buf) {
		strcpy(buf, f->state);
		for (tok = strtok_r(buf, ",", &save); tok != NULL && !hit;
		    tok = strtok_r(NULL, ",", &save))
			hit = strcasecmp(tok, "retrieved") == 0 ?
			    js_job_str(job, "retrieved_at") != NULL :
			    st != NULL && strcasecmp(tok, st) == 0;
	}
	if (!hit)
		return 0;
	if (f->name != NULL && ((v = js_job_str(job, "name")) == NULL ||
	    strcmp(v, f->name) != 0))
		return 0;
	if (f->batch != NULL && ((v = js_job_str(job, "batch")) == NULL ||
	    strcmp(v, f->batch) != 0))
		return 0;
	if (f->label == NULL)
		return 1;
	json_array_foreach(labels, i, l)
		if (json_is_string(l) && strcmp(json_string_value(l),
		    f->label) == 0)
			return 1;
	return 0;
}

/* Newest first: by "seq" (submission order), then created_at. */
static int
newest_first(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	long long sa = js_job_int(a, "seq", 0), sb = js_job_int(b, "seq", 0);
	const char *ca = js_job_str(a, "created_at"), *cb = js_job_str(b,
	    "created_at");
	int c = strcmp(cb ? cb : "", ca ? ca : "");

	if (c != 0)
		return c;
	return sa < sb ? 1 : sa > sb ? -1 : 0;
}

int
cl_local_list(struct cl_ctx *ctx, const struct cl_filter *f, json_t **jobs)
{
	struct js_entry *v = NULL;
	size_t n = 0, i, k = 0;
	json_t **all;

	if (js_spool_list(cl_local_spool(ctx), (1u << JS_NSTATES) - 1, 0, &v,
	    &n) < 0) {
		snprintf(ctx->err, sizeof ctx->err, "cannot list the spool: %s",
		    strerror(errno));
		return -1;
	}
	all = calloc(n ? n : 1, sizeof *all);
	*jobs = json_array();
	for (i = 0; all != NULL && i < n; i++) {
		json_t *j = js_spool_read_state(cl_local_spool(ctx), v[i].id,
		    v[i].state);
		if (j == NULL && errno == ENOENT)	/* it moved on meanwhile */
			j = js_spool_read_current(cl_local_spool(ctx), v[i].id,
			    NULL);
		if (j != NULL && cl_filter_match(f, j))
			all[k++] = j;
		else
			json_decref(j);
	}
	qsort(all, k, sizeof *all, newest_first);
	for (i = 0; i < k; i++) {
		if (f->limit < 0 || (long)i < f->limit)
			json_array_append(*jobs, all[i]);
		json_decref(all[i]);
	}
	free(all);
	free(v);
	return 0;
}
