/* Unit tests for lib/sched.c's js_sched_why: why a pending job waits. */
#include "testutil.h"

#include "sched.h"

static json_t *
parse(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

static void
proc(struct js_proc_info *p, const char *id, const char *l1, int exclusive)
{
	memset(p, 0, sizeof *p);
	snprintf(p->id, sizeof p->id, "%s", id);
	if (l1 != NULL)
		snprintf(p->labels[p->nlabels++], JS_LABEL_SIZE, "%s", l1);
	p->exclusive = exclusive;
	p->lease_ms = 1000;
}

/* The reason's word for job text s in world w. */
static const char *
why(const char *s, const struct js_sched_world *w, struct js_sched_reason *r)
{
	json_t *j = parse(s);
	enum js_sched_wait c = js_sched_why(j, 0, w, r);

	json_decref(j);
	assert_int_equal(c, r->code);
	return js_sched_wait_code(c);
}

static void
test_why(void **state)
{
	struct js_proc_info procs[2];
	struct js_sched_world w;
	struct js_sched_reason r;
	char gpu[JS_LABEL_MAX + 1] = "gpu";
	struct js_pause pz;
	json_t *j, *o;

	(void)state;
	memset(&w, 0, sizeof w);
	memset(&pz, 0, sizeof pz);
	w.now_ms = 1800000000000LL;
	/* nobody alive */
	assert_string_equal(why("{}", &w, &r), "no_processor");
	/* its start time first, whatever else holds */
	assert_string_equal(why("{\"run_at\":\"2099-01-01T00:00:00Z\"}", &w,
	    &r), "start_time");
	assert_true(r.until > w.now_ms);
	/* an ordinary processor: next in line */
	proc(&procs[0], "a:1", NULL, 0);
	w.procs = procs;
	w.nprocs = 1;
	assert_string_equal(why("{}", &w, &r), "next");
	/* a label nobody has: it is named */
	j = parse("{\"labels\":[\"gpu\"]}");
	assert_int_equal(js_sched_why(j, 0, &w, &r), JS_WAIT_NO_LABEL);
	assert_string_equal(r.label, "gpu");
	o = js_sched_reason_json(&r);
	assert_string_equal(js_job_str(o, "reason"), "no_label");
	assert_string_equal(js_job_str(o, "label"), "gpu");
	assert_non_null(strstr(js_job_str(o, "message"), "label gpu"));
	json_decref(o);
	/* a dedicated gpu processor takes it */
	proc(&procs[1], "b:2", "gpu", 1);
	w.nprocs = 2;
	assert_int_equal(js_sched_why(j, 0, &w, &r), JS_WAIT_NEXT);
	/* labels on different processors: none takes the job */
	assert_string_equal(why("{\"labels\":[\"gpu\",\"big\"]}", &w, &r),
	    "no_label");
	snprintf(procs[0].labels[procs[0].nlabels++], JS_LABEL_SIZE, "big");
	assert_string_equal(why("{\"labels\":[\"gpu\",\"big\"]}", &w, &r),
	    "no_match");
	/* an unlabelled job with only the dedicated one alive */
	w.procs = &procs[1];
	w.nprocs = 1;
	assert_string_equal(why("{}", &w, &r), "no_match");
	w.procs = procs;
	w.nprocs = 2;
	/* paused label, then the whole spool */
	pz.labels = &gpu;
	pz.nlabels = 1;
	w.pause = &pz;
	assert_int_equal(js_sched_why(j, 0, &w, &r), JS_WAIT_LABEL_PAUSED);
	assert_string_equal(r.label, "gpu");
	assert_string_equal(why("{}", &w, &r), "next");
	pz.all = 1;
	assert_string_equal(why("{}", &w, &r), "paused");
	o = js_sched_reason_json(&r);
	assert_string_equal(js_job_str(o, "reason"), "paused");
	assert_null(json_object_get(o, "label"));
	assert_null(json_object_get(o, "until"));
	json_decref(o);
	/* a start time to come outranks the pause */
	assert_string_equal(why("{\"run_at\":\"2099-01-01T00:00:00Z\"}", &w,
	    &r), "start_time");
	o = js_sched_reason_json(&r);
	assert_string_equal(js_job_str(o, "until"), "2099-01-01T00:00:00.000Z");
	json_decref(o);
	json_decref(j);
	/* every code has a word */
	assert_string_equal(js_sched_wait_code(JS_WAIT_NONE), "");
	assert_string_equal(js_sched_wait_code(JS_WAIT_LABELS), "labels");
	assert_string_equal(js_sched_wait_code(JS_WAIT_EXCLUSIVE), "exclusive");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
