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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_ready),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_final),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
