/*
 * Unit tests for what remote mode sends and reads (processor/remote_http.c,
 * remote_claim.c, remote_mirror.c): the backoff, an answer's error text,
 * the claim's request and answer, the local copy of a claimed job, and the
 * body of a finish.  No network: pure functions only.
 */
#include "testutil.h"

#include "../../processor/remote_link.h"

#define ID "0b0c7f0e-6e1a-4d8e-9a55-3f2b8c1d2e4f"

static json_t *
parse(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

/* A JSON text parsed, for comparing bodies field by field. */
static json_t *
parse_owned(char *s)
{
	json_t *j;

	assert_non_null(s);
	j = parse(s);
	free(s);
	return j;
}

static void
test_backoff(void **state)
{
	int i;

	(void)state;
	/* 250 ms, doubled after each further failure, up to the maximum */
	assert_int_equal(rhttp_backoff_cap(0, 30000), 250);
	assert_int_equal(rhttp_backoff_cap(1, 30000), 250);
	assert_int_equal(rhttp_backoff_cap(2, 30000), 500);
	assert_int_equal(rhttp_backoff_cap(3, 30000), 1000);
	assert_int_equal(rhttp_backoff_cap(7, 30000), 16000);
	assert_int_equal(rhttp_backoff_cap(8, 30000), 30000);
	assert_int_equal(rhttp_backoff_cap(1000, 30000), 30000);
	/* a maximum below the first step caps it too */
	assert_int_equal(rhttp_backoff_cap(1, 100), 100);
	/* full jitter: 10 ms to 10 ms + the cap, never a busy loop */
	for (i = 0; i < 200; i++) {
		int64_t w = rhttp_backoff_ms(3, 30000);
		assert_true(w >= 10 && w <= 1010);
		w = rhttp_backoff_ms(1, 0);
		assert_int_equal(w, 10);
	}
}

static void
test_answer_line(void **state)
{
	char err[512], small[8], big[300];
	json_t *ans;

	(void)state;
	rhttp_answer_line("{\"error\":\"no\"}\r\nmore", err, sizeof err);
	assert_string_equal(err, "{\"error\":\"no\"}");
	rhttp_answer_line("a\nb", err, sizeof err);
	assert_string_equal(err, "a");
	rhttp_answer_line(NULL, err, sizeof err);
	assert_string_equal(err, "");
	rhttp_answer_line("0123456789", small, sizeof small);
	assert_string_equal(small, "0123456");
	/* at most 200 bytes of a long body */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	rhttp_answer_line(big, err, sizeof err);
	assert_int_equal(strlen(err), 200);
	/* the server's "error", else the text given */
	ans = parse("{\"error\":\"lease lost\"}");
	assert_string_equal(rhttp_why(ans, "raw"), "lease lost");
	json_decref(ans);
	ans = parse("{\"error\":5}");
	assert_string_equal(rhttp_why(ans, "raw"), "raw");
	json_decref(ans);
	assert_string_equal(rhttp_why(NULL, "raw"), "raw");
}

static void
test_claim_body(void **state)
{
	json_t *labels = json_pack("[s,s]", "gpu", "big"), *b;

	(void)state;
	b = parse_owned(claim_body("host:12", labels, 0, 4, 30000));
	assert_string_equal(js_job_str(b, "worker"), "host:12");
	assert_int_equal(js_job_int(b, "slots", 0), 4);
	assert_true(json_equal(json_object_get(b, "labels"), labels));
	assert_null(json_object_get(b, "exclusive"));
	/* whole seconds are an integer, else a real */
	assert_true(json_is_integer(json_object_get(b, "wait")));
	assert_int_equal(js_job_int(b, "wait", 0), 30);
	json_decref(b);
	b = parse_owned(claim_body("w", labels, 1, 0, 1500));
	assert_null(json_object_get(b, "slots"));	/* not said */
	assert_true(json_is_real(json_object_get(b, "wait")));
	assert_true(json_real_value(json_object_get(b, "wait")) == 1.5);
	/* a dedicated processor says so */
	assert_true(json_is_true(json_object_get(b, "exclusive")));
	json_decref(b);
	/* the labels are shared, not taken */
	assert_int_equal(labels->refcount, 1);
	json_decref(labels);
}

static void
test_claim_parse(void **state)
{
	struct claim cl;
	json_t *ans;

	(void)state;
	ans = parse("{\"job\":{\"id\":\"" ID "\",\"attempts\":3},"
	    "\"lease\":{\"token\":7,\"lease_ms\":9000,\"heartbeat_ms\":2000},"
	    "\"log_offset\":512}");
	assert_int_equal(claim_parse(ans, &cl), 0);
	assert_string_equal(cl.id, ID);
	assert_int_equal(cl.token, 7);
	assert_int_equal(cl.lease_ms, 9000);
	assert_int_equal(cl.hb_ms, 2000);
	assert_int_equal(cl.offset, 512);
	assert_int_equal(cl.attempts, 3);
	json_decref(ans);
	/* defaults: a minute's lease, a third of it between heartbeats,
	 * the log from its start, one attempt */
	ans = parse("{\"job\":{\"id\":\"" ID "\"},\"lease\":{\"token\":0}}");
	assert_int_equal(claim_parse(ans, &cl), 0);
	assert_int_equal(cl.lease_ms, 60000);
	assert_int_equal(cl.hb_ms, 20000);
	assert_int_equal(cl.offset, 0);
	assert_int_equal(cl.attempts, 1);
	json_decref(ans);
	/* not a job with a lease */
	ans = parse("{\"job\":{\"id\":\"" ID "\"}}");
	assert_int_equal(claim_parse(ans, &cl), -1);
	json_decref(ans);
	ans = parse("{\"job\":{\"id\":\"../etc\"},\"lease\":{\"token\":1}}");
	assert_int_equal(claim_parse(ans, &cl), -1);
	json_decref(ans);
	ans = parse("{\"lease\":{\"token\":1}}");
	assert_int_equal(claim_parse(ans, &cl), -1);
	json_decref(ans);
	ans = parse("{\"job\":{\"id\":\"" ID "\"},\"lease\":{\"token\":1},"
	    "\"log_offset\":-1}");
	assert_int_equal(claim_parse(ans, &cl), -1);
	json_decref(ans);
	assert_int_equal(claim_parse(NULL, &cl), -1);
}

static void
test_claim_local_copy(void **state)
{
	struct claim cl = { ID, 7, 3, 512, 9000, 2000 };
	json_t *job, *local, *rem;

	(void)state;
	job = parse("{\"id\":\"" ID "\",\"status\":\"running\",\"attempts\":3,"
	    "\"worker\":\"other\",\"started_at\":\"x\",\"pid\":5,"
	    "\"pid_start\":6,\"not_before\":\"y\",\"run_at\":\"z\","
	    "\"command\":\"true\"}");
	local = claim_local_copy(job, &cl);
	assert_non_null(local);
	/* pending, not yet run here: the claim's attempt is counted when it
	 * runs */
	assert_string_equal(js_job_str(local, "status"), "pending");
	assert_int_equal(js_job_int(local, "attempts", -1), 2);
	assert_true(json_is_null(json_object_get(local, "worker")));
	assert_true(json_is_null(json_object_get(local, "started_at")));
	assert_true(json_is_null(json_object_get(local, "pid")));
	assert_true(json_is_null(json_object_get(local, "pid_start")));
	/* the server decided when it may start */
	assert_null(json_object_get(local, "not_before"));
	assert_null(json_object_get(local, "run_at"));
	assert_string_equal(js_job_str(local, "command"), "true");
	rem = json_object_get(local, "remote");
	assert_int_equal(js_job_int(rem, "token", -1), 7);
	assert_int_equal(js_job_int(rem, "log_offset", -1), 512);
	assert_int_equal(js_job_int(rem, "attempts", -1), 3);
	assert_int_equal(js_job_int(rem, "lease_ms", -1), 9000);
	assert_int_equal(js_job_int(rem, "heartbeat_ms", -1), 2000);
	/* the server's job is left alone */
	assert_string_equal(js_job_str(job, "status"), "running");
	json_decref(local);
	/* no attempt counted yet stays at 0 */
	cl.attempts = 0;
	local = claim_local_copy(job, &cl);
	assert_int_equal(js_job_int(local, "attempts", -1), 0);
	json_decref(local);
	json_decref(job);
}

static void
test_finish_body(void **state)
{
	json_t *job, *b, *j;

	(void)state;
	job = parse("{\"id\":\"" ID "\",\"status\":\"completed\","
	    "\"attempts\":2,\"log_size\":100,\"log_sha256\":\"ab\","
	    "\"remote\":{\"token\":7}}");
	/* the final job, its log counted from the server's at the claim */
	b = parse_owned(mirror_finish_body(job, 7, 400, 0, 0, 3, NULL));
	assert_int_equal(js_job_int(b, "token", -1), 7);
	assert_true(json_is_false(json_object_get(b, "give_back")));
	j = json_object_get(b, "job");
	assert_null(json_object_get(j, "remote"));
	assert_string_equal(js_job_str(j, "status"), "completed");
	assert_int_equal(js_job_int(j, "log_size", -1), 500);
	assert_true(json_is_null(json_object_get(j, "log_sha256")));
	assert_int_equal(js_job_int(j, "attempts", -1), 2);
	json_decref(b);
	/* a log from its start: size and digest are ours */
	b = parse_owned(mirror_finish_body(job, 7, 0, 0, 0, 3, NULL));
	j = json_object_get(b, "job");
	assert_int_equal(js_job_int(j, "log_size", -1), 100);
	assert_string_equal(js_job_str(j, "log_sha256"), "ab");
	json_decref(b);
	/* handed back: pending, attempts as run here */
	b = parse_owned(mirror_finish_body(job, 7, 400, 1, 0, 3, NULL));
	j = json_object_get(b, "job");
	assert_string_equal(js_job_str(j, "status"), "pending");
	assert_int_equal(js_job_int(j, "attempts", -1), 2);
	assert_int_equal(js_job_int(j, "log_size", -1), 100);
	assert_null(json_object_get(j, "error"));
	json_decref(b);
	/* given back: the server's count; killed: why */
	b = parse_owned(mirror_finish_body(job, 7, 400, 1, 1, 3,
	    "worker w lost its lease: x"));
	assert_true(json_is_true(json_object_get(b, "give_back")));
	j = json_object_get(b, "job");
	assert_int_equal(js_job_int(j, "attempts", -1), 3);
	assert_string_equal(js_job_str(j, "error"),
	    "worker w lost its lease: x");
	json_decref(b);
	/* the local job is left alone */
	assert_non_null(json_object_get(job, "remote"));
	assert_string_equal(js_job_str(job, "status"), "completed");
	json_decref(job);
}

/* The handles of finished job threads are kept (with their connections)
 * for the next: the last one put back is the next one given; at most
 * RHTTP_IDLE_MAX are kept; rhttp_free releases them (ASan: no leak). */
static void
test_handle_pool(void **state)
{
	struct proc_config cfg;
	struct rhttp h;
	CURL *a, *b, *c, *old, *many[RHTTP_IDLE_MAX + 2];
	char err[256];
	size_t i;

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	cfg.server = "http://127.0.0.1:1";
	assert_int_equal(curlfn_load(err, sizeof err), 0);
	assert_int_equal(rhttp_init(&h, &cfg), 0);
	a = rhttp_handle(&h);
	b = rhttp_handle(&h);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	rhttp_handle_done(&h, a);
	rhttp_handle_done(&h, b);
	rhttp_handle_done(&h, NULL);	/* nothing */
	assert_int_equal(h.nidle, 2);
	c = rhttp_handle(&h);
	assert_ptr_equal(c, b);		/* the most recent first */
	assert_ptr_equal(rhttp_handle(&h), a);
	assert_int_equal(h.nidle, 0);
	rhttp_handle_done(&h, a);
	rhttp_handle_done(&h, c);
	for (i = 0; i < RHTTP_IDLE_MAX + 2; i++)
		assert_non_null(many[i] = rhttp_handle(&h));
	for (i = 0; i < RHTTP_IDLE_MAX + 2; i++)
		rhttp_handle_done(&h, many[i]);
	assert_int_equal(h.nidle, RHTTP_IDLE_MAX);	/* the rest freed */
	/* one idle for longer than a server keeps a connection: not given */
	h.idle[0].since -= 60000;
	old = h.idle[0].c;
	c = rhttp_handle(&h);
	assert_ptr_not_equal(c, old);
	assert_int_equal(h.nidle, RHTTP_IDLE_MAX - 2);
	for (i = 0; i < h.nidle; i++)
		assert_ptr_not_equal(h.idle[i].c, old);	/* freed */
	rhttp_handle_done(&h, c);
	rhttp_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_answer_line),
		cmocka_unit_test(test_claim_body),
		cmocka_unit_test(test_claim_parse),
		cmocka_unit_test(test_claim_local_copy),
		cmocka_unit_test(test_finish_body),
		cmocka_unit_test(test_handle_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
