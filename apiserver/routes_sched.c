/*
 * routes_sched.c - what the scheduling rules see, for clients: the live
 * processors (GET /api/v1/processors: the spool's registry and the remote
 * workers this apiserver has seen, lib/registry), pause and resume of the
 * spool or of one label (/api/v1/pause[/{label}], lib/pause; admin tokens
 * change it), and why each pending job waits (lib/sched's js_sched_why,
 * added to the job listing and to GET /api/v1/jobs/{id}).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "pause.h"
#include "sched.h"

/* 403 unless the caller holds an admin token; 0 if it does. */
static int
not_admin(struct MHD_Connection *c, const struct req *r, const char *what,
    enum MHD_Result *rc)
{
	if (r->who.admin)
		return 0;
	*rc = reply_error(c, MHD_HTTP_FORBIDDEN, "%s needs an admin token",
	    what);
	return 1;
}

enum MHD_Result
route_processors(struct api *a, struct MHD_Connection *c, struct req *r)
{
	struct js_proc_info *v;
	enum MHD_Result rc;
	json_t *out, *arr;
	size_t n, i;

	if (not_admin(c, r, "the list of processors", &rc))
		return rc;
	if (js_registry_all(a->sp, a->workers, js_now_ms(), 0, &v, &n) < 0)
		return reply_errno(c, errno, "cannot read the processor registry");
	arr = json_array();
	for (i = 0; arr != NULL && i < n; i++)
		if (json_array_append_new(arr, js_proc_info_json(&v[i])) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	free(v);
	out = arr != NULL ? json_pack("{s:o}", "processors", arr) : NULL;
	if (out == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "out of memory");
	return reply_json(c, MHD_HTTP_OK, out);
}

/* What is paused now as JSON, with "changed" if changed >= 0. */
static enum MHD_Result
pause_answer(struct api *a, struct MHD_Connection *c, int changed)
{
	struct js_pause p;
	json_t *o;

	if (js_pause_read(a->sp, &p) < 0)
		return reply_errno(c, errno, "cannot read what is paused");
	o = js_pause_json(&p);
	js_pause_free(&p);
	if (o != NULL && changed >= 0 &&
	    json_object_set_new(o, "changed", json_boolean(changed)) < 0) {
		json_decref(o);
		o = NULL;
	}
	if (o == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "out of memory");
	return reply_json(c, MHD_HTTP_OK, o);
}

enum MHD_Result
route_pause_get(struct api *a, struct MHD_Connection *c, struct req *r)
{
	(void)r;
	return pause_answer(a, c, -1);
}

/* Pauses (on) or resumes label (NULL: the spool) for an admin. */
static enum MHD_Result
pause_change(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *label, int on)
{
	enum MHD_Result rc;
	int changed;

	if (not_admin(c, r, on ? "pausing" : "resuming", &rc))
		return rc;
	if (label != NULL && !js_label_valid(label))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "bad label '%.64s': "
		    "a label is 1 to %d letters, digits, '-', '_' or '.'",
		    label, JS_LABEL_MAX);
	changed = js_pause_set(a->sp, label, on, r->who.name[0] ?
	    r->who.name : NULL);
	if (changed < 0)
		return reply_store_errno(a, c, errno, on ? "cannot pause" :
		    "cannot resume");
	if (changed) {
		js_info("%s %s%s by %s", on ? "paused" : "resumed",
		    label != NULL ? "label " : "the spool", label != NULL ?
		    label : "", r->who.name[0] ? r->who.name : "anonymous");
		bus_pending_kick(a->bus);	/* waiting claims look again */
	}
	return pause_answer(a, c, changed);
}

enum MHD_Result
route_pause_put(struct api *a, struct MHD_Connection *c, struct req *r)
{
	return pause_change(a, c, r, NULL, 1);
}

enum MHD_Result
route_pause_delete(struct api *a, struct MHD_Connection *c, struct req *r)
{
	return pause_change(a, c, r, NULL, 0);
}

enum MHD_Result
route_pause_label_put(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *label)
{
	return pause_change(a, c, r, label, 1);
}

enum MHD_Result
route_pause_label_delete(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *label)
{
	return pause_change(a, c, r, label, 0);
}

/* ---- why pending jobs wait ---- */

/* What js_sched_why looks at, gathered once per request. */
struct world {
	struct js_pause pause;
	struct js_proc_info *procs;	/* the live ones */
	struct js_sched_world w;
};

static int
world_open(struct api *a, struct world *wd)
{
	size_t n;

	memset(wd, 0, sizeof *wd);
	wd->w.now_ms = js_now_ms();
	if (js_pause_read(a->sp, &wd->pause) < 0)
		return -1;
	if (js_registry_all(a->sp, a->workers, wd->w.now_ms, 1, &wd->procs,
	    &n) < 0) {
		js_pause_free(&wd->pause);
		return -1;
	}
	wd->w.pause = &wd->pause;
	wd->w.procs = wd->procs;
	wd->w.nprocs = n;
	return 0;
}

static void
world_close(struct world *wd)
{
	js_pause_free(&wd->pause);
	free(wd->procs);
}

/* Sets "waiting" of job if it is pending. */
static int
waiting_set(struct api *a, const struct world *wd, json_t *job)
{
	const char *st = js_job_str(job, "status"), *id = js_job_str(job, "id");
	struct js_sched_reason why;
	struct js_deps_result dr;
	int64_t written = 0;
	off_t size;

	if (st == NULL || strcmp(st, "pending") != 0)
		return 0;
	/* a hand-written "delay" counts from the file's mtime */
	if (json_object_get(job, "delay") != NULL && id != NULL &&
	    js_spool_stat(a->sp, id, JS_PENDING, &written, &size) < 0)
		written = 0;
	js_sched_why(job, written, &wd->w, &why);
	/* first of all, it waits for a job that has not ended (lib/deps) */
	if (id != NULL && js_deps_has(job) &&
	    js_spool_deps(a->sp, id, job, &dr) == 0 &&
	    dr.verdict == JS_DEPS_WAIT) {
		why.code = JS_WAIT_AFTER;
		why.after = dr.id;
		why.after_state = dr.outcome;
	}
	return json_object_set_new(job, "waiting", js_sched_reason_json(&why));
}

int
waiting_list(struct api *a, json_t *out)
{
	struct world wd;
	json_t *v;
	size_t i;
	int rc = 0;

	if (world_open(a, &wd) < 0)
		return -1;
	if (json_object_set_new(out, "paused", js_pause_json(&wd.pause)) < 0)
		rc = -1;
	json_array_foreach(json_object_get(out, "jobs"), i, v)
		if (waiting_set(a, &wd, v) < 0)
			rc = -1;
	world_close(&wd);
	if (rc < 0)
		errno = ENOMEM;
	return rc;
}

int
waiting_job(struct api *a, json_t *job)
{
	const char *st = js_job_str(job, "status");
	struct world wd;
	int rc;

	if (st == NULL || strcmp(st, "pending") != 0)
		return 0;
	if (world_open(a, &wd) < 0)
		return -1;
	rc = waiting_set(a, &wd, job);
	world_close(&wd);
	if (rc < 0)
		errno = ENOMEM;
	return rc;
}
