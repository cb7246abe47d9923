/* Unit tests for the client (client/args.c, client/fmt.c, the filter of
 * client/local_log.c): submit's options into a job, exit statuses, and
 * what ls and wait print. */
#include <errno.h>
#include <getopt.h>

#include "testutil.h"
#include "../../client/client.h"
#include "../../client/local.h"

/* Parses a submit command line (NULL-terminated words after "submit");
 * returns cl_submit_args' result, s filled, err the message. */
static int
parse(struct cl_ctx *ctx, struct cl_submit *s, char *err, size_t errlen, ...)
{
	char *argv[64];
	int argc = 0;
	va_list ap;

	memset(ctx, 0, sizeof *ctx);
	argv[argc++] = "submit";
	va_start(ap, errlen);
	while (argc < 63 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	optind = 0;
	return cl_submit_args(ctx, s, argc, argv, err, errlen);
}

static void
done(struct cl_ctx *ctx, struct cl_submit *s)
{
	json_decref(s->job);
	free(ctx->spool);
	free(ctx->url);
	free(ctx->token);
}

/* The command is argv exactly: spaces, quotes, -c and "--" words kept. */
static void
test_argv_exact(void **state)
{
	struct cl_ctx ctx;
	struct cl_submit s;
	char err[300];
	json_t *cmd;

	(void)state;
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--name", "n 1", "-w",
	    "--", "sh", "-c", "echo \"$1\" 'it''s'", "x y", "--", "", NULL), 0);
	cmd = json_object_get(s.job, "command");
	assert_int_equal(json_array_size(cmd), 6);
	assert_string_equal(json_string_value(json_array_get(cmd, 1)), "-c");
	assert_string_equal(json_string_value(json_array_get(cmd, 2)),
	    "echo \"$1\" 'it''s'");
	assert_string_equal(json_string_value(json_array_get(cmd, 3)), "x y");
	assert_string_equal(json_string_value(json_array_get(cmd, 4)), "--");
	assert_string_equal(json_string_value(json_array_get(cmd, 5)), "");
	assert_string_equal(js_job_str(s.job, "name"), "n 1");
	assert_int_equal(s.wait, 1);
	assert_int_equal(s.follow, 0);
	assert_null(json_object_get(s.job, "shell"));
	done(&ctx, &s);
}

/* Options after the command are the command's, not submit's. */
static void
test_options_stop_at_command(void **state)
{
	struct cl_ctx ctx;
	struct cl_submit s;
	char err[300];
	json_t *cmd;

	(void)state;
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "ls", "-w", "--json",
	    NULL), 0);
	cmd = json_object_get(s.job, "command");
	assert_int_equal(json_array_size(cmd), 3);
	assert_string_equal(json_string_value(json_array_get(cmd, 1)), "-w");
	assert_int_equal(s.wait, 0);
	assert_int_equal(ctx.json, 0);
	done(&ctx, &s);
}

static void
test_fields(void **state)
{
	struct cl_ctx ctx;
	struct cl_submit s;
	char err[300];

	(void)state;
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--label", "gpu",
	    "--label", "big", "--priority", "-5", "--timeout", "15m",
	    "--retries", "2", "--env", "A=b=c", "--env", "E=", "--cwd", "/tmp",
	    "--delay", "1h", "--after", "x", "--idempotency-key", "k1", "-f",
	    "--json", "--shell", "echo 'hi there'", NULL), 0);
	assert_string_equal(js_job_str(s.job, "shell"), "echo 'hi there'");
	assert_int_equal(json_array_size(json_object_get(s.job, "labels")), 2);
	assert_int_equal(js_job_int(s.job, "priority", 0), -5);
	assert_int_equal(js_job_int(s.job, "retries", 0), 2);
	assert_string_equal(js_job_str(s.job, "timeout"), "15m");
	assert_string_equal(js_job_str(json_object_get(s.job, "env"), "A"),
	    "b=c");
	assert_string_equal(js_job_str(json_object_get(s.job, "env"), "E"), "");
	assert_string_equal(js_job_str(s.job, "delay"), "1h");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(s.job, "after"), 0)), "x");
	assert_string_equal(s.idem, "k1");
	assert_int_equal(s.follow, 1);
	assert_int_equal(ctx.json, 1);
	assert_null(json_object_get(s.job, "command"));
	done(&ctx, &s);
}

