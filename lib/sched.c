/* sched.c - claim order, eligibility, lease expiry, final states (sched.h). */
#include <string.h>

#include "sched.h"

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
