/* Unit tests for lib/job.c: validation of hostile and well-formed jobs. */
#include <errno.h>

#include "testutil.h"
#include "job.h"
#include "util.h"

static char err[512];

/* Parses text and validates it; returns the validated job or NULL. */
static json_t *
try(const char *text)
{
	json_t *in, *out;

	err[0] = '\0';
	in = js_job_parse(text, strlen(text), err, sizeof err);
	if (in == NULL)
		return NULL;
	out = js_job_validate(in, err, sizeof err);
	json_decref(in);
	return out;
}

/* Asserts text is refused with a message containing want. */
static void
refused(const char *text, const char *want)
{
	json_t *j = try(text);

	if (j != NULL) {
		json_decref(j);
		fail_msg("accepted: %s", text);
	}
	if (strstr(err, want) == NULL)
		fail_msg("for %s: message '%s' lacks '%s'", text, err, want);
}

static void
test_valid_full(void **state)
{
	json_t *j = try("{\"name\":\"n\",\"description\":\"d\","
	    "\"command\":[\"/usr/bin/env\",\"printf\",\"%s\\n\",\"\"],"
	    "\"env\":{\"K\":\"V\"},\"cwd\":\"/tmp\",\"stdin\":\"in\","
	    "\"timeout\":30,\"max_attempts\":3,\"retries\":1,"
	    "\"limits\":{\"cpu\":60,\"memory\":\"512M\",\"nofile\":256,"
	    "\"nproc\":10,\"fsize\":\"1G\"},\"priority\":-5,"
	    "\"metadata\":{\"any\":[\"json\",1,2]},"
	    "\"labels\":[\"gpu\",\"big-mem\",\"x86_64\"]}");

	(void)state;
	assert_non_null(j);
	assert_int_equal(json_array_size(json_object_get(j, "labels")), 3);
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(j, "limits"), "memory")), 512LL << 20);
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(j, "limits"), "fsize")), 1LL << 30);
	assert_int_equal(json_array_size(json_object_get(j, "command")), 4);
	json_decref(j);
}

static void
test_kinds(void **state)
{
	json_t *j;

	(void)state;
	j = try("{\"shell\":\"echo hi | tr a-z A-Z\"}");
	assert_non_null(j);
	json_decref(j);
	/* docker is stored as container */
	j = try("{\"docker\":{\"image\":\"localhost/busybox:latest\","
	    "\"command\":[\"sh\",\"-c\",\"echo hi\"],\"environment\":{\"K\":\"V\"}}}");
	assert_non_null(j);
	assert_null(json_object_get(j, "docker"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j,
	    "container"), "image")), "localhost/busybox:latest");
	json_decref(j);
	j = try("{\"builtin\":\"add\",\"args\":[1,2]}");
	assert_non_null(j);
	json_decref(j);
	j = try("{\"command\":[\"true\"],\"timeout\":\"15m\"}");
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "timeout")), 900);
	json_decref(j);
}

