/* sched.c - claim order, eligibility, lease expiry, final states (sched.h). */
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
