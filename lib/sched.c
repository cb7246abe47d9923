/* sched.c - claim order, eligibility, lease expiry, final states, why a
 * pending job waits (sched.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"
#include "util.h"

int
js_sched_cmp(const struct js_sched_key *a, const struct js_sched_key *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	if (a->id == NULL || b->id == NULL)
		return (a->id == NULL) - (b->id == NULL);
	return strcmp(a->id, b->id);
}

int
js_sched_ready(int64_t not_before_ms, int64_t now_ms)
{
	return not_before_ms <= now_ms;
}

static int
has_label(const char *label, const char *const *plabels, size_t np)
{
	size_t i;

	for (i = 0; i < np; i++)
		if (plabels[i] != NULL && strcmp(plabels[i], label) == 0)
			return 1;
	return 0;
}

int
js_sched_labels_ok(const char *const *jlabels, size_t nj,
    const char *const *plabels, size_t np)
{
	size_t i;

	for (i = 0; i < nj; i++)
		if (!has_label(jlabels[i], plabels, np))
			return 0;
	return 1;
}

int
js_sched_job_labels_ok(const json_t *job, const char *const *plabels,
    size_t np)
{
	const json_t *labels = json_object_get(job, "labels"), *v;
	size_t i;

	if (!json_is_array(labels))
		return 1;
	json_array_foreach(labels, i, v)
		if (!json_is_string(v) || !js_label_valid(json_string_value(v)))
			return 1;
	json_array_foreach(labels, i, v)
		if (!has_label(json_string_value(v), plabels, np))
			return 0;
	return 1;
}

/* Whether the job's labels are well-formed (else every claimer takes it,
 * to fail it with the validator's error). */
static int
job_labels_valid(const json_t *labels)
{
	const json_t *v;
	size_t i;

	json_array_foreach(labels, i, v)
		if (!json_is_string(v) || !js_label_valid(json_string_value(v)))
			return 0;
	return 1;
}

int
js_sched_takes(const char *const *jlabels, size_t nj,
    const char *const *plabels, size_t np, int exclusive)
{
	size_t i;

	if (!js_sched_labels_ok(jlabels, nj, plabels, np))
		return 0;
	if (!exclusive)
		return 1;
	for (i = 0; i < nj; i++)
		if (has_label(jlabels[i], plabels, np))
			return 1;
	return 0;
}

int
js_sched_job_takes(const json_t *job, const char *const *plabels, size_t np,
    int exclusive)
{
	const json_t *labels = json_object_get(job, "labels"), *v;
	size_t i;

	if (json_is_array(labels) && !job_labels_valid(labels))
		return 1;
	if (!js_sched_job_labels_ok(job, plabels, np))
		return 0;
	if (!exclusive)
		return 1;
	if (json_is_array(labels))
		json_array_foreach(labels, i, v)
			if (has_label(json_string_value(v), plabels, np))
				return 1;
	return 0;
}

int64_t
js_sched_start_ms(const json_t *job, int64_t written_ms)
{
	const json_t *nb = json_object_get(job, "not_before");
	const json_t *delay = json_object_get(job, "delay");
	const char *run_at = js_job_str(job, "run_at");
	int64_t start = 0, t, d;

	if (json_is_integer(nb) && json_integer_value(nb) > 0)
		start = (int64_t)json_integer_value(nb);
	if (run_at != NULL) {
		if (js_rfc3339_parse(run_at, &t) == 0 && t > start)
			start = t;
	} else if (delay != NULL && js_job_delay_ms(delay, &d) == 0) {
		if (js_time_parse(js_job_str(job, "created_at") ?
		    js_job_str(job, "created_at") : "", &t) < 0)
			t = written_ms > 0 ? written_ms : js_now_ms();
		if (t + d > start)
			start = t + d;
	}
	return start;
}

enum js_sched_wait
js_sched_check(const json_t *job, int64_t written_ms,
    const char *const *plabels, size_t np, int exclusive, int64_t now_ms,
    int64_t *until)
{
	int64_t start;

	if (!js_sched_job_labels_ok(job, plabels, np))
		return JS_WAIT_LABELS;
	if (!js_sched_job_takes(job, plabels, np, exclusive))
		return JS_WAIT_EXCLUSIVE;
	start = js_sched_start_ms(job, written_ms);
	if (!js_sched_ready(start, now_ms)) {
		if (until != NULL)
			*until = start;
		return JS_WAIT_TIME;
	}
	return JS_WAIT_NONE;
}

int
js_sched_lease_expired(int64_t heartbeat_ms, int64_t lease_ms, int64_t now_ms)
{
	return now_ms - heartbeat_ms > lease_ms;
}

int
js_sched_final(enum js_state st)
{
	return st == JS_COMPLETED || st == JS_FAILED || st == JS_CANCELLED ||
	    st == JS_RETRIEVED;
}

static int
label_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
js_sched_paused(const struct js_pause *p, const json_t *job,
    const char **label)
{
	const json_t *v;
	size_t i;

	if (p->all)
		return 1;
	if (p->nlabels == 0)
		return 0;
	json_array_foreach(json_object_get(job, "labels"), i, v) {
		const char *s = json_string_value(v);
		if (s != NULL && bsearch(s, p->labels, p->nlabels,
		    sizeof *p->labels, label_cmp) != NULL) {
			if (label != NULL)
				*label = s;
			return 2;
		}
	}
	return 0;
}