static void
test_refused(void **state)
{
	(void)state;
	refused("{}", "needs one of");
	refused("[]", "JSON object");
	refused("\"command\"", "JSON object");
	refused("{\"command\":[\"a\"],\"shell\":\"b\"}", "exactly one");
	refused("{\"command\":[]}", "must not be empty");
	refused("{\"command\":[\"\"]}", "command[0] must not be empty");
	refused("{\"command\":\"ls -l\"}", "array of strings");
	refused("{\"command\":[\"ls\",1]}", "command[1] must be a string");
	refused("{\"shell\":\"\"}", "shell must not be empty");
	refused("{\"shell\":42}", "shell must be a string");
	refused("{\"container\":{\"command\":[\"x\"]}}", "image is required");
	refused("{\"container\":{\"image\":\"--privileged\"}}", "must not start");
	refused("{\"container\":{\"image\":\"a\"},\"docker\":{\"image\":\"a\"}}",
	    "not");
	refused("{\"container\":\"busybox\"}", "must be an object");
	refused("{\"container\":{\"image\":\"a\",\"volumes\":[]}}", "unknown field");
	refused("{\"shell\":\"x\",\"env\":[\"K=V\"]}", "env must be an object");
	refused("{\"shell\":\"x\",\"env\":{\"K\":1}}", "env.K must be a string");
	refused("{\"shell\":\"x\",\"env\":{\"A=B\":\"x\"}}", "bad variable name");
	refused("{\"shell\":\"x\",\"env\":{\"\":\"x\"}}", "variable names");
	refused("{\"shell\":\"x\",\"cwd\":\"relative\"}", "absolute");
	refused("{\"shell\":\"x\",\"cwd\":7}", "cwd must be a string");
	refused("{\"shell\":\"x\",\"stdin\":[1]}", "stdin must be a string");
	refused("{\"shell\":\"x\",\"timeout\":-1}", "timeout");
	refused("{\"shell\":\"x\",\"timeout\":\"soon\"}", "timeout");
	refused("{\"shell\":\"x\",\"timeout\":1e300}", "timeout");
	refused("{\"shell\":\"x\",\"max_attempts\":0}", "max_attempts");
	refused("{\"shell\":\"x\",\"max_attempts\":\"3\"}", "max_attempts");
	refused("{\"shell\":\"x\",\"retries\":-1}", "retries");
	refused("{\"shell\":\"x\",\"priority\":1.5}", "priority");
	/* integers only: 1e3 and 3.0 are reals (stored as 1000.0, 3.0) */
	refused("{\"shell\":\"x\",\"priority\":1e3}", "without a fraction or exponent");
	refused("{\"shell\":\"x\",\"priority\":3.0}", "priority must be an integer");
	refused("{\"shell\":\"x\",\"retries\":2.0}", "retries");
	refused("{\"shell\":\"x\",\"max_attempts\":1E1}", "max_attempts");
	refused("{\"shell\":\"x\",\"limits\":{\"cpu\":6e1}}", "limits.cpu");
	refused("{\"shell\":\"x\",\"priority\":9223372036854775807}", "priority");
	refused("{\"shell\":\"x\",\"limits\":{\"cpu\":\"lots\"}}", "limits.cpu");
	refused("{\"shell\":\"x\",\"limits\":{\"memory\":\"12Q\"}}", "limits.memory");
	refused("{\"shell\":\"x\",\"limits\":{\"stack\":1}}", "unknown limit");
	refused("{\"shell\":\"x\",\"limits\":5}", "limits must be an object");
	refused("{\"shell\":\"x\",\"name\":5}", "name must be a string");
	refused("{\"shell\":\"x\",\"colour\":\"red\"}", "unknown field 'colour'");
	refused("{\"shell\":\"x\",\"id\":\"x\"}", "set by the server");
	refused("{\"shell\":\"x\",\"status\":\"completed\"}", "set by the server");
	refused("{\"builtin\":\"rm\",\"args\":[1,2]}", "builtin");
	refused("{\"builtin\":\"add\"}", "needs args");
	refused("{\"builtin\":\"add\",\"args\":[1]}", "two integers");
	refused("{\"shell\":\"x\",\"args\":[1,2]}", "only for builtin");
	refused("{\"shell\":\"x\",\"labels\":\"gpu\"}", "labels must be an array");
	refused("{\"shell\":\"x\",\"labels\":[\"\"]}", "labels[0]");
	refused("{\"shell\":\"x\",\"labels\":[\"a b\"]}", "only letters");
	refused("{\"shell\":\"x\",\"labels\":[\"gpu\",\"gpu\"]}", "repeats");
	refused("{\"shell\":\"x\",\"labels\":[7]}", "labels[0]");
}

