/* Unit tests for lib/log.c's formatting helpers (durations: test_util): the
 * time stamp, cleaning a string for one log line, the journal test. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "log.h"

static void
test_stamp(void **state)
{
	char ts[JS_STAMP_SIZE];
	size_t i;

	(void)state;
	js_log_stamp(ts);
	/* 2026-01-02T03:04:05.678Z */
	assert_int_equal(strlen(ts), 24);
	for (i = 0; i < 24; i++) {
		if (i == 4 || i == 7)
			assert_int_equal(ts[i], '-');
		else if (i == 10)
			assert_int_equal(ts[i], 'T');
		else if (i == 13 || i == 16)
			assert_int_equal(ts[i], ':');
		else if (i == 19)
			assert_int_equal(ts[i], '.');
		else if (i == 23)
			assert_int_equal(ts[i], 'Z');
		else
			assert_true(ts[i] >= '0' && ts[i] <= '9');
	}
}

static void
test_clean(void **state)
{
	char out[32];

	(void)state;
	assert_string_equal(js_log_clean("/api/v1/jobs", out, sizeof out),
	    "/api/v1/jobs");
	assert_string_equal(js_log_clean("a b\nc\\d", out, sizeof out),
	    "a\\x20b\\x0ac\\x5cd");
	assert_string_equal(js_log_clean("\xff", out, sizeof out), "\\xff");
	/* cut to fit, never in the middle of an escape */
	assert_string_equal(js_log_clean("abcdef", out, 4), "abc");
	assert_string_equal(js_log_clean("ab\ncd", out, 6), "ab");
	assert_string_equal(js_log_clean("", out, 1), "");
}

static void
test_journal(void **state)
{
	struct stat st;
	char v[64];

	(void)state;
	unsetenv("JOURNAL_STREAM");
	assert_false(js_log_under_journal());
	assert_int_equal(fstat(2, &st), 0);
	snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", v, 1);
	assert_true(js_log_under_journal());
	/* another stream (stderr redirected since systemd started us) */
	snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", v, 1);
	assert_false(js_log_under_journal());
	setenv("JOURNAL_STREAM", "garbage", 1);
	assert_false(js_log_under_journal());
	unsetenv("JOURNAL_STREAM");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stamp),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
