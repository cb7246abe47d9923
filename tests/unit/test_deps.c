/* Unit tests for lib/deps.c (after, after_any, batch references) and the
 * validator's rule for the two fields (lib/job.c). */
#include <errno.h>

#include "testutil.h"

#include "deps.h"
#include "sched.h"

#define A "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
#define B "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
#define C "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
#define SELF "dddddddd-dddd-4ddd-8ddd-dddddddddddd"

/* A fake spool: each id's outcome, and the pending jobs' JSON. */
struct world {
	int a, b, c;		/* outcome of A, B, C (-1: none, -2: error) */
	const char *pend_a;	/* A's pending file, if A is pending */
	int lookups;
};

static int
outcome(const char *id, void *arg)
{
	struct world *w = arg;

	w->lookups++;
	if (strcmp(id, A) == 0)
		return w->a;
	if (strcmp(id, B) == 0)
		return w->b;
	if (strcmp(id, C) == 0)
		return w->c;
	return -1;
}

static json_t *
pending(const char *id, void *arg)
{
	struct world *w = arg;

	if (strcmp(id, A) == 0 && w->a == JS_PENDING && w->pend_a != NULL)
		return json_loads(w->pend_a, 0, NULL);
	return NULL;
}

static json_t *
parse(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

static enum js_deps_verdict
eval(struct world *w, const char *job, struct js_deps_result *r)
{
	const struct js_deps_lookup lk = { outcome, pending, w };
	json_t *j = parse(job);

	assert_int_equal(js_deps_eval(SELF, j, &lk, r), 0);
	json_decref(j);
	return r->verdict;
}

static void
test_rule(void **state)
{
	(void)state;
	assert_int_equal(js_deps_rule(0, JS_COMPLETED), JS_DEPS_READY);
	assert_int_equal(js_deps_rule(0, JS_PENDING), JS_DEPS_WAIT);
	assert_int_equal(js_deps_rule(0, JS_WIP), JS_DEPS_WAIT);
	assert_int_equal(js_deps_rule(0, JS_FAILED), JS_DEPS_FAILED);
	assert_int_equal(js_deps_rule(0, JS_CANCELLED), JS_DEPS_FAILED);
	assert_int_equal(js_deps_rule(0, -1), JS_DEPS_FAILED);
	/* after_any: any outcome, but a job that is gone has none */
	assert_int_equal(js_deps_rule(1, JS_FAILED), JS_DEPS_READY);
	assert_int_equal(js_deps_rule(1, JS_CANCELLED), JS_DEPS_READY);
	assert_int_equal(js_deps_rule(1, JS_COMPLETED), JS_DEPS_READY);
	assert_int_equal(js_deps_rule(1, JS_WIP), JS_DEPS_WAIT);
	assert_int_equal(js_deps_rule(1, -1), JS_DEPS_FAILED);
}

static void
test_eval(void **state)
{
	struct world w = { JS_COMPLETED, JS_COMPLETED, JS_COMPLETED, NULL, 0 };
	struct js_deps_result r;

	(void)state;
	assert_int_equal(eval(&w, "{}", &r), JS_DEPS_READY);
	assert_int_equal(w.lookups, 0);
	assert_int_equal(eval(&w, "{\"after\":[\"" A "\",\"" B "\"]}", &r),
	    JS_DEPS_READY);
	/* one still running: waits, naming it */
	w.b = JS_WIP;
	assert_int_equal(eval(&w, "{\"after\":[\"" A "\",\"" B "\"]}", &r),
	    JS_DEPS_WAIT);
	assert_string_equal(r.id, B);
	assert_int_equal(r.outcome, JS_WIP);
	/* a failure anywhere wins over a wait before it */
	w.c = JS_FAILED;
	assert_int_equal(eval(&w, "{\"after\":[\"" B "\",\"" C "\"]}", &r),
	    JS_DEPS_FAILED);
	assert_string_equal(r.id, C);
	assert_non_null(strstr(r.why, C));
	assert_non_null(strstr(r.why, "failed"));
	/* ... but not in after_any */
	assert_int_equal(eval(&w, "{\"after_any\":[\"" C "\"]}", &r),
	    JS_DEPS_READY);
	w.c = JS_CANCELLED;
	assert_int_equal(eval(&w, "{\"after\":[\"" C "\"]}", &r),
	    JS_DEPS_FAILED);
	assert_non_null(strstr(r.why, "cancelled"));
	/* gone */
	w.c = -1;
	assert_int_equal(eval(&w, "{\"after_any\":[\"" C "\"]}", &r),
	    JS_DEPS_FAILED);
	assert_non_null(strstr(r.why, "does not exist"));
	/* itself */
	assert_int_equal(eval(&w, "{\"after\":[\"" SELF "\"]}", &r),
	    JS_DEPS_FAILED);
	/* malformed: failed without an id (the validator says why) */
	assert_int_equal(eval(&w, "{\"after\":[\"#0\"]}", &r), JS_DEPS_FAILED);
	assert_string_equal(r.id, "");
	assert_int_equal(eval(&w, "{\"after\":\"" A "\"}", &r), JS_DEPS_FAILED);
}

static void
test_lookup_error(void **state)
{
	struct world w = { -2, JS_COMPLETED, JS_COMPLETED, NULL, 0 };
	const struct js_deps_lookup lk = { outcome, pending, &w };
	struct js_deps_result r;
	json_t *j = parse("{\"after\":[\"" A "\"]}");

	(void)state;
	errno = EIO;
	assert_int_equal(js_deps_eval(SELF, j, &lk, &r), -1);
	json_decref(j);
}

static void
test_cycle(void **state)
{
	struct world w = { JS_PENDING, JS_COMPLETED, JS_COMPLETED, NULL, 0 };
	struct js_deps_result r;

	(void)state;
	/* A is pending and waits for nothing of ours: we wait */
	w.pend_a = "{\"after\":[\"" B "\"]}";
	assert_int_equal(eval(&w, "{\"after\":[\"" A "\"]}", &r), JS_DEPS_WAIT);
	/* A waits for us: a cycle, failed */
	w.pend_a = "{\"after\":[\"" SELF "\"]}";
	assert_int_equal(eval(&w, "{\"after\":[\"" A "\"]}", &r),
	    JS_DEPS_FAILED);
	assert_non_null(strstr(r.why, "cycle"));
	/* A waits for itself (its own cycle): the walk ends, we wait */
	w.pend_a = "{\"after\":[\"" A "\"]}";
	assert_int_equal(eval(&w, "{\"after\":[\"" A "\"]}", &r), JS_DEPS_WAIT);
}

static void
test_batch_refs(void **state)
{
	json_t *earlier = parse("[{\"id\":\"" A "\"},{\"id\":\"" B "\"}]");
	json_t *sub, *out;
	char err[256];

	(void)state;
	sub = parse("{\"shell\":\"x\",\"after\":[\"#1\",\"" C "\"],"
	    "\"after_any\":[\"#0\"]}");
	out = js_deps_batch_refs(sub, earlier, err, sizeof err);
	assert_non_null(out);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(out, "after"), 0)), B);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(out, "after"), 1)), C);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(out, "after_any"), 0)), A);
	/* the submitted object is left as it was */
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(sub, "after"), 0)), "#1");
	json_decref(out);
	json_decref(sub);
	/* itself or a later job (a cycle), not a number */
	sub = parse("{\"after\":[\"#2\"]}");
	assert_null(js_deps_batch_refs(sub, earlier, err, sizeof err));
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "#2"));
	json_decref(sub);
	sub = parse("{\"after\":[\"#-1\"]}");
	assert_null(js_deps_batch_refs(sub, earlier, err, sizeof err));
	json_decref(sub);
	sub = parse("{\"after\":[\"#1x\"]}");
	assert_null(js_deps_batch_refs(sub, earlier, err, sizeof err));
	json_decref(sub);
	json_decref(earlier);
}