static void
test_container(void **state)
{
	struct cl_ctx ctx;
	struct cl_submit s;
	char err[300];
	json_t *ct;

	(void)state;
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--container",
	    "busybox", "--", "sh", "-c", "echo a", NULL), 0);
	ct = json_object_get(s.job, "container");
	assert_string_equal(js_job_str(ct, "image"), "busybox");
	assert_int_equal(json_array_size(json_object_get(ct, "command")), 3);
	assert_null(json_object_get(s.job, "command"));
	done(&ctx, &s);
}

/* Usage errors: each gives a message and no job is half-made. */
static void
test_bad(void **state)
{
	struct cl_ctx ctx;
	struct cl_submit s;
	char err[300];

	(void)state;
	assert_int_equal(parse(&ctx, &s, err, sizeof err, NULL), -1);
	assert_non_null(strstr(err, "nothing to run"));
	done(&ctx, &s);
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--bogus", "--",
	    "true", NULL), -1);
	assert_non_null(strstr(err, "--bogus"));
	done(&ctx, &s);
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--priority", "high",
	    "--", "true", NULL), -1);
	assert_non_null(strstr(err, "priority"));
	done(&ctx, &s);
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--env", "NOEQUALS",
	    "--", "true", NULL), -1);
	assert_non_null(strstr(err, "NAME=VALUE"));
	done(&ctx, &s);
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--shell", "a",
	    "extra", NULL), -1);
	assert_non_null(strstr(err, "quote the whole line"));
	done(&ctx, &s);
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--shell", "a",
	    "--container", "img", NULL), -1);
	done(&ctx, &s);
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--container", "img",
	    NULL), -1);
	assert_non_null(strstr(err, "CMD"));
	done(&ctx, &s);
	assert_int_equal(parse(&ctx, &s, err, sizeof err, "--retries", "101",
	    "--", "true", NULL), -1);
	done(&ctx, &s);
}

static json_t *
job(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);

	assert_non_null(j);
	return j;
}

static int
exit_of(const char *text)
{
	json_t *j = job(text);
	int rc = cl_job_exit(j);

	json_decref(j);
	return rc;
}

static void
test_exit_status(void **state)
{
	(void)state;
	assert_int_equal(exit_of("{\"status\":\"completed\",\"exit_code\":0}"), 0);
	assert_int_equal(exit_of("{\"status\":\"failed\",\"exit_code\":3}"), 3);
	assert_int_equal(exit_of("{\"status\":\"failed\",\"exit_code\":null,"
	    "\"signal\":9}"), 137);
	assert_int_equal(exit_of("{\"status\":\"failed\",\"signal\":15,"
	    "\"error\":\"timeout: killed after 1s\"}"), CL_EXIT_TIMEOUT);
	assert_int_equal(exit_of("{\"status\":\"cancelled\",\"signal\":15}"),
	    CL_EXIT_CANCELLED);
	assert_int_equal(exit_of("{\"status\":\"failed\",\"error\":\"lease "
	    "expired: its processor (h:1) stopped heartbeating\"}"),
	    CL_EXIT_LOST);
	assert_int_equal(exit_of("{\"status\":\"failed\",\"error\":\"cannot "
	    "run: No such file\"}"), CL_EXIT_NOCODE);
	assert_int_equal(exit_of("{\"status\":\"running\"}"), CL_EXIT_PENDING);
	assert_int_equal(exit_of("{\"status\":\"pending\"}"), CL_EXIT_PENDING);
	assert_int_equal(exit_of("{}"), CL_EXIT_ERROR);
	/* retrieved keeps the outcome in status */
	assert_int_equal(exit_of("{\"status\":\"failed\",\"exit_code\":2,"
	    "\"retrieved_at\":\"2026-01-01T00:00:00.000Z\"}"), 2);
}

