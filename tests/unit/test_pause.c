/* Unit tests for lib/pause.c: pausing the spool or a label. */
#include "testutil.h"
#include <errno.h>

#include "pause.h"
#include "sched.h"

static json_t *
parse(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

static void
test_pause(void **state)
{
	char err[256], path[600], *dir = tu_tempdir();
	struct js_spool *sp = js_spool_open(dir, 0, err, sizeof err);
	struct js_pause p;
	json_t *gpu = parse("{\"labels\":[\"big\",\"gpu\"]}"),
	    *plain = parse("{\"shell\":\"true\"}"), *j;
	const char *label = NULL;

	(void)state;
	assert_non_null(sp);
	/* nothing paused */
	assert_int_equal(js_pause_read(sp, &p), 0);
	assert_false(js_pause_any(&p));
	assert_int_equal(js_sched_paused(&p, gpu, NULL), 0);
	js_pause_free(&p);
	/* a label */
	assert_int_equal(js_pause_set(sp, "gpu", 1, "admin"), 1);
	assert_int_equal(js_pause_set(sp, "gpu", 1, "admin"), 0);	/* already */
	snprintf(path, sizeof path, "%s/paused.d/gpu", dir);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	assert_string_equal(js_job_str(j, "by"), "admin");
	assert_non_null(js_job_str(j, "paused_at"));
	json_decref(j);
	assert_int_equal(js_pause_read(sp, &p), 0);
	assert_true(js_pause_any(&p));
	assert_false(p.all);
	assert_true(js_pause_has(&p, "gpu"));
	assert_false(js_pause_has(&p, "big"));
	assert_false(js_pause_has(&p, NULL));
	assert_int_equal(js_sched_paused(&p, gpu, &label), 2);
	assert_string_equal(label, "gpu");
	assert_int_equal(js_sched_paused(&p, plain, NULL), 0);
	j = js_pause_json(&p);
	assert_true(json_is_false(json_object_get(j, "spool")));
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(j, "labels"), 0)), "gpu");
	json_decref(j);
	js_pause_free(&p);
	/* the whole spool, from the shell: any file named paused */
	snprintf(path, sizeof path, "%s/paused", dir);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	/* and junk in paused.d/ that is no label word is ignored */
	snprintf(path, sizeof path, "%s/paused.d/not a label", dir);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(js_pause_read(sp, &p), 0);
	assert_true(p.all);
	assert_int_equal(p.nlabels, 1);
	assert_int_equal(js_sched_paused(&p, plain, NULL), 1);
	assert_int_equal(js_sched_paused(&p, gpu, NULL), 1);
	js_pause_free(&p);
	/* resume both */
	assert_int_equal(js_pause_set(sp, NULL, 0, NULL), 1);
	assert_int_equal(js_pause_set(sp, NULL, 0, NULL), 0);
	assert_int_equal(js_pause_set(sp, "gpu", 0, NULL), 1);
	assert_int_equal(js_pause_read(sp, &p), 0);
	assert_false(js_pause_any(&p));
	js_pause_free(&p);
	/* bad labels */
	assert_int_equal(js_pause_set(sp, "../x", 1, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_pause_set(sp, "", 1, NULL), -1);
	json_decref(gpu);
	json_decref(plain);
	js_spool_close(sp);
	tu_rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pause),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