static void
test_hostile_json(void **state)
{
	char *deep;
	size_t i, n = 100000;
	char name[600];

	(void)state;
	refused("{\"shell\":", "malformed JSON");
	refused("{\"shell\":\"x\",\"shell\":\"y\"}", "malformed JSON");	/* duplicate */
	refused("{\"shell\":\"x\",\"priority\":99999999999999999999999}",
	    "malformed JSON");	/* integer overflow */
	refused("{\"shell\":\"x\",\"timeout\":1e999}", "malformed JSON");
	refused("{\"shell\":\"\xff\xfe\"}", "malformed JSON");	/* bad UTF-8 */
	refused("{\"shell\":\"a\\u0000b\"}", "malformed JSON");	/* NUL */
	{
		/* a NUL byte after the object: the whole body is refused */
		static const char body[] = "{\"shell\":\"x\"}\0garbage";
		json_t *j = js_job_parse(body, sizeof body - 1, err, sizeof err);
		assert_null(j);
		assert_non_null(strstr(err, "malformed JSON"));
	}
	/* deep nesting of metadata is refused by the parser, not a crash */
	deep = malloc(2 * n + 64);
	assert_non_null(deep);
	strcpy(deep, "{\"shell\":\"x\",\"metadata\":");
	i = strlen(deep);
	memset(deep + i, '[', n);
	memset(deep + i + n, ']', n);
	strcpy(deep + i + 2 * n, "}");
	refused(deep, "malformed JSON");
	free(deep);
	/* name too long */
	memset(name, 'a', sizeof name);
	snprintf(name, sizeof name, "{\"shell\":\"x\",\"name\":\"%0400d\"}", 0);
	refused(name, "too long");
}

static void
test_new_and_normalize(void **state)
{
	json_t *v, *job, *norm, *hand;
	const char *id;

	(void)state;
	v = try("{\"shell\":\"echo\"}");
	assert_non_null(v);
	job = js_job_new(v, NULL, "alice", NULL);
	assert_non_null(job);
	id = js_job_str(job, "id");
	assert_true(js_id_valid(id));
	assert_string_equal(js_job_str(job, "status"), "pending");
	assert_string_equal(js_job_str(job, "owner"), "alice");
	assert_true(json_is_null(json_object_get(job, "batch")));
	assert_true(json_is_null(json_object_get(job, "exit_code")));
	assert_int_equal(js_job_int(job, "attempts", -1), 0);
	assert_int_equal(js_job_int(job, "max_attempts", -1), 3);
	assert_int_equal(js_job_int(job, "priority", -1), 0);
	assert_non_null(js_job_str(job, "created_at"));
	/* a stored job normalises to itself (same id) */
	norm = js_job_normalize(job, id, err, sizeof err);
	assert_non_null(norm);
	assert_string_equal(js_job_str(norm, "owner"), "alice");
	assert_int_equal(js_job_int(norm, "seq", 0), js_job_int(job, "seq", 1));
	json_decref(norm);
	/* wrong id inside */
	assert_null(js_job_normalize(job, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    err, sizeof err));
	assert_non_null(strstr(err, "does not match"));
	/* a hand-written file gets the stored fields filled in */
	hand = json_pack("{s:[s,s]}", "command", "echo", "hi");
	norm = js_job_normalize(hand, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    err, sizeof err);
	assert_non_null(norm);
	assert_string_equal(js_job_str(norm, "id"),
	    "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b");
	assert_int_equal(js_job_int(norm, "max_attempts", 0), 3);
	json_decref(norm);
	/* a stored field of the wrong type */
	json_object_set_new(hand, "attempts", json_string("two"));
	assert_null(js_job_normalize(hand, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    err, sizeof err));
	assert_non_null(strstr(err, "attempts"));
	/* counters out of range: a negative one would give runs beyond
	 * "retries", a huge one overflow at the next claim */
	json_object_set_new(hand, "attempts", json_integer(-3));
	assert_null(js_job_normalize(hand, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    err, sizeof err));
	assert_non_null(strstr(err, "'attempts' must be from 0"));
	json_object_set_new(hand, "attempts", json_integer(JS_COUNTER_MAX + 1));
	assert_null(js_job_normalize(hand, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    err, sizeof err));
	json_object_set_new(hand, "attempts", json_integer(JS_COUNTER_MAX));
	json_object_set_new(hand, "generation", json_integer(-1));
	assert_null(js_job_normalize(hand, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    err, sizeof err));
	assert_non_null(strstr(err, "'generation'"));
	json_object_set_new(hand, "generation", json_integer(7));
	norm = js_job_normalize(hand, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    err, sizeof err);
	assert_non_null(norm);
	assert_int_equal(js_job_int(norm, "attempts", 0), JS_COUNTER_MAX);
	json_decref(norm);
	json_decref(hand);
	/* seq increases strictly */
	norm = js_job_new(v, NULL, NULL, NULL);
	assert_true(js_job_int(norm, "seq", 0) > js_job_int(job, "seq", 0));
	json_decref(norm);
	json_decref(job);
	json_decref(v);
}