static void
test_validate(void **state)
{
	static const char *const bad[] = {
		"{\"shell\":\"x\",\"after\":\"" A "\"}",
		"{\"shell\":\"x\",\"after\":[1]}",
		"{\"shell\":\"x\",\"after\":[\"#0\"]}",
		"{\"shell\":\"x\",\"after\":[\"" A "\",\"" A "\"]}",
		"{\"shell\":\"x\",\"after_any\":[\"AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA\"]}",
		"{\"shell\":\"x\",\"after\":null}",
	};
	char err[256];
	json_t *j, *v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		j = parse(bad[i]);
		assert_null(js_job_validate(j, err, sizeof err));
		assert_non_null(strstr(err, "after"));
		json_decref(j);
	}
	j = parse("{\"shell\":\"x\",\"after\":[\"" A "\"],\"after_any\":[]}");
	v = js_job_validate(j, err, sizeof err);
	assert_non_null(v);
	assert_true(js_deps_has(v));
	json_decref(v);
	json_decref(j);
}

/* A stored job whose after lists dep, published as pending. */
static void
put(struct js_spool *sp, const char *key, const char *dep, char id[JS_ID_SIZE])
{
	char err[256], text[256];
	json_t *sub, *v, *job;

	snprintf(text, sizeof text, "{\"shell\":\"true\",\"%s\":[\"%s\"]}",
	    key, dep);
	sub = parse(text);
	v = js_job_validate(sub, err, sizeof err);
	assert_non_null(v);
	job = js_job_new(v, NULL, NULL, NULL);
	assert_non_null(job);
	memcpy(id, js_job_str(job, "id"), JS_ID_SIZE);
	assert_int_equal(js_spool_submit(sp, job), 0);
	json_decref(job);
	json_decref(v);
	json_decref(sub);
}

