/* Unit tests for lib/config.c: precedence, parsing, errors. */
#include "testutil.h"
#include "config.h"

static struct js_opt template[] = {
	{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR, .def = "./spool",
	  .help = "spool" },
	{ .name = "jobs", .short_flag = 'j', .type = JS_OPT_INT, .def = "2",
	  .min = 1, .max = 64, .help = "jobs" },
	{ .name = "lease", .type = JS_OPT_DURATION, .def = "60s", .help = "lease" },
	{ .name = "max-body", .type = JS_OPT_SIZE, .def = "1M", .help = "body" },
	{ .name = "dry-run", .type = JS_OPT_BOOL, .def = "no", .help = "dry" },
	{ .name = "token", .type = JS_OPT_LIST, .help = "tokens" },
};
#define N (sizeof template / sizeof template[0])

static struct js_opt opts[N];
static char err[512];

static int
setup(void **state)
{
	(void)state;
	memcpy(opts, template, sizeof opts);
	unsetenv("JOBSPOOL_SPOOL");
	unsetenv("JOBSPOOL_JOBS");
	unsetenv("JOBSPOOL_LEASE");
	unsetenv("JOBSPOOL_TOKENS");
	unsetenv("JOBSPOOL_TOKEN");
	unsetenv("JOBSPOOL_CONFIG");
	unsetenv("JOBSPOOL_DRY_RUN");
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	js_config_free(opts, N);
	return 0;
}

static int
parse(int argc, char **argv)
{
	return js_config_parse(opts, N, argc, argv, err, sizeof err);
}

static void
test_defaults(void **state)
{
	char *argv[] = { "prog", NULL };

	(void)state;
	assert_int_equal(parse(1, argv), JS_CONFIG_OK);
	assert_string_equal(opts[0].str, "./spool");
	assert_int_equal(opts[1].num, 2);
	assert_int_equal(opts[2].num, 60000);
	assert_int_equal(opts[3].num, 1 << 20);
	assert_int_equal(opts[4].num, 0);
	assert_int_equal(opts[5].nlist, 0);
}

