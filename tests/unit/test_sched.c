/* Unit tests for lib/sched.c: claim order, eligibility, leases, final. */
#include "testutil.h"
#include <limits.h>

#include "sched.h"

static void
test_order(void **state)
{
	struct js_sched_key hi = { 5, 900, "c" }, lo = { 0, 100, "a" },
	    early = { 0, 50, "z" }, same = { 0, 100, "b" }, neg = { -3, 1, "a" };

	(void)state;
	/* a higher priority first, whatever the submission order */
	assert_true(js_sched_cmp(&hi, &lo) < 0);
	assert_true(js_sched_cmp(&lo, &hi) > 0);
	assert_true(js_sched_cmp(&lo, &neg) < 0);
	/* equal priorities: submission order */
	assert_true(js_sched_cmp(&early, &lo) < 0);
	assert_true(js_sched_cmp(&lo, &early) > 0);
	/* the id breaks a tie, and a job is equal to itself */
	assert_true(js_sched_cmp(&lo, &same) < 0);
	assert_true(js_sched_cmp(&same, &lo) > 0);
	assert_int_equal(js_sched_cmp(&lo, &lo), 0);
	/* extremes do not overflow a subtraction */
	{
		struct js_sched_key a = { LLONG_MAX, 0, "a" },
		    b = { LLONG_MIN, 0, "a" };
		assert_true(js_sched_cmp(&a, &b) < 0);
		assert_true(js_sched_cmp(&b, &a) > 0);
	}
}

static void
test_ready(void **state)
{
	(void)state;
	assert_true(js_sched_ready(0, 1000));
	assert_true(js_sched_ready(1000, 1000));
	assert_false(js_sched_ready(1001, 1000));
}

static void
test_labels(void **state)
{
	const char *gpu[] = { "gpu" }, *both[] = { "gpu", "big" },
	    *proc[] = { "big", "gpu", "x" };
	json_t *j;

	(void)state;
	assert_true(js_sched_labels_ok(NULL, 0, NULL, 0));
	assert_true(js_sched_labels_ok(NULL, 0, proc, 3));
	assert_false(js_sched_labels_ok(gpu, 1, NULL, 0));
	assert_true(js_sched_labels_ok(gpu, 1, proc, 3));
	assert_true(js_sched_labels_ok(both, 2, proc, 3));
	assert_false(js_sched_labels_ok(both, 2, gpu, 1));

	j = json_pack("{s:[s,s]}", "labels", "gpu", "big");
	assert_true(js_sched_job_labels_ok(j, proc, 3));
	assert_false(js_sched_job_labels_ok(j, gpu, 1));
	json_decref(j);
	j = json_pack("{s:s}", "name", "no labels");
	assert_true(js_sched_job_labels_ok(j, NULL, 0));
	json_decref(j);
	/* not label words: eligible, so the claim fails the job visibly */
	j = json_pack("{s:[s]}", "labels", "a b");
	assert_true(js_sched_job_labels_ok(j, NULL, 0));
	json_decref(j);
	j = json_pack("{s:[i]}", "labels", 3);
	assert_true(js_sched_job_labels_ok(j, NULL, 0));
	json_decref(j);
}

static void
test_lease(void **state)
{
	(void)state;
	assert_false(js_sched_lease_expired(1000, 60000, 61000));
	assert_true(js_sched_lease_expired(1000, 60000, 61001));
	assert_false(js_sched_lease_expired(5000, 60000, 1000)); /* clock back */
}

static void
test_final(void **state)
{
	(void)state;
	assert_false(js_sched_final(JS_PENDING));
	assert_false(js_sched_final(JS_WIP));
	assert_true(js_sched_final(JS_COMPLETED));
	assert_true(js_sched_final(JS_FAILED));
	assert_true(js_sched_final(JS_CANCELLED));
	assert_true(js_sched_final(JS_RETRIEVED));
	/* JS_FINAL_MASK: the same set without .retrieved */
	for (int s = 0; s < JS_NSTATES; s++)
		assert_int_equal(!!(JS_FINAL_MASK & JS_STATE_BIT(s)),
		    js_sched_final(s) && s != JS_RETRIEVED);
}

static json_t *
parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	assert_non_null(j);
	return j;
}

/* an exclusive (dedicated) processor takes only jobs asking for one of
 * its labels; an ordinary one every job whose labels it has */