static void
test_states(void **state)
{
	(void)state;
	assert_int_equal(js_state_from_status("ENQUEUED"), JS_PENDING);
	assert_int_equal(js_state_from_status("Running"), JS_WIP);
	assert_int_equal(js_state_from_status("FINISHED"), JS_COMPLETED);
	assert_int_equal(js_state_from_status("CANCELLED"), JS_CANCELLED);
	assert_int_equal(js_state_from_status("cancelled"), JS_CANCELLED);
	assert_int_equal(js_state_from_status("done"), -1);
	assert_string_equal(js_state_ext(JS_WIP), "wip");
	assert_string_equal(js_state_status(JS_WIP), "running");
	assert_null(js_state_status(JS_RETRIEVED));
	assert_int_equal(js_state_from_ext("retrieved"), JS_RETRIEVED);
	assert_int_equal(js_state_from_ext("log"), -1);
}

static void
test_update_check(void **state)
{
	json_t *u;

	(void)state;
	u = json_pack("{s:s,s:s,s:{s:i}}", "name", "x", "description", "",
	    "metadata", "k", 1);
	assert_int_equal(js_job_check_update(u, err, sizeof err), 0);
	json_decref(u);
	/* the rule of a submission: a name or description is never null */
	u = json_pack("{s:n}", "name");
	assert_int_equal(js_job_check_update(u, err, sizeof err), -1);
	assert_non_null(strstr(err, "name must be a string"));
	json_decref(u);
	u = json_pack("{s:n}", "description");
	assert_int_equal(js_job_check_update(u, err, sizeof err), -1);
	json_decref(u);
	u = json_pack("{s:i}", "name", 5);
	assert_int_equal(js_job_check_update(u, err, sizeof err), -1);
	json_decref(u);
	u = json_pack("{s:[s]}", "command", "rm");
	assert_int_equal(js_job_check_update(u, err, sizeof err), -1);
	assert_non_null(strstr(err, "command"));
	json_decref(u);
}

