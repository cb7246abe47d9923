/* Unit tests for the notification queue (lib/notify.c) and the processor's
 * Telegram message (processor/notifier.c). */
#include "testutil.h"
#include <errno.h>

#include "../../processor/notifier.h"
#include "notify.h"

#define ID "0b7e3c4a-1f2d-4e5f-8a9b-0c1d2e3f4a5b"

static void
test_names(void **state)
{
	char sink[JS_NOTIFY_SINK_SIZE];

	(void)state;
	assert_int_equal(js_notify_parse_name(ID ".failed.url.json", sink), 1);
	assert_string_equal(sink, "url");
	assert_int_equal(js_notify_parse_name(ID ".cancelled.telegram.json",
	    sink), 1);
	assert_string_equal(sink, "telegram");
	/* not final, no sink, a bad sink, a bad id, a temporary name */
	assert_int_equal(js_notify_parse_name(ID ".pending.url.json", sink), 0);
	assert_int_equal(js_notify_parse_name(ID ".failed.json", sink), 0);
	assert_int_equal(js_notify_parse_name(ID ".failed.Url.json", sink), 0);
	assert_int_equal(js_notify_parse_name(ID ".failed..json", sink), 0);
	assert_int_equal(js_notify_parse_name("x" ID ".failed.url.json",
	    sink), 0);
	assert_int_equal(js_notify_parse_name(ID ".failed.url.json.tmp",
	    sink), 0);
	assert_int_equal(js_notify_parse_name(".json", sink), 0);
	assert_int_equal(js_notify_parse_name(ID ".failed.abcdefghijklmnopq"
	    ".json", sink), 0);
}

static void
test_queue(void **state)
{
	char err[256], path[700], *dir = tu_tempdir();
	struct js_spool *sp = js_spool_open(dir, 0, err, sizeof err);
	json_t *job = tu_json("{\"id\":\"" ID "\",\"status\":\"failed\","
	    "\"exit_code\":3}"), *rec, *rec2, *bad;
	const char *name = ID ".failed.url.json";
	DIR *d;
	int fd, fd2;

	(void)state;
	assert_non_null(sp);
	/* what is refused: no final status, a bad sink, no id */
	bad = tu_json("{\"id\":\"" ID "\",\"status\":\"running\"}");
	assert_int_equal(js_notify_put(sp, bad, "url"), -1);
	assert_int_equal(errno, EINVAL);
	json_decref(bad);
	assert_int_equal(js_notify_put(sp, job, "Url"), -1);
	assert_int_equal(js_notify_put(sp, job, "a/b"), -1);
	bad = tu_json("{\"status\":\"failed\"}");
	assert_int_equal(js_notify_put(sp, bad, "url"), -1);
	json_decref(bad);
	/* a record, its content */
	assert_int_equal(js_notify_put(sp, job, "url"), 0);
	snprintf(path, sizeof path, "%s/notify/%s", dir, name);
	rec = json_load_file(path, 0, NULL);
	assert_non_null(rec);
	assert_string_equal(js_job_str(rec, "sink"), "url");
	assert_string_equal(js_job_str(rec, "status"), "failed");
	assert_true(js_job_int(rec, "queued_at", 0) > 0);
	assert_true(json_equal(json_object_get(rec, "job"), job));
	json_decref(rec);
	assert_int_equal(tu_count(dir, ".tmp"), 0);
	/* taken once at a time */
	assert_int_equal(js_notify_open(sp, &d), 0);
	assert_int_equal(js_notify_take(dirfd(d), name, &rec, &fd), 1);
	assert_true(fd >= 0);
	assert_int_equal(js_notify_take(dirfd(d), name, &rec2, &fd2), 0);
	assert_int_equal(fd2, -1);
	js_notify_release(fd);
	json_decref(rec);
	/* released: taken again, removed, then gone */
	assert_int_equal(js_notify_take(dirfd(d), name, &rec, &fd), 1);
	json_decref(rec);
	assert_int_equal(js_notify_remove(dirfd(d), name, fd), 0);
	assert_int_equal(js_notify_take(dirfd(d), name, &rec, &fd), 0);
	/* not JSON: EBADMSG with the file held, to be removed */
	snprintf(path, sizeof path, "%s/notify/%s", dir, name);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(js_notify_take(dirfd(d), name, &rec, &fd), -1);
	assert_int_equal(errno, EBADMSG);
	assert_true(fd >= 0);
	assert_int_equal(js_notify_remove(dirfd(d), name, fd), 0);
	closedir(d);
	json_decref(job);
	js_spool_close(sp);
	tu_rm_tree(dir);
}

static void
test_message(void **state)
{
	json_t *j;
	char *m;

	(void)state;
	j = tu_json("{\"id\":\"" ID "\",\"name\":\"nightly\",\"status\":"
	    "\"failed\",\"exit_code\":3,\"duration_ms\":245000}");
	m = notifier_message(j, "https://jobs.example.org");
	assert_string_equal(m, "job nightly: failed (exit code 3) after 4m05s\n"
	    "https://jobs.example.org/#job=" ID);
	free(m);
	json_decref(j);
	/* no name: the id; a signal; no link without a status URL */
	j = tu_json("{\"id\":\"" ID "\",\"status\":\"failed\",\"signal\":9,"
	    "\"duration_ms\":850}");
	m = notifier_message(j, NULL);
	assert_string_equal(m, "job " ID ": failed (killed by signal 9, "
	    "SIGKILL) after 850ms");
	free(m);
	json_decref(j);
	/* a failure without a run says why; a cancelled pending job */
	j = tu_json("{\"id\":\"" ID "\",\"status\":\"failed\",\"error\":"
	    "\"invalid job file\"}");
	m = notifier_message(j, NULL);
	assert_string_equal(m, "job " ID ": failed: invalid job file");
	free(m);
	json_decref(j);
	j = tu_json("{\"id\":\"" ID "\",\"name\":\"\",\"status\":\"cancelled\"}");
	m = notifier_message(j, NULL);
	assert_string_equal(m, "job " ID ": cancelled");
	free(m);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
