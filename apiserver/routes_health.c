/*
 * routes_health.c - GET /healthz (no token): whether this apiserver can do
 * its work, for a load balancer (200, or 503 when it cannot: the spool is
 * removed, moved, read-only, full or not writable), and what an operator
 * asks first, as JSON: the spool's state, the live processors (the spool's
 * registry and the remote workers this server saw, lib/registry), what is
 * paused, and "stalled": how many pending jobs no live processor can take
 * (lib/sched's js_sched_why says no processor, none with the job's label,
 * or none that takes it) - the field to alert on.  A job that waits for
 * its start time, a dependency or a pause is not stalled.  Jobs whose
 * start time is still to come are told from the index without reading
 * their files; of the others at most HEALTH_SCAN_MAX are read, and
 * "stalled_exact" says whether that was all of them (else "stalled" is a
 * lower bound).
 * Also the per-label processor gauges of /metrics (health_labels).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "api.h"
#include "pause.h"
#include "registry.h"
#include "sched.h"

#define HEALTH_SCAN_MAX 1000	/* pending jobs looked at for "stalled" */

/* The live processors as JSON, with their totals. */
static json_t *
procs_json(const struct js_proc_info *v, size_t n)
{
	json_t *list = json_array();
	long slots = 0, running = 0, free_slots = 0;
	size_t i;

	for (i = 0; list != NULL && i < n; i++) {
		if (v[i].slots > 0)
			slots += v[i].slots;
		if (v[i].running > 0)
			running += v[i].running;
		if (v[i].slots > 0 && v[i].running >= 0 && v[i].slots > v[i].running)
			free_slots += v[i].slots - v[i].running;
		if (json_array_append_new(list, js_proc_info_json(&v[i])) < 0) {
			json_decref(list);
			return NULL;
		}
	}
	if (list == NULL)
		return NULL;
	return json_pack("{s:I,s:I,s:I,s:I,s:o}", "alive", (json_int_t)n,
	    "slots", (json_int_t)slots, "running", (json_int_t)running,
	    "free_slots", (json_int_t)free_slots, "list", list);
}

/* Whether js_sched_why's code means no live processor can take the job. */
static int
is_stalled(enum js_sched_wait w)
{
	return w == JS_WAIT_NO_PROCESSOR || w == JS_WAIT_NO_LABEL ||
	    w == JS_WAIT_NO_MATCH;
}

/* What count_stalled found among the pending jobs. */
struct stall {
	size_t pending;		/* all of them */
	size_t scheduled;	/* their start time is still to come */
	size_t stalled;		/* no live processor can take them */
	int exact;		/* every one that could be stalled was read */
};

/* Counts the pending jobs and, among the first HEALTH_SCAN_MAX in
 * submission order whose start time has come, those no live processor of
 * w can take. */
static int
count_stalled(struct api *a, const struct js_sched_world *w, struct stall *s)
{
	struct idx_filter f;
	struct idx_hit *hits = NULL;
	size_t n = 0, i, looked = 0;

	memset(&f, 0, sizeof f);
	f.mask = JS_STATE_BIT(JS_PENDING);
	if (idx_query(a->idx, &f, &hits, &n) < 0)
		return -1;
	memset(s, 0, sizeof *s);
	s->pending = n;
	s->exact = 1;
	for (i = 0; i < n; i++) {
		json_t *job;
		if (!js_sched_ready(hits[i].not_before_ms, w->now_ms)) {
			s->scheduled++;	/* waits for its time: not stalled */
			continue;
		}
		if (hits[i].bad)
			continue;
		if (looked == HEALTH_SCAN_MAX) {
			s->exact = 0;
			continue;
		}
		job = js_spool_read_state(a->sp, hits[i].id, JS_PENDING);
		if (job == NULL)
			continue;	/* claimed meanwhile */
		looked++;
		if (is_stalled(js_sched_why(job, hits[i].mtime_ms, w, NULL)))
			s->stalled++;
		json_decref(job);
	}
	free(hits);
	return 0;
}

