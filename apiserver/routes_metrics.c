/* routes_metrics.c - GET /metrics: the gauges of one scrape (jobs by state
 * from the listing index, the age of the oldest pending job, the spool's
 * free space, the live processors by label, what is paused) and the
 * counters of metrics.c, as Prometheus text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "api.h"
#include "pause.h"
#include "sched.h"

/* Since when the pending job hit h has waited: the later of its
 * submission (the file's mtime; with read, its created_at) and its start
 * time (run_at, delay, not_before), so that a job asked to run later
 * waits from then. */
static int64_t
waiting_since(struct api *a, const struct idx_hit *h, int read)
{
	json_t *job = read ? js_spool_read_state(a->sp, h->id, JS_PENDING) :
	    NULL;
	const char *c = job != NULL ? js_job_str(job, "created_at") : NULL;
	int64_t t = h->mtime_ms;

	if (c != NULL && js_time_parse(c, &t) < 0)
		t = h->mtime_ms;
	json_decref(job);
	return h->not_before_ms > t ? h->not_before_ms : t;
}

/* Jobs by state and the oldest pending one, from the listing index. */
static int
gauges_jobs(struct api *a, struct metrics_gauges *g)
{
	struct idx_filter f;
	struct idx_hit *hits = NULL;
	size_t n = 0, i, old = (size_t)-1;
	int64_t now = js_now_ms(), t;

	memset(&f, 0, sizeof f);
	f.mask = (1u << JS_NSTATES) - 1;
	f.status_mask = JS_FINAL_MASK;
	if (idx_query(a->idx, &f, &hits, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		g->jobs[hits[i].state]++;
		/* a job whose start time is still to come is not waiting */
		if (hits[i].state == JS_PENDING && !hits[i].bad &&
		    js_sched_ready(hits[i].not_before_ms, now) &&
		    (old == (size_t)-1 || waiting_since(a, &hits[i], 0) <
		    waiting_since(a, &hits[old], 0)))
			old = i;
	}
	if (old != (size_t)-1 && (t = waiting_since(a, &hits[old], 1)) > 0 &&
	    now > t)
		g->oldest_pending_s = (double)(now - t) / 1000.0;
	free(hits);
	return 0;
}

/* The spool's free bytes and inodes (for unprivileged users). */
static void
gauges_fs(struct api *a, struct metrics_gauges *g)
{
	struct statvfs v;

	if (fstatvfs(js_spool_fd(a->sp), &v) < 0)
		return;
	g->have_fs = 1;
	g->free_bytes = (double)v.f_bavail * (double)v.f_frsize;
	g->free_inodes = (double)v.f_favail;
}

enum MHD_Result
route_metrics(struct api *a, struct MHD_Connection *c)
{
	struct metrics_gauges g;
	struct metrics_label *labels = NULL;
	struct js_pause p = { 0, NULL, 0 };
	struct MHD_Response *resp;
	size_t len;
	char *text;

	memset(&g, 0, sizeof g);
	if (gauges_jobs(a, &g) < 0)
		return reply_errno(c, errno, "cannot list the spool");
	gauges_fs(a, &g);
	g.claims = leases_claims(a->leases);
	if (health_labels(a, &labels, &g.nlabels) == 0)
		g.labels = labels;
	if (js_pause_read(a->sp, &p) == 0) {
		g.have_pause = 1;
		g.paused = p.all;
		g.paused_labels = p.labels;
		g.npaused = p.nlabels;
	}
	text = metrics_text(a->metrics, &g, &len);
	js_pause_free(&p);
	free(labels);
	if (text == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	return reply_queue_len(c, MHD_HTTP_OK, resp, len);
}