static void
test_exclusive(void **state)
{
	const char *gpu[] = { "gpu" }, *two[] = { "gpu", "big" }, *none[1];
	const char *jgpu[] = { "gpu" }, *jbig[] = { "big" };
	json_t *plain = parse("{\"shell\":\"true\"}");
	json_t *wants = parse("{\"shell\":\"true\",\"labels\":[\"gpu\"]}");
	json_t *other = parse("{\"shell\":\"true\",\"labels\":[\"fpga\"]}");
	json_t *bad = parse("{\"shell\":\"true\",\"labels\":[\"no way\"]}");

	(void)state;
	assert_true(js_sched_takes(NULL, 0, gpu, 1, 0));
	assert_false(js_sched_takes(NULL, 0, gpu, 1, 1));
	assert_true(js_sched_takes(jgpu, 1, gpu, 1, 1));
	assert_true(js_sched_takes(jbig, 1, two, 2, 1));
	assert_false(js_sched_takes(jbig, 1, gpu, 1, 1));
	assert_false(js_sched_takes(jbig, 1, gpu, 1, 0));
	assert_false(js_sched_takes(NULL, 0, none, 0, 1));
	assert_true(js_sched_job_takes(plain, gpu, 1, 0));
	assert_false(js_sched_job_takes(plain, gpu, 1, 1));
	assert_true(js_sched_job_takes(wants, gpu, 1, 1));
	assert_false(js_sched_job_takes(other, gpu, 1, 1));
	assert_false(js_sched_job_takes(other, gpu, 1, 0));
	/* malformed labels: taken, so the claim fails the job */
	assert_true(js_sched_job_takes(bad, gpu, 1, 0));
	assert_int_equal(js_sched_check(plain, 0, gpu, 1, 1, 0, NULL),
	    JS_WAIT_EXCLUSIVE);
	assert_int_equal(js_sched_check(other, 0, gpu, 1, 0, 0, NULL),
	    JS_WAIT_LABELS);
	assert_int_equal(js_sched_check(wants, 0, gpu, 1, 1, 0, NULL),
	    JS_WAIT_NONE);
	json_decref(plain);
	json_decref(wants);
	json_decref(other);
	json_decref(bad);
}

/* the start time: the later of run_at and not_before; a hand-written
 * delay counts from created_at, else from when the file was written */
static void
test_start(void **state)
{
	json_t *j;
	int64_t until = 0, t0;

	(void)state;
	assert_int_equal(js_rfc3339_parse("2026-12-05T15:00:00Z", &t0), 0);
	j = parse("{\"shell\":\"true\"}");
	assert_int_equal(js_sched_start_ms(j, 0), 0);
	json_decref(j);
	j = parse("{\"run_at\":\"2026-12-05T16:00:00.250+01:00\"}");
	assert_int_equal(js_sched_start_ms(j, 0), t0 + 250);
	assert_int_equal(js_sched_check(j, 0, NULL, 0, 0, t0, &until),
	    JS_WAIT_TIME);
	assert_int_equal(until, t0 + 250);
	assert_int_equal(js_sched_check(j, 0, NULL, 0, 0, t0 + 250, NULL),
	    JS_WAIT_NONE);
	json_decref(j);
	/* a retry backoff later than run_at wins, and the other way round */
	j = parse("{\"run_at\":\"2026-12-05T15:00:00Z\","
	    "\"not_before\":1797000000000}");
	assert_int_equal(js_sched_start_ms(j, 0), 1797000000000LL);
	json_decref(j);
	j = parse("{\"run_at\":\"2026-12-05T15:00:00Z\",\"not_before\":5}");
	assert_int_equal(js_sched_start_ms(j, 0), t0);
	json_decref(j);
	/* hand-written delay: from created_at, else from the file's mtime */
	j = parse("{\"delay\":\"15m\",\"created_at\":"
	    "\"2026-12-05T15:00:00Z\"}");
	assert_int_equal(js_sched_start_ms(j, 42), t0 + 15 * 60000);
	json_decref(j);
	j = parse("{\"delay\":90}");
	assert_int_equal(js_sched_start_ms(j, t0), t0 + 90000);
	json_decref(j);
	/* malformed: no start time (the claim fails the job instead) */
	j = parse("{\"run_at\":\"tomorrow\",\"delay\":\"soon\"}");
	assert_int_equal(js_sched_start_ms(j, t0), 0);
	json_decref(j);
	j = parse("{\"delay\":\"-5s\"}");
	assert_int_equal(js_sched_start_ms(j, t0), 0);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_final),
		cmocka_unit_test(test_exclusive),
		cmocka_unit_test(test_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
