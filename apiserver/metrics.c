/* metrics.c - the counters of /metrics and their Prometheus text format
 * (version 0.0.4); the route itself is routes_metrics.c, which gathers the
 * gauges (struct metrics_gauges: jobs by state, oldest pending job, spool
 * space, processors).  The counters only grow while the server runs, fed
 * by events as they happen, never recomputed from the files present: jobs
 * submitted through this server, jobs seen finishing (bus.c's watcher,
 * once per job) with a histogram of their run time, jobs seen starting
 * with a histogram of their wait in the queue (submission to start),
 * worker claims, HTTP answers by route and status code.  One label name
 * for a job's state everywhere: state. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "buf.h"

static const double bounds[] = { 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600,
    1800, 3600, 21600, 86400 };
#define NBOUNDS (sizeof bounds / sizeof bounds[0])
#define NCODES 600
#define NROUTES 64		/* route names counted (the table's and "none") */

static const char *const state_names[] = { "pending", "running",
    "completed", "failed", "cancelled", "retrieved" };

struct hist {
	unsigned long le[NBOUNDS];	/* cumulative: le bounds[k] */
	unsigned long count;
	double sum;
};

struct metrics {
	/* HTTP answers by route and status: route_name[k] (set once, in the
	 * order first seen) names the row by_route[k] */
	_Atomic(const char *) route_name[NROUTES];
	atomic_ulong by_route[NROUTES][NCODES];
	atomic_ulong submitted;
	atomic_ulong auth_refused[AUTH_NREASONS];	/* by auth_reason */
	pthread_mutex_t mu;		/* guards what follows */
	unsigned long finished[JS_NSTATES];
	struct hist run;		/* started_at to finished_at */
	struct hist wait;		/* created_at to started_at */
	double start_time;		/* of the process, Unix seconds */
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof *m);
	struct timespec ts;
	int e;

	if (m == NULL)
		return NULL;
	if ((e = pthread_mutex_init(&m->mu, NULL)) != 0) {
		free(m);
		errno = e;
		return NULL;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
		m->start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* Observes d seconds in h; under m->mu. */
static void
observe(struct hist *h, double d)
{
	size_t k;

	for (k = 0; k < NBOUNDS; k++)
		if (d <= bounds[k])
			h->le[k]++;
	h->count++;
	h->sum += d;
}

/* The seconds from job's field a to its field b (both set, b not before
 * a): 0 with *d, else -1. */
static int
span(const json_t *job, const char *a, const char *b, double *d)
{
	const char *s1 = job ? js_job_str(job, a) : NULL;
	const char *s2 = job ? js_job_str(job, b) : NULL;
	int64_t t1, t2;

	if (s1 == NULL || s2 == NULL || js_time_parse(s1, &t1) < 0 ||
	    js_time_parse(s2, &t2) < 0 || t1 <= 0 || t2 < t1)
		return -1;
	*d = (double)(t2 - t1) / 1000.0;
	return 0;
}

void
metrics_job_finished(struct metrics *m, enum js_state st, const json_t *job)
{
	double d;

	pthread_mutex_lock(&m->mu);
	m->finished[st]++;
	if (span(job, "started_at", "finished_at", &d) == 0)
		observe(&m->run, d);
	pthread_mutex_unlock(&m->mu);
}

int
metrics_job_started(struct metrics *m, const json_t *job)
{
	double d;

	if (span(job, "created_at", "started_at", &d) < 0)
		return -1;
	pthread_mutex_lock(&m->mu);
	observe(&m->wait, d);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* The slot of route name (taking a free one for a name not seen yet), or
 * NROUTES if every slot holds another name. */
static size_t
route_slot(struct metrics *m, const char *name)
{
	size_t k;

	for (k = 0; k < NROUTES; k++) {
		const char *cur = atomic_load(&m->route_name[k]);
		if (cur == NULL && atomic_compare_exchange_strong(
		    &m->route_name[k], &cur, name))
			return k;
		if (strcmp(cur, name) == 0)
			return k;
	}
	return NROUTES;
}

void
metrics_count_request(struct metrics *m, const char *route, unsigned status)
{
	size_t k = route_slot(m, route);

	if (k < NROUTES && status < NCODES)
		atomic_fetch_add(&m->by_route[k][status], 1);
}

void
metrics_count_submitted(struct metrics *m, size_t n)
{
	atomic_fetch_add(&m->submitted, n);
}

void
metrics_count_auth_refusal(struct metrics *m, int reason)
{
	if (m != NULL && reason > 0 && reason < AUTH_NREASONS)
		atomic_fetch_add(&m->auth_refused[reason], 1);
}


/* A label value, escaped as the text format asks (\\, \", \n). */
static void
label_value(struct js_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			js_buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			js_buf_puts(b, "\\n");
		else
			js_buf_printf(b, "%c", *s);
	}
}

static void
family(struct js_buf *b, const char *name, const char *type, const char *help)
{
	js_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
hist_text(struct js_buf *b, const char *name, const char *help,
    const struct hist *h)
{
	size_t k;

	family(b, name, "histogram", help);
	for (k = 0; k < NBOUNDS; k++)
		js_buf_printf(b, "%s_bucket{le=\"%g\"} %lu\n", name, bounds[k],
		    h->le[k]);
	js_buf_printf(b, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %.3f\n"
	    "%s_count %lu\n", name, h->count, name, h->sum, name, h->count);
}

/* The jobs: gauges by state, oldest pending, and the counters. */
static void
jobs_text(struct js_buf *b, struct metrics *m, const struct metrics_gauges *g,
    const unsigned long finished[JS_NSTATES])
{
	size_t i;

	family(b, "jobspool_jobs", "gauge", "Jobs in the spool by state.");
	for (i = 0; i < JS_NSTATES; i++)
		js_buf_printf(b, "jobspool_jobs{state=\"%s\"} %lu\n",
		    state_names[i], g->jobs[i]);
	family(b, "jobspool_oldest_pending_job_age_seconds", "gauge",
	    "Time the longest-waiting pending job has waited, from its "
	    "submission or its later start time (0 when none waits).");
	js_buf_printf(b, "jobspool_oldest_pending_job_age_seconds %.3f\n",
	    g->oldest_pending_s);
	family(b, "jobspool_jobs_submitted_total", "counter",
	    "Jobs submitted through this server since it started.");
	js_buf_printf(b, "jobspool_jobs_submitted_total %lu\n",
	    atomic_load(&m->submitted));
	family(b, "jobspool_jobs_finished_total", "counter", "Jobs seen "
	    "finishing since this server started, by final state.");
	for (i = JS_COMPLETED; i <= JS_CANCELLED; i++)
		js_buf_printf(b, "jobspool_jobs_finished_total{state=\"%s\"} %lu\n",
		    state_names[i], finished[i]);
	family(b, "jobspool_worker_claims_total", "counter",
	    "Jobs handed to remote workers since this server started.");
	js_buf_printf(b, "jobspool_worker_claims_total %lu\n", g->claims);
}

/* The spool's filesystem, the processors, the paused queues. */
static void
spool_text(struct js_buf *b, const struct metrics_gauges *g)
{
	size_t i;

	if (g->have_fs) {
		family(b, "jobspool_spool_free_bytes", "gauge", "Bytes free for "
		    "unprivileged users on the spool's filesystem.");
		js_buf_printf(b, "jobspool_spool_free_bytes %.0f\n", g->free_bytes);
		family(b, "jobspool_spool_free_inodes", "gauge", "Inodes free for "
		    "unprivileged users on the spool's filesystem.");
		js_buf_printf(b, "jobspool_spool_free_inodes %.0f\n",
		    g->free_inodes);
	}
	if (g->nlabels == 0)
		return;
	family(b, "jobspool_processors", "gauge", "Live processors (local and "
	    "remote) that take jobs of a label (\"\": jobs without labels).");
	for (i = 0; i < g->nlabels; i++) {
		js_buf_puts(b, "jobspool_processors{label=\"");
		label_value(b, g->labels[i].label);
		js_buf_printf(b, "\"} %lu\n", g->labels[i].processors);
	}
	family(b, "jobspool_free_slots", "gauge", "Free job slots of the live "
	    "processors that take jobs of a label.");
	for (i = 0; i < g->nlabels; i++) {
		js_buf_puts(b, "jobspool_free_slots{label=\"");
		label_value(b, g->labels[i].label);
		js_buf_printf(b, "\"} %lu\n", g->labels[i].free_slots);
	}
}

/* What is paused (lib/pause): the spool, and each paused label. */
static void
pause_text(struct js_buf *b, const struct metrics_gauges *g)
{
	size_t i;

	if (!g->have_pause)
		return;
	family(b, "jobspool_spool_paused", "gauge", "1 while claims of every "
	    "job are paused (SPOOL/paused), else 0.");
	js_buf_printf(b, "jobspool_spool_paused %d\n", g->paused ? 1 : 0);
	family(b, "jobspool_label_paused", "gauge", "1 for each label whose "
	    "jobs' claims are paused (SPOOL/paused.d/LABEL).");
	for (i = 0; i < g->npaused; i++) {
		js_buf_puts(b, "jobspool_label_paused{label=\"");
		label_value(b, g->paused_labels[i]);
		js_buf_puts(b, "\"} 1\n");
	}
}

static void
http_text(struct js_buf *b, struct metrics *m)
{
	size_t r, i;

	family(b, "jobspool_http_requests_total", "counter",
	    "HTTP answers by route (the route table's name, none: no route) "
	    "and status code.");
	for (r = 0; r < NROUTES; r++) {
		const char *name = atomic_load(&m->route_name[r]);
		if (name == NULL)
			break;
		for (i = 100; i < NCODES; i++) {
			unsigned long v = atomic_load(&m->by_route[r][i]);
			if (v > 0)
				js_buf_printf(b, "jobspool_http_requests_total"
				    "{route=\"%s\",code=\"%zu\"} %lu\n", name, i, v);
		}
	}
}

/* Refused credentials by reason (auth.c), every reason shown from 0. */
static void
auth_text(struct js_buf *b, struct metrics *m)
{
	int r;

	family(b, "jobspool_auth_refusals_total", "counter",
	    "Requests refused for their credentials, by reason (missing, "
	    "unknown_token, malformed, unknown_algorithm, bad_signature, "
	    "expired, not_yet_valid, too_long_lived, revoked, error).");
	for (r = 1; r < AUTH_NREASONS; r++)
		js_buf_printf(b, "jobspool_auth_refusals_total{reason=\"%s\"} "
		    "%lu\n", auth_reason_name(r),
		    atomic_load(&m->auth_refused[r]));
}

char *
metrics_text(struct metrics *m, const struct metrics_gauges *g, size_t *len)
{
	unsigned long finished[JS_NSTATES];
	struct hist run, wait;
	double start;
	struct js_buf b = JS_BUF_INIT;

	pthread_mutex_lock(&m->mu);
	run = m->run;
	wait = m->wait;
	memcpy(finished, m->finished, sizeof finished);
	start = m->start_time;
	pthread_mutex_unlock(&m->mu);
	family(&b, "jobspool_build_info", "gauge",
	    "Always 1; the version of jobspool-apiserver as a label.");
	js_buf_printf(&b, "jobspool_build_info{version=\"%s\"} 1\n", JS_VERSION);
	family(&b, "process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch in seconds.");
	js_buf_printf(&b, "process_start_time_seconds %.3f\n", start);
	jobs_text(&b, m, g, finished);
	hist_text(&b, "jobspool_job_duration_seconds", "Run time (start to "
	    "finish) of the jobs seen finishing since this server started.", &run);
	hist_text(&b, "jobspool_job_queue_wait_seconds", "Wait in the queue "
	    "(submission to start) of the jobs seen starting since this server "
	    "started.", &wait);
	spool_text(&b, g);
	pause_text(&b, g);
	http_text(&b, m);
	auth_text(&b, m);
	return js_buf_take(&b, len);	/* NULL (ENOMEM) if any failed */
}
