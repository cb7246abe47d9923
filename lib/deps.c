/* deps.c - dependencies between jobs: after, after_any (deps.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"

/* How many pending jobs a cycle check walks at most (beyond: no cycle). */
#define WALK_MAX 256

static const char *const dep_keys[2] = { "after", "after_any" };

int
js_deps_has(const json_t *job)
{
	int k;

	for (k = 0; k < 2; k++)
		if (json_array_size(json_object_get(job, dep_keys[k])) > 0)
			return 1;
	return 0;
}

enum js_deps_verdict
js_deps_rule(int any, int outcome)
{
	switch (outcome) {
	case JS_PENDING:
	case JS_WIP:
		return JS_DEPS_WAIT;
	case JS_COMPLETED:
		return JS_DEPS_READY;
	case JS_FAILED:
	case JS_CANCELLED:
		return any ? JS_DEPS_READY : JS_DEPS_FAILED;
	default:		/* no such job (removed): no outcome to wait for */
		return JS_DEPS_FAILED;
	}
}

int
js_deps_foreach(const json_t *job,
    int (*fn)(const char *id, int any, void *arg), void *arg)
{
	const json_t *v;
	size_t i;
	int k, rc;

	for (k = 0; k < 2; k++)
		json_array_foreach(json_object_get(job, dep_keys[k]), i, v)
			if (json_is_string(v) &&
			    (rc = fn(json_string_value(v), k, arg)) != 0)
				return rc;
	return 0;
}

/* Whether both lists, where present, are arrays of job ids. */
static int
lists_valid(const json_t *job)
{
	const json_t *l, *v;
	size_t i;
	int k;

	for (k = 0; k < 2; k++) {
		l = json_object_get(job, dep_keys[k]);
		if (l == NULL || json_is_null(l))
			continue;
		if (!json_is_array(l))
			return 0;
		json_array_foreach(l, i, v)
			if (!json_is_string(v) || !js_id_valid(json_string_value(v)))
				return 0;
	}
	return 1;
}

static void
failed(struct js_deps_result *r, const char *id, int outcome, const char *fmt)
{
	r->verdict = JS_DEPS_FAILED;
	snprintf(r->id, sizeof r->id, "%s", id);
	r->outcome = outcome;
	snprintf(r->why, sizeof r->why, fmt, id);
}

/* The error of a job whose dependency id ended as outcome. */
static void
failed_by(struct js_deps_result *r, const char *id, int outcome)
{
	if (outcome == JS_FAILED)
		failed(r, id, outcome, "dependency %s failed");
	else if (outcome == JS_CANCELLED)
		failed(r, id, outcome, "dependency %s was cancelled");
	else
		failed(r, id, outcome, "dependency %s does not exist (removed, "
		    "or never submitted)");
}

/* The pending jobs walked by a cycle check. */
struct walk {
	char (*seen)[JS_ID_SIZE];
	size_t n;
	const char *self;
	const struct js_deps_lookup *lk;
	int found;
};

static int
walk_one(const char *id, int any, void *arg)
{
	struct walk *w = arg;
	json_t *job;
	size_t i;
	int rc;

	(void)any;
	if (strcmp(id, w->self) == 0) {
		w->found = 1;
		return 1;
	}
	for (i = 0; i < w->n; i++)
		if (strcmp(w->seen[i], id) == 0)
			return 0;
	if (w->n == WALK_MAX || !js_id_valid(id))
		return 0;
	memcpy(w->seen[w->n++], id, JS_ID_SIZE);
	job = w->lk->pending(id, w->lk->arg);
	if (job == NULL)
		return 0;
	rc = js_deps_foreach(job, walk_one, w);
	json_decref(job);
	return rc;
}

/* Whether waiting for the pending job dep leads back to self. */
static int
cycle_through(const char *self, const char *dep,
    const struct js_deps_lookup *lk)
{
	struct walk w = { NULL, 0, self, lk, 0 };

	if (lk->pending == NULL)
		return 0;
	w.seen = malloc(WALK_MAX * sizeof *w.seen);
	if (w.seen == NULL)
		return 0;	/* not known to wait for itself: it waits */
	walk_one(dep, 0, &w);
	free(w.seen);
	return w.found;
}