static void
test_ago_duration(void **state)
{
	char b[CL_AGO_SIZE], d[32];
	json_t *j;

	(void)state;
	cl_ago(1000000, 1000000 + 5000, b);
	assert_string_equal(b, "5 s ago");
	cl_ago(1000000, 1000000 + 125000, b);
	assert_string_equal(b, "2 min ago");
	cl_ago(1000000, 1000000 + 7200000, b);
	assert_string_equal(b, "2 h ago");
	cl_ago(1000000, 1000000 + 3 * 86400000LL, b);
	assert_string_equal(b, "3 d ago");
	cl_ago(0, 5, b);
	assert_string_equal(b, "-");
	j = job("{\"started_at\":\"2026-01-01T00:00:00.000Z\","
	    "\"finished_at\":\"2026-01-01T00:00:02.500Z\"}");
	cl_job_duration(j, 0, d);
	assert_string_equal(d, "2.5s");
	json_decref(j);
	j = job("{\"started_at\":null}");
	cl_job_duration(j, 0, d);
	assert_string_equal(d, "-");
	json_decref(j);
}

static void
test_what(void **state)
{
	json_t *j = job("{\"command\":[\"printf\",\"%s\\n\",\"a b\",\"it's\","
	    "\"-c\",\"\"]}");
	char *w = cl_job_what(j);

	(void)state;
	assert_string_equal(w, "printf '%s\n' 'a b' 'it'\\''s' -c ''");
	free(w);
	json_decref(j);
	j = job("{\"shell\":\"echo hi | wc\"}");
	w = cl_job_what(j);
	assert_string_equal(w, "sh -c 'echo hi | wc'");
	free(w);
	json_decref(j);
	j = job("{\"container\":{\"image\":\"bb\",\"command\":[\"ls\"]}}");
	w = cl_job_what(j);
	assert_string_equal(w, "[bb] ls");
	free(w);
	json_decref(j);
}

/* The table: a header, one aligned row per job, the shortest unique id. */
static void
test_table(void **state)
{
	json_t *jobs = job("[{\"id\":\"aaaaaaaa-1111-4000-8000-000000000001\","
	    "\"status\":\"completed\",\"exit_code\":0,\"name\":\"first\","
	    "\"command\":[\"true\"]},"
	    "{\"id\":\"aaaaaaaa-1122-4000-8000-000000000002\","
	    "\"status\":\"running\",\"command\":[\"sleep\",\"9\"]}]");
	char *out = NULL, *l1, *l2, *l3;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(cl_short_len(jobs), 12);
	cl_print_table(fp, jobs, 0);
	fclose(fp);
	l1 = out;
	l2 = strchr(l1, '\n') + 1;
	l3 = strchr(l2, '\n') + 1;
	assert_int_equal(strncmp(l1, "ID            STATE", 19), 0);
	assert_int_equal(strncmp(l2, "aaaaaaaa-111  ", 14), 0);
	assert_int_equal(strncmp(l3, "aaaaaaaa-112  ", 14), 0);
	/* the STATE column starts at the same place on each line */
	assert_int_equal(strstr(l2, "completed") - l2, strstr(l1, "STATE") - l1);
	assert_int_equal(strstr(l3, "running") - l3, strstr(l1, "STATE") - l1);
	assert_non_null(strstr(l3, "sleep 9\n"));
	free(out);
	json_decref(jobs);
}

static void
test_filter(void **state)
{
	json_t *j = job("{\"status\":\"failed\",\"name\":\"n\",\"batch\":\"b\","
	    "\"labels\":[\"gpu\"],\"retrieved_at\":\"2026-01-01T00:00:00Z\"}");
	struct cl_filter f = { .limit = -1 };

	(void)state;
	assert_int_equal(cl_filter_match(&f, j), 1);
	f.state = "pending,FAILED";
	assert_int_equal(cl_filter_match(&f, j), 1);
	f.state = "retrieved";
	assert_int_equal(cl_filter_match(&f, j), 1);
	f.state = "completed";
	assert_int_equal(cl_filter_match(&f, j), 0);
	f.state = NULL;
	f.label = "gpu";
	assert_int_equal(cl_filter_match(&f, j), 1);
	f.label = "cpu";
	assert_int_equal(cl_filter_match(&f, j), 0);
	f.label = NULL;
	f.name = "m";
	assert_int_equal(cl_filter_match(&f, j), 0);
	f.name = "n";
	f.batch = "b";
	assert_int_equal(cl_filter_match(&f, j), 1);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_exact),
		cmocka_unit_test(test_options_stop_at_command),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_container),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_ago_duration),
		cmocka_unit_test(test_what),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