/* run_at and delay: normalised into run_at (UTC, milliseconds) */
static void
test_start_time(void **state)
{
	json_t *j;
	int64_t ms, before;

	(void)state;
	assert_int_equal(js_rfc3339_parse("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(js_rfc3339_parse("2024-02-29t23:59:60.9999z", &ms), 0);
	assert_int_equal(js_rfc3339_parse("2026-12-05 16:00:00-01:30", &ms), 0);
	assert_int_equal(js_rfc3339_parse("2026-12-05T17:30:00Z", &before), 0);
	assert_int_equal(ms, before);
	assert_int_equal(js_rfc3339_parse("2026-12-05T16:00:00", &ms), -1);
	assert_int_equal(js_rfc3339_parse("2026-13-05T16:00:00Z", &ms), -1);
	assert_int_equal(js_rfc3339_parse("2023-02-29T16:00:00Z", &ms), -1);
	assert_int_equal(js_rfc3339_parse("2026-12-05T16:00:00Zjunk", &ms), -1);
	assert_int_equal(js_rfc3339_parse("1969-12-31T23:59:59Z", &ms), -1);
	assert_int_equal(js_rfc3339_parse("2026-12-05T16:00:00+24:00", &ms), -1);

	j = try("{\"shell\":\"true\",\"run_at\":\"2026-12-05T16:00:00+01:00\"}");
	assert_non_null(j);
	assert_string_equal(js_job_str(j, "run_at"), "2026-12-05T15:00:00.000Z");
	json_decref(j);
	j = try("{\"shell\":\"true\",\"run_at\":null}");
	assert_non_null(j);
	assert_true(json_is_null(json_object_get(j, "run_at")));
	json_decref(j);
	before = js_now_ms();
	j = try("{\"shell\":\"true\",\"delay\":\"15m\"}");
	assert_non_null(j);
	assert_null(json_object_get(j, "delay"));
	assert_int_equal(js_time_parse(js_job_str(j, "run_at"), &ms), 0);
	assert_true(ms >= before + 900000 && ms <= js_now_ms() + 900000);
	json_decref(j);
	j = try("{\"shell\":\"true\",\"delay\":90}");
	assert_non_null(j);
	assert_int_equal(js_time_parse(js_job_str(j, "run_at"), &ms), 0);
	assert_true(ms >= before + 90000);
	json_decref(j);
	refused("{\"shell\":\"true\",\"delay\":5,\"run_at\":"
	    "\"2026-12-05T16:00:00Z\"}", "not both");
	refused("{\"shell\":\"true\",\"delay\":-1}", "delay must be");
	refused("{\"shell\":\"true\",\"delay\":\"soon\"}", "delay must be");
	refused("{\"shell\":\"true\",\"delay\":true}", "delay must be");
	refused("{\"shell\":\"true\",\"delay\":1e300}", "delay must be");
	refused("{\"shell\":\"true\",\"run_at\":\"tomorrow\"}", "run_at must");
	refused("{\"shell\":\"true\",\"run_at\":1796000000}", "run_at must");
	refused("{\"shell\":\"true\",\"not_before\":1}", "set by the server");
	refused("{\"shell\":\"true\",\"rerun_of\":\"x\"}", "set by the server");
}

/* a PUT may change priority and start time; they are pending-only */
static void
test_update_sched(void **state)
{
	json_t *job, *u;
	int64_t ms;

	(void)state;
	u = json_pack("{s:i,s:s}", "priority", 7, "run_at",
	    "2026-12-05T16:00:00+01:00");
	assert_int_equal(js_job_check_update(u, err, sizeof err), 0);
	assert_non_null(js_job_pending_only(u));
	job = json_pack("{s:s,s:i,s:I}", "shell", "true", "priority", 0,
	    "not_before", (json_int_t)5);
	assert_int_equal(js_job_update(job, u, err, sizeof err), 0);
	assert_int_equal(js_job_int(job, "priority", 0), 7);
	assert_string_equal(js_job_str(job, "run_at"), "2026-12-05T15:00:00.000Z");
	assert_null(json_object_get(job, "not_before"));
	json_decref(u);
	u = json_pack("{s:s}", "delay", "1h");
	assert_int_equal(js_job_update(job, u, err, sizeof err), 0);
	assert_null(json_object_get(job, "delay"));
	assert_int_equal(js_time_parse(js_job_str(job, "run_at"), &ms), 0);
	assert_true(ms > js_now_ms() + 3500000);
	json_decref(u);
	u = json_pack("{s:i,s:s}", "delay", 1, "run_at", "2026-12-05T16:00:00Z");
	assert_int_equal(js_job_check_update(u, err, sizeof err), -1);
	assert_non_null(strstr(err, "not both"));
	json_decref(u);
	u = json_pack("{s:s}", "priority", "high");
	assert_int_equal(js_job_update(job, u, err, sizeof err), -1);
	assert_int_equal(js_job_int(job, "priority", 0), 7);	/* unchanged */
	json_decref(u);
	u = json_pack("{s:s}", "name", "x");
	assert_null(js_job_pending_only(u));
	json_decref(u);
	json_decref(job);
}

/* a re-run: same specification, new id and state, rerun_of */
static void
test_rerun(void **state)
{
	json_t *v, *old, *re;
	const char *oid;

	(void)state;
	v = try("{\"name\":\"n\",\"shell\":\"false\",\"priority\":3,"
	    "\"limits\":{\"memory\":\"1M\"},\"labels\":[\"gpu\"],"
	    "\"retries\":2,\"delay\":60}");
	assert_non_null(v);
	old = js_job_new(v, NULL, "alice", "00000000-0000-4000-8000-000000000000");
	json_decref(v);
	json_object_set_new(old, "status", json_string("failed"));
	json_object_set_new(old, "attempts", json_integer(3));
	json_object_set_new(old, "exit_code", json_integer(1));
	json_object_set_new(old, "not_before", json_integer(5));
	oid = js_job_str(old, "id");
	re = js_job_rerun(old, err, sizeof err);
	assert_non_null(re);
	assert_string_not_equal(js_job_str(re, "id"), oid);
	assert_string_equal(js_job_str(re, "rerun_of"), oid);
	assert_string_equal(js_job_str(re, "status"), "pending");
	assert_string_equal(js_job_str(re, "owner"), "alice");
	assert_true(json_is_null(json_object_get(re, "batch")));
	assert_int_equal(js_job_int(re, "attempts", -1), 0);
	assert_true(json_is_null(json_object_get(re, "exit_code")));
	assert_null(json_object_get(re, "not_before"));
	assert_int_equal(js_job_int(re, "priority", 0), 3);
	assert_int_equal(js_job_int(re, "retries", 0), 2);
	assert_string_equal(js_job_str(re, "shell"), "false");
	assert_string_equal(js_job_str(re, "run_at"), js_job_str(old, "run_at"));
	assert_true(json_equal(json_object_get(re, "limits"),
	    json_object_get(old, "limits")));
	assert_true(json_equal(json_object_get(re, "labels"),
	    json_object_get(old, "labels")));
	json_decref(re);
	json_object_del(old, "shell");	/* no specification left */
	assert_null(js_job_rerun(old, err, sizeof err));
	json_decref(old);
}

/* jansson allocations fail from the n-th on (0: none); the allocator
 * that was set (lib/job.c's, which notes failures) is kept underneath and
 * put back by failing_end, so later tests see it unchanged. */
static int alloc_left;
static json_malloc_t saved_malloc;
static json_free_t saved_free;
static void *
failing_malloc(size_t n)
{
	if (alloc_left > 0 && --alloc_left == 0) {
		errno = ENOMEM;		/* as malloc does */
		return NULL;
	}
	return saved_malloc(n);
}
static void
failing_begin(void)
{
	json_get_alloc_funcs(&saved_malloc, &saved_free);
	json_set_alloc_funcs(failing_malloc, saved_free);
}
static void
failing_end(void)
{
	json_set_alloc_funcs(saved_malloc, saved_free);
	(void)js_json_nomem();	/* (failures of the set one only) */
}

/* A job file is written whole or not at all: with each one of jansson's
 * allocations failing in turn, js_job_dump gives NULL or the text of the
 * whole job (jansson 2.14's json_dumps left a key out instead). */
static void
test_dump_out_of_memory(void **state)
{
	json_t *job, *back;
	char *text;
	size_t len;
	int n, whole = 0, none = 0;

	(void)state;
	job = json_pack("{s:s,s:s,s:[i,i],s:{s:s},s:s}", "name", "add",
	    "builtin", "add", "args", 2, 3, "env", "K", "v", "id",
	    "11111111-1111-4111-8111-111111111111");
	assert_non_null(job);
	failing_begin();
	for (n = 1; n <= 100; n++) {
		alloc_left = n;
		text = js_job_dump(job, &len);
		alloc_left = 0;
		if (text == NULL) {
			none++;
			continue;
		}
		whole++;
		assert_int_equal(strlen(text), len);
		assert_int_equal(text[len - 1], '\n');
		back = json_loads(text, 0, NULL);
		if (back == NULL || !json_equal(back, job))
			fail_msg("allocation %d failing: %s", n, text);
		json_decref(back);
		free(text);
	}
	failing_end();
	assert_true(whole > 0);
	assert_true(none > 0);
	json_decref(job);
}

/* Parsing when memory runs out: NULL with ENOMEM and "out of memory",
 * never "malformed" (a claim fails a job whose file is malformed, the
 * apiserver answers 400 to a malformed body), whether jansson says so (its
 * parser could not start, or json_error_out_of_memory) or not (jansson
 * 2.14 reports a failed allocation inside a string token as a syntax
 * error): an allocation that failed is told by the ENOMEM malloc left. */
static void
test_parse_out_of_memory(void **state)
{
	static const char text[] = "{\"shell\":\"true\",\"name\":\"n\"}";
	json_t *j, *ref;
	int n, oom = 0;

	(void)state;
	ref = js_job_parse(text, strlen(text), err, sizeof err);
	assert_non_null(ref);
	failing_begin();
	for (n = 1; n <= 60; n++) {
		alloc_left = n;
		errno = 0;
		j = js_job_parse(text, strlen(text), err, sizeof err);
		alloc_left = 0;
		if (j != NULL) {
			assert_true(json_equal(j, ref));
			json_decref(j);
			continue;
		}
		assert_int_equal(errno, ENOMEM);
		assert_string_equal(err, "out of memory");
		oom++;
	}
	alloc_left = 1;		/* the parser cannot start */
	j = js_job_parse(text, strlen(text), err, sizeof err);
	alloc_left = 0;
	assert_null(j);
	assert_int_equal(errno, ENOMEM);
	failing_end();
	assert_true(oom > 1);
	/* and text that is no job is still EBADMSG */
	assert_null(js_job_parse("{\"a\":", 6, err, sizeof err));
	assert_int_equal(errno, EBADMSG);
	assert_null(js_job_parse("[1]", 3, err, sizeof err));
	assert_int_equal(errno, EBADMSG);
	json_decref(ref);
}

/* Checks that fail because memory ran out say so by errno (ENOMEM: the
 * apiserver answers 503), and refusals by EINVAL (400). */
static void
test_validate_out_of_memory(void **state)
{
	json_t *sub, *ref, *v, *upd;
	int n, oom = 0;

	(void)state;
	sub = json_pack("{s:s,s:s,s:{s:s},s:s,s:[s]}", "shell", "true",
	    "name", "n", "env", "K", "v", "timeout", "1m", "labels", "gpu");
	upd = json_pack("{s:s,s:s}", "name", "m", "delay", "5m");
	assert_non_null(sub);
	assert_non_null(upd);
	ref = js_job_validate(sub, err, sizeof err);
	assert_non_null(ref);
	failing_begin();
	for (n = 1; n <= 60; n++) {
		alloc_left = n;
		v = js_job_validate(sub, err, sizeof err);
		alloc_left = 0;
		if (v != NULL) {
			assert_true(json_equal(v, ref));
			json_decref(v);
			continue;
		}
		assert_int_equal(errno, ENOMEM);
		oom++;
		alloc_left = n;
		if (js_job_check_update(upd, err, sizeof err) < 0)
			assert_int_equal(errno, ENOMEM);
		alloc_left = 0;
	}
	failing_end();
	assert_true(oom > 1);
	json_decref(sub);
	sub = json_pack("{s:i}", "shell", 5);
	assert_null(js_job_validate(sub, err, sizeof err));
	assert_int_equal(errno, EINVAL);
	json_decref(upd);
	upd = json_pack("{s:i}", "name", 5);
	assert_int_equal(js_job_check_update(upd, err, sizeof err), -1);
	assert_int_equal(errno, EINVAL);
	json_decref(sub);
	json_decref(upd);
	json_decref(ref);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_full),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_hostile_json),
		cmocka_unit_test(test_new_and_normalize),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_update_check),
		cmocka_unit_test(test_start_time),
		cmocka_unit_test(test_update_sched),
		cmocka_unit_test(test_rerun),
		cmocka_unit_test(test_dump_out_of_memory),
		cmocka_unit_test(test_parse_out_of_memory),
		cmocka_unit_test(test_validate_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