/* Whether the live processor p takes job (lib/sched's label rule). */
static int
proc_takes(const struct js_proc_info *p, const json_t *job)
{
	const char *pl[JS_LABELS_MAX];
	size_t i;

	for (i = 0; i < p->nlabels; i++)
		pl[i] = p->labels[i];
	return js_sched_job_takes(job, pl, p->nlabels, p->exclusive);
}

/* The first well-formed label of job that no processor of w has, or
 * NULL. */
static const char *
label_nobody_has(const json_t *job, const struct js_sched_world *w)
{
	const json_t *v;
	size_t i, k, j;

	json_array_foreach(json_object_get(job, "labels"), i, v) {
		const char *s = json_string_value(v);
		int found = 0;
		if (s == NULL || !js_label_valid(s))
			continue;
		for (k = 0; k < w->nprocs && !found; k++)
			for (j = 0; j < w->procs[k].nlabels && !found; j++)
				found = strcmp(w->procs[k].labels[j], s) == 0;
		if (!found)
			return s;
	}
	return NULL;
}

enum js_sched_wait
js_sched_why(const json_t *job, int64_t written_ms,
    const struct js_sched_world *w, struct js_sched_reason *r)
{
	struct js_sched_reason tmp;
	size_t k;
	int p;

	if (r == NULL)
		r = &tmp;
	memset(r, 0, sizeof *r);
	r->until = js_sched_start_ms(job, written_ms);
	if (!js_sched_ready(r->until, w->now_ms))
		return r->code = JS_WAIT_TIME;
	r->until = 0;
	p = w->pause != NULL ? js_sched_paused(w->pause, job, &r->label) : 0;
	if (p == 1)
		return r->code = JS_WAIT_PAUSED;
	if (p == 2)
		return r->code = JS_WAIT_LABEL_PAUSED;
	if (w->nprocs == 0)
		return r->code = JS_WAIT_NO_PROCESSOR;
	if ((r->label = label_nobody_has(job, w)) != NULL)
		return r->code = JS_WAIT_NO_LABEL;
	for (k = 0; k < w->nprocs; k++)
		if (proc_takes(&w->procs[k], job))
			return r->code = JS_WAIT_NEXT;
	return r->code = JS_WAIT_NO_MATCH;
}

const char *
js_sched_wait_code(enum js_sched_wait code)
{
	switch (code) {
	case JS_WAIT_NONE:		return "";
	case JS_WAIT_TIME:		return "start_time";
	case JS_WAIT_LABELS:		return "labels";
	case JS_WAIT_EXCLUSIVE:		return "exclusive";
	case JS_WAIT_AFTER:		return "after";
	case JS_WAIT_PAUSED:		return "paused";
	case JS_WAIT_LABEL_PAUSED:	return "label_paused";
	case JS_WAIT_NO_PROCESSOR:	return "no_processor";
	case JS_WAIT_NO_LABEL:		return "no_label";
	case JS_WAIT_NO_MATCH:		return "no_match";
	case JS_WAIT_NEXT:		return "next";
	}
	return "";
}

/* The sentence of r into buf. */
static void
reason_message(const struct js_sched_reason *r, char *buf, size_t size)
{
	char t[JS_TIME_SIZE];

	switch (r->code) {
	case JS_WAIT_TIME:
		js_time_format(r->until, t);
		snprintf(buf, size, "not before %s (its start time)", t);
		break;
	case JS_WAIT_PAUSED:
		snprintf(buf, size, "claims are paused for the whole spool");
		break;
	case JS_WAIT_LABEL_PAUSED:
		snprintf(buf, size, "claims of jobs with label %s are paused",
		    r->label != NULL ? r->label : "?");
		break;
	case JS_WAIT_NO_PROCESSOR:
		snprintf(buf, size, "no live processor");
		break;
	case JS_WAIT_NO_LABEL:
		snprintf(buf, size, "no live processor has label %s",
		    r->label != NULL ? r->label : "?");
		break;
	case JS_WAIT_NO_MATCH:
		snprintf(buf, size, "no live processor takes it: none has all "
		    "of its labels, or those that have them are dedicated "
		    "(--exclusive) to jobs that ask for them");
		break;
	case JS_WAIT_NEXT:
		snprintf(buf, size, "next in line: waits for a free slot of a "
		    "live processor that takes it");
		break;
	case JS_WAIT_LABELS:
		snprintf(buf, size, "the processor lacks one of its labels");
		break;
	case JS_WAIT_EXCLUSIVE:
		snprintf(buf, size, "a dedicated processor: it asks for none "
		    "of its labels");
		break;
	case JS_WAIT_AFTER:
		snprintf(buf, size, "after job %s (%s)",
		    r->after != NULL ? r->after : "?",
		    r->after_state >= 0 && r->after_state < JS_NSTATES &&
		    r->after_state != JS_RETRIEVED ?
		    js_state_status((enum js_state)r->after_state) : "?");
		break;
	default:
		snprintf(buf, size, "it may be claimed now");
		break;
	}
}

json_t *
js_sched_reason_json(const struct js_sched_reason *r)
{
	char msg[256], t[JS_TIME_SIZE];
	json_t *o;

	reason_message(r, msg, sizeof msg);
	js_time_format(r->until, t);
	o = json_pack("{s:s,s:s,s:s*,s:s*,s:s*}", "reason",
	    js_sched_wait_code(r->code), "message", msg,
	    "until", r->code == JS_WAIT_TIME ? t : NULL,
	    "label", r->label,
	    "after", r->code == JS_WAIT_AFTER ? r->after : NULL);
	if (o == NULL)
		errno = ENOMEM;
	return o;
}