/* The spool's part: path, writable (with the reason if not), free space. */
static json_t *
spool_json(struct api *a, int ok, const char *err)
{
	struct statvfs v;
	json_t *j = json_pack("{s:s,s:b}", "path", js_spool_path(a->sp),
	    "writable", ok);

	if (j == NULL)
		return NULL;
	if (!ok)
		json_object_set_new(j, "error", json_string(err));
	if (fstatvfs(js_spool_fd(a->sp), &v) == 0) {
		json_object_set_new(j, "free_bytes", json_integer((json_int_t)
		    ((unsigned long long)v.f_bavail * v.f_frsize)));
		json_object_set_new(j, "free_inodes",
		    json_integer((json_int_t)v.f_favail));
	}
	return j;
}

/* The queue, processors and pauses into doc; -1 (errno) if unreadable. */
static int
world_json(struct api *a, json_t *doc)
{
	struct js_sched_world w;
	struct js_pause p;
	struct js_proc_info *v = NULL;
	struct stall s;
	size_t n = 0;
	int rc = 0;

	memset(&w, 0, sizeof w);
	w.now_ms = js_now_ms();
	if (js_pause_read(a->sp, &p) < 0)
		return -1;
	if (js_registry_all(a->sp, a->workers, w.now_ms, 1, &v, &n) < 0) {
		js_pause_free(&p);
		return -1;
	}
	w.pause = &p;
	w.procs = v;
	w.nprocs = n;
	if (count_stalled(a, &w, &s) < 0)
		rc = -1;
	else if (json_object_set_new(doc, "processors", procs_json(v, n)) < 0 ||
	    json_object_set_new(doc, "paused", js_pause_json(&p)) < 0 ||
	    json_object_set_new(doc, "pending", json_integer((json_int_t)
	    s.pending)) < 0 || json_object_set_new(doc, "scheduled",
	    json_integer((json_int_t)s.scheduled)) < 0 ||
	    json_object_set_new(doc, "stalled",
	    json_integer((json_int_t)s.stalled)) < 0 ||
	    json_object_set_new(doc, "stalled_exact",
	    json_boolean(s.exact)) < 0) {
		rc = -1;
		errno = ENOMEM;
	}
	js_pause_free(&p);
	free(v);
	return rc;
}

enum MHD_Result
route_healthz(struct api *a, struct MHD_Connection *c)
{
	char err[512];
	int ok = js_spool_check(a->sp, err, sizeof err) == 0;
	json_t *doc = json_pack("{s:s}", "status", ok ? "ok" : "unavailable");

	if (doc == NULL || json_object_set_new(doc, "spool",
	    spool_json(a, ok, err)) < 0) {
		json_decref(doc);
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	}
	if (!ok)
		json_object_set_new(doc, "error", json_string(err));
	if (world_json(a, doc) < 0)
		json_object_set_new(doc, "world_error", json_string(strerror(errno)));
	return reply_json(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, doc);
}

int
health_labels(struct api *a, struct metrics_label **out, size_t *nout)
{
	struct js_proc_info *v = NULL;
	struct metrics_label *l = NULL;
	size_t n = 0, nl = 0, i, k, j;

	*out = NULL;
	*nout = 0;
	if (js_registry_all(a->sp, a->workers, js_now_ms(), 1, &v, &n) < 0)
		return -1;
	/* at most every label of every processor, and "" */
	l = calloc(n * JS_LABELS_MAX + 1, sizeof *l);
	if (l == NULL) {
		free(v);
		return -1;
	}
	nl = 1;		/* l[0] is "" */
	for (i = 0; i < n; i++) {
		unsigned long fs = v[i].slots > 0 && v[i].running >= 0 &&
		    v[i].slots > v[i].running ?
		    (unsigned long)(v[i].slots - v[i].running) : 0;
		for (k = 0; k <= v[i].nlabels; k++) {
			const char *lab = k < v[i].nlabels ? v[i].labels[k] : "";
			if (k == v[i].nlabels && v[i].exclusive)
				break;	/* a dedicated one takes no unlabelled job */
			for (j = 0; j < nl && strcmp(l[j].label, lab) != 0; j++)
				;
			if (j == nl)
				memcpy(l[nl++].label, lab, strlen(lab) + 1);
			l[j].processors++;
			l[j].free_slots += fs;
		}
	}
	free(v);
	*out = l;
	*nout = nl;
	return 0;
}