/* The claim decides by the spool: put back while the dependency has not
 * ended, failed naming it when it failed, claimed once it completed. */
static void
test_claim(void **state)
{
	struct tu_spool *f = *state;
	char dep[JS_ID_SIZE], d1[JS_ID_SIZE], d2[JS_ID_SIZE], d3[JS_ID_SIZE];
	struct js_claim c, cd;
	json_t *job, *dj, *sub, *v;
	char err[256];
	enum js_state st;

	sub = parse("{\"shell\":\"true\"}");
	v = js_job_validate(sub, err, sizeof err);
	dj = js_job_new(v, NULL, NULL, NULL);
	memcpy(dep, js_job_str(dj, "id"), JS_ID_SIZE);
	assert_int_equal(js_spool_submit(f->sp, dj), 0);
	json_decref(dj);
	json_decref(v);
	json_decref(sub);
	put(f->sp, "after", dep, d1);
	put(f->sp, "after_any", dep, d2);
	put(f->sp, "after", d1, d3);
	/* the dependency is pending: put back as it was */
	assert_int_equal(js_spool_claim(f->sp, d1, "w", &c, &job), -1);
	assert_int_equal(errno, EAGAIN);
	assert_null(job);
	assert_int_equal(js_spool_find(f->sp, d1, &st), 0);
	assert_int_equal(st, JS_PENDING);
	/* it fails: after fails, naming it; after_any runs */
	assert_int_equal(js_spool_claim(f->sp, dep, "w", &cd, &dj), 0);
	assert_int_equal(js_spool_start(f->sp, &cd, dj), 0);
	assert_int_equal(js_spool_finish(f->sp, &cd, dj, JS_FAILED), 0);
	json_decref(dj);
	assert_int_equal(js_spool_claim(f->sp, d1, "w", &c, &job), -1);
	assert_int_equal(errno, ENOLINK);
	assert_non_null(job);
	assert_string_equal(js_job_str(job, "status"), "failed");
	assert_non_null(strstr(js_job_str(job, "error"), dep));
	json_decref(job);
	assert_int_equal(js_spool_find(f->sp, d1, &st), 0);
	assert_int_equal(st, JS_FAILED);
	/* transitively */
	assert_int_equal(js_spool_claim(f->sp, d3, "w", &c, &job), -1);
	assert_int_equal(errno, ENOLINK);
	assert_non_null(strstr(js_job_str(job, "error"), d1));
	json_decref(job);
	assert_int_equal(js_spool_claim(f->sp, d2, "w", &c, &job), 0);
	json_decref(job);
}

/* The waiting reason a listing shows for a job that waits for another. */
static void
test_reason(void **state)
{
	struct js_sched_reason r = { JS_WAIT_AFTER, 0, NULL, A, JS_WIP };
	json_t *o;

	(void)state;
	assert_string_equal(js_sched_wait_code(JS_WAIT_AFTER), "after");
	o = js_sched_reason_json(&r);
	assert_non_null(o);
	assert_string_equal(js_job_str(o, "reason"), "after");
	assert_string_equal(js_job_str(o, "after"), A);
	assert_non_null(strstr(js_job_str(o, "message"), A));
	assert_non_null(strstr(js_job_str(o, "message"), "running"));
	json_decref(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule),
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_lookup_error),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_batch_refs),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_reason),
		cmocka_unit_test_setup_teardown(test_claim, tu_spool_setup,
		    tu_spool_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