static char *
write_config(const char *text)
{
	char *path = strdup("/tmp/jobspool-conf.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
test_precedence(void **state)
{
	char *path = write_config("# comment\nspool = /from/file\njobs=3\n"
	    "lease = 5m\ntoken = a:1\ntoken = b:2:admin\nmax_body = 2M\n");
	char *argv[] = { "prog", "--config", path, "--jobs", "5", NULL };

	(void)state;
	setenv("JOBSPOOL_JOBS", "4", 1);
	setenv("JOBSPOOL_LEASE", "90", 1);
	assert_int_equal(parse(5, argv), JS_CONFIG_OK);
	assert_string_equal(opts[0].str, "/from/file");	/* file beats default */
	assert_int_equal(opts[1].num, 5);		/* flag beats env */
	assert_int_equal(opts[2].num, 90000);		/* env beats file */
	assert_int_equal(opts[3].num, 2 << 20);		/* '_' == '-' in keys */
	assert_int_equal(opts[5].nlist, 2);
	assert_string_equal(opts[5].list[1], "b:2:admin");
	/* list from the environment replaces the file's */
	setenv("JOBSPOOL_TOKENS", "x:1, y:2", 1);
	assert_int_equal(parse(5, argv), JS_CONFIG_OK);
	assert_int_equal(opts[5].nlist, 2);
	assert_string_equal(opts[5].list[0], "x:1");
	assert_string_equal(opts[5].list[1], "y:2");
	unlink(path);
	free(path);
}

static void
test_flags_forms(void **state)
{
	char *argv[] = { "prog", "-j8", "--spool=/x", "--dry-run", "--token",
	    "a:b", "--token=c:d", "-s", "/y", NULL };

	(void)state;
	assert_int_equal(parse(9, argv), JS_CONFIG_OK);
	assert_int_equal(opts[1].num, 8);
	assert_string_equal(opts[0].str, "/y");
	assert_int_equal(opts[4].num, 1);
	assert_int_equal(opts[5].nlist, 2);
}

/* getopt_long forms: bundled short flags, "--", --bool=no */
static void
test_getopt_forms(void **state)
{
	static struct js_opt t2[] = {
		{ .name = "dry-run", .short_flag = 'n', .type = JS_OPT_BOOL,
		  .def = "no", .help = "" },
		{ .name = "wait", .short_flag = 'w', .type = JS_OPT_BOOL,
		  .def = "no", .help = "" },
		{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR,
		  .def = "./spool", .help = "" },
	};
	struct js_opt o[3];
	char *bundled[] = { "prog", "-nws/z", NULL };
	char *dashdash[] = { "prog", "-n", "--", NULL };
	char *after[] = { "prog", "--", "-n", NULL };
	char *boolno[] = { "prog", "-nw", "--wait=no", NULL };
	char *unknown[] = { "prog", "-nx", NULL };

	(void)state;
	memcpy(o, t2, sizeof o);
	assert_int_equal(js_config_parse(o, 3, 2, bundled, err, sizeof err),
	    JS_CONFIG_OK);
	assert_int_equal(o[0].num, 1);
	assert_int_equal(o[1].num, 1);
	assert_string_equal(o[2].str, "/z");
	assert_string_equal(js_config_where(&o[2]), "option -s");
	assert_int_equal(js_config_parse(o, 3, 3, dashdash, err, sizeof err),
	    JS_CONFIG_OK);
	assert_int_equal(o[0].num, 1);
	/* after "--" nothing is an option, and there are no operands */
	assert_int_equal(js_config_parse(o, 3, 3, after, err, sizeof err),
	    JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "unexpected argument '-n'"));
	assert_int_equal(js_config_parse(o, 3, 3, boolno, err, sizeof err),
	    JS_CONFIG_OK);
	assert_int_equal(o[0].num, 1);
	assert_int_equal(o[1].num, 0);
	assert_string_equal(js_config_where(&o[1]), "option --wait");
	assert_int_equal(js_config_parse(o, 3, 2, unknown, err, sizeof err),
	    JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "'-x'"));
	js_config_free(o, 3);
}

/* an error names where the bad value came from; so does js_config_where */
static void
test_where(void **state)
{
	char *path = write_config("\n# two\nlease = 1x\n");
	char *file[] = { "prog", "--config", path, NULL };
	char *flag[] = { "prog", "--lease=2x", NULL };
	char *flag2[] = { "prog", "-j", "99", NULL };
	char *ok[] = { "prog", "-j", "7", NULL };

	(void)state;
	assert_int_equal(parse(3, file), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, ":3: bad value '1x' for lease"));
	assert_int_equal(parse(2, flag), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "option --lease: bad value '2x' for lease"));
	assert_int_equal(parse(3, flag2), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "option -j: bad value '99' for jobs"));
	setenv("JOBSPOOL_LEASE", "3x", 1);
	assert_int_equal(parse(3, ok), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "environment JOBSPOOL_LEASE: bad value "
	    "'3x' for lease"));
	setenv("JOBSPOOL_LEASE", "3m", 1);
	assert_int_equal(parse(3, ok), JS_CONFIG_OK);
	assert_string_equal(js_config_where(&opts[2]),
	    "environment JOBSPOOL_LEASE");
	assert_string_equal(js_config_where(&opts[1]), "option -j");
	assert_string_equal(js_config_where(&opts[0]), "default");
	assert_int_equal(js_config_bad(&opts[1], err, sizeof err,
	    "too %s", "many"), -1);
	assert_string_equal(err, "option -j: bad value '7' for jobs: too many");
	unlink(path);
	free(path);
}

static int
check_even(const char *v, char *why, size_t len)
{
	if (strlen(v) % 2 == 0)
		return 0;
	snprintf(why, len, "expected an even length");
	return -1;
}

