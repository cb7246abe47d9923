/* metrics.c - the counters of /metrics and their Prometheus text format
 * (version 0.0.4); the route itself is routes_metrics.c:
 * jobs by state (gauges, from the spool), and counters that only grow
 * while the server runs, fed by events as they happen, never recomputed
 * from the files present: jobs submitted through this server, jobs seen
 * finishing (bus.c's watcher, once per job) and a histogram of their
 * run time, worker claims, HTTP answers by status code. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "buf.h"

static const double bounds[] = { 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600,
    1800, 3600, 21600, 86400 };
#define NBOUNDS (sizeof bounds / sizeof bounds[0])

struct metrics {
	atomic_ulong by_code[600];	/* HTTP answers by status */
	atomic_ulong submitted;
	pthread_mutex_t mu;		/* guards the finishes below */
	unsigned long finished[JS_NSTATES];
	unsigned long hist[NBOUNDS];	/* cumulative: le bounds[k] */
	unsigned long count;
	double sum;
};

struct metrics *
metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof *m);
	int e;

	if (m == NULL)
		return NULL;
	if ((e = pthread_mutex_init(&m->mu, NULL)) != 0) {
		free(m);
		errno = e;
		return NULL;
	}
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

void
metrics_job_finished(struct metrics *m, enum js_state st, const json_t *job)
{
	const char *s1 = job ? js_job_str(job, "started_at") : NULL;
	const char *s2 = job ? js_job_str(job, "finished_at") : NULL;
	int64_t t1, t2;
	size_t k;

	pthread_mutex_lock(&m->mu);
	m->finished[st]++;
	if (s1 != NULL && s2 != NULL && js_time_parse(s1, &t1) == 0 &&
	    js_time_parse(s2, &t2) == 0 && t1 > 0 && t2 >= t1) {
		double d = (double)(t2 - t1) / 1000.0;
		for (k = 0; k < NBOUNDS; k++)
			if (d <= bounds[k])
				m->hist[k]++;
		m->count++;
		m->sum += d;
	}
	pthread_mutex_unlock(&m->mu);
}

void
metrics_count_status(struct metrics *m, unsigned status)
{
	if (status < 600)
		atomic_fetch_add(&m->by_code[status], 1);
}

void
metrics_count_submitted(struct metrics *m, size_t n)
{
	atomic_fetch_add(&m->submitted, n);
}

char *
metrics_text(struct metrics *m, const unsigned long counts[JS_NSTATES],
    unsigned long claims, size_t *len)
{
	static const char *const states[] = { "pending", "running", "completed",
	    "failed", "cancelled", "retrieved" };
	unsigned long hist[NBOUNDS], finished[JS_NSTATES], nfin;
	double sum;
	struct js_buf b = JS_BUF_INIT;
	size_t i, k;

	pthread_mutex_lock(&m->mu);
	memcpy(hist, m->hist, sizeof hist);
	memcpy(finished, m->finished, sizeof finished);
	nfin = m->count;
	sum = m->sum;
	pthread_mutex_unlock(&m->mu);
	js_buf_printf(&b, "# HELP jobspool_jobs Jobs in the spool by state.\n"
	    "# TYPE jobspool_jobs gauge\n");
	for (i = 0; i < JS_NSTATES; i++)
		js_buf_printf(&b, "jobspool_jobs{state=\"%s\"} %lu\n", states[i], counts[i]);
	js_buf_printf(&b, "# HELP jobspool_jobs_submitted_total Jobs submitted through "
	    "this server since it started.\n"
	    "# TYPE jobspool_jobs_submitted_total counter\n"
	    "jobspool_jobs_submitted_total %lu\n", atomic_load(&m->submitted));
	js_buf_printf(&b, "# HELP jobspool_jobs_finished_total Jobs seen finishing since "
	    "this server started, by outcome.\n"
	    "# TYPE jobspool_jobs_finished_total counter\n");
	for (i = JS_COMPLETED; i <= JS_CANCELLED; i++)
		js_buf_printf(&b, "jobspool_jobs_finished_total{status=\"%s\"} %lu\n",
		    states[i], finished[i]);
	js_buf_printf(&b, "# HELP jobspool_worker_claims_total Jobs handed to remote "
	    "workers since this server started.\n"
	    "# TYPE jobspool_worker_claims_total counter\n"
	    "jobspool_worker_claims_total %lu\n", claims);
	js_buf_printf(&b, "# HELP jobspool_http_requests_total HTTP answers by status "
	    "code.\n# TYPE jobspool_http_requests_total counter\n");
	for (i = 100; i < 600; i++) {
		unsigned long v = atomic_load(&m->by_code[i]);
		if (v > 0)
			js_buf_printf(&b, "jobspool_http_requests_total{code=\"%zu\"} %lu\n",
			    i, v);
	}
	js_buf_printf(&b, "# HELP jobspool_job_duration_seconds Run time of the jobs "
	    "seen finishing since this server started.\n"
	    "# TYPE jobspool_job_duration_seconds histogram\n");
	for (k = 0; k < NBOUNDS; k++)
		js_buf_printf(&b, "jobspool_job_duration_seconds_bucket{le=\"%g\"} %lu\n",
		    bounds[k], hist[k]);
	js_buf_printf(&b, "jobspool_job_duration_seconds_bucket{le=\"+Inf\"} %lu\n"
	    "jobspool_job_duration_seconds_sum %.3f\n"
	    "jobspool_job_duration_seconds_count %lu\n", nfin, sum, nfin);
	return js_buf_take(&b, len);	/* NULL (ENOMEM) if any failed */
}