/* One dependency: sets *r when it decides (FAILED always wins; the first
 * WAIT is kept); -1 with errno if its lookup failed. */
static int
eval_one(const char *self, const char *id, int any,
    const struct js_deps_lookup *lk, struct js_deps_result *r)
{
	int outcome;

	if (strcmp(id, self) == 0) {
		failed(r, id, JS_PENDING, "the job depends on itself (%s)");
		return 0;
	}
	outcome = lk->outcome(id, lk->arg);
	if (outcome == -2)
		return -1;
	switch (js_deps_rule(any, outcome)) {
	case JS_DEPS_FAILED:
		failed_by(r, id, outcome);
		break;
	case JS_DEPS_WAIT:
		if (r->verdict == JS_DEPS_READY) {
			r->verdict = JS_DEPS_WAIT;
			memcpy(r->id, id, JS_ID_SIZE);
			r->outcome = outcome;
		}
		break;
	case JS_DEPS_READY:
		break;
	}
	return 0;
}

int
js_deps_eval(const char *self, const json_t *job,
    const struct js_deps_lookup *lk, struct js_deps_result *r)
{
	const json_t *v;
	size_t i;
	int k;

	memset(r, 0, sizeof *r);
	r->outcome = -1;
	if (!lists_valid(job)) {
		r->verdict = JS_DEPS_FAILED;
		snprintf(r->why, sizeof r->why, "after and after_any must be "
		    "arrays of job ids");
		return 0;
	}
	for (k = 0; k < 2 && r->verdict != JS_DEPS_FAILED; k++)
		json_array_foreach(json_object_get(job, dep_keys[k]), i, v) {
			if (eval_one(self, json_string_value(v), k, lk, r) < 0)
				return -1;
			if (r->verdict == JS_DEPS_FAILED)
				break;
		}
	if (r->verdict == JS_DEPS_WAIT && r->outcome == JS_PENDING &&
	    cycle_through(self, r->id, lk)) {
		r->verdict = JS_DEPS_FAILED;
		snprintf(r->why, sizeof r->why, "dependency cycle: %s waits "
		    "for itself through %s", self, r->id);
	}
	return 0;
}

/* "#N" -> N if N < index, else -1. */
static long
batch_index(const char *s, size_t index)
{
	char *end;
	long n;

	if (s[0] != '#' || s[1] < '0' || s[1] > '9')
		return -1;
	errno = 0;
	n = strtol(s + 1, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || (size_t)n >= index)
		return -1;
	return n;
}

/* Replaces the "#N" of list (a copy owned by the caller's job). */
static int
refs_in(json_t *list, const char *key, const json_t *earlier, char *err,
    size_t errlen)
{
	const char *id;
	json_t *v;
	size_t i;
	long n;

	json_array_foreach(list, i, v) {
		const char *s = json_string_value(v);
		if (s == NULL || s[0] != '#')
			continue;
		n = batch_index(s, json_array_size(earlier));
		id = n < 0 ? NULL : js_job_str(json_array_get(earlier,
		    (size_t)n), "id");
		if (n >= 0 && id == NULL) {
			js_errf(err, errlen, "%s[%zu]: job %ld of the batch has "
			    "no id", key, i, n);
			errno = EINVAL;
			return -1;
		}
		if (n < 0) {
			js_errf(err, errlen, "%s[%zu] \"%.32s\" names no earlier "
			    "job of this batch (\"#N\" is the job at place N, "
			    "counted from 0, before this one)", key, i, s);
			errno = EINVAL;
			return -1;
		}
		if (json_array_set_new(list, i, json_string(id)) < 0) {
			js_errf(err, errlen, "out of memory");
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

json_t *
js_deps_batch_refs(const json_t *sub, const json_t *earlier, char *err,
    size_t errlen)
{
	json_t *out, *list;
	int k;

	out = js_json_deep_copy(sub);	/* its lists are rewritten in place */
	if (out == NULL) {
		js_errf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	for (k = 0; k < 2; k++) {
		list = json_object_get(out, dep_keys[k]);
		if (!json_is_array(list))
			continue;
		if (refs_in(list, dep_keys[k], earlier, err, errlen) < 0) {
			int e = errno;
			json_decref(out);
			errno = e;
			return NULL;
		}
	}
	return out;
}