/* bounds on durations and sizes, and a row's own check */
static void
test_bounds(void **state)
{
	static struct js_opt t3[] = {
		{ .name = "lease", .type = JS_OPT_DURATION, .def = "60s",
		  .min = 1000, .max = 86400000, .help = "" },
		{ .name = "buf", .type = JS_OPT_SIZE, .def = "64K",
		  .min = 4096, .max = 1 << 30, .help = "" },
		{ .name = "word", .type = JS_OPT_STR, .def = "ab",
		  .check = check_even, .help = "" },
	};
	struct js_opt o[3];
	char *lease[] = { "prog", "--lease", "500ms", NULL };
	char *buf[] = { "prog", "--buf=2G", NULL };
	char *word[] = { "prog", "--word", "abc", NULL };
	char *ok[] = { "prog", "--lease", "1d", "--buf", "4K", "--word", "", NULL };

	(void)state;
	memcpy(o, t3, sizeof o);
	assert_int_equal(js_config_parse(o, 3, 3, lease, err, sizeof err),
	    JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "from 1s to 1d"));
	assert_int_equal(js_config_parse(o, 3, 2, buf, err, sizeof err),
	    JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "from 4K to 1G"));
	assert_int_equal(js_config_parse(o, 3, 3, word, err, sizeof err),
	    JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "option --word: bad value 'abc' for word: "
	    "expected an even length"));
	assert_int_equal(js_config_parse(o, 3, 7, ok, err, sizeof err),
	    JS_CONFIG_OK);
	assert_int_equal(o[0].num, 86400000);
	assert_int_equal(o[1].num, 4096);
	js_config_free(o, 3);
}

static void
test_errors(void **state)
{
	char *unknown[] = { "prog", "--bogus", NULL };
	char *badint[] = { "prog", "--jobs", "abc", NULL };
	char *range[] = { "prog", "--jobs", "1000", NULL };
	char *baddur[] = { "prog", "--lease", "5 minutes", NULL };
	char *missing[] = { "prog", "--spool", NULL };
	char *extra[] = { "prog", "stray", NULL };
	char *help[] = { "prog", "--bogus", "--help", NULL };
	char *version[] = { "prog", "--version", NULL };

	(void)state;
	assert_int_equal(parse(2, unknown), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(3, badint), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "abc"));
	assert_non_null(strstr(err, "jobs"));
	assert_int_equal(parse(3, range), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "1 to 64"));
	assert_int_equal(parse(3, baddur), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "duration"));
	assert_int_equal(parse(2, missing), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(2, extra), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "stray"));
	assert_int_equal(parse(3, help), JS_CONFIG_HELP);
	assert_int_equal(parse(2, version), JS_CONFIG_VERSION);
}

static void
test_file_errors(void **state)
{
	char *bad = write_config("spool = /a\nnonsense line\n");
	char *unknown = write_config("colour = blue\n");
	char *badval = write_config("jobs = many\n");
	char *argv[] = { "prog", "--config", NULL, NULL };

	(void)state;
	argv[2] = bad;
	assert_int_equal(parse(3, argv), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, ":2:"));
	argv[2] = unknown;
	assert_int_equal(parse(3, argv), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "colour"));
	argv[2] = badval;
	assert_int_equal(parse(3, argv), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "many"));
	argv[2] = "/nonexistent/jobspool.conf";
	assert_int_equal(parse(3, argv), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent/jobspool.conf"));
	setenv("JOBSPOOL_JOBS", "0", 1);
	assert_int_equal(parse(1, argv), JS_CONFIG_ERROR);
	assert_non_null(strstr(err, "JOBSPOOL_JOBS"));
	unlink(bad);
	unlink(unknown);
	unlink(badval);
	free(bad);
	free(unknown);
	free(badval);
}

static void
test_usage(void **state)
{
	char buf[4096];
	FILE *fp = fmemopen(buf, sizeof buf, "w");

	(void)state;
	assert_non_null(fp);
	js_config_usage(fp, "prog", "does things", template, N);
	fclose(fp);
	assert_non_null(strstr(buf, "usage: prog"));
	assert_non_null(strstr(buf, "--lease"));
	assert_non_null(strstr(buf, "JOBSPOOL_MAX_BODY"));
	assert_non_null(strstr(buf, "JOBSPOOL_TOKENS"));
	assert_non_null(strstr(buf, "(default 60s)"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flags_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_getopt_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_where, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
