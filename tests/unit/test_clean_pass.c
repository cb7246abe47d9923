/* Unit tests for cleaner/pass.c (one cleaning pass), the branches the
 * cleaner suites do not reach from the outside (issue 15, coverage): jobs a
 * pending job waits for, files that change between the scan and their
 * removal, removals that fail (a read-only bind mount, as root), pacing,
 * the summary's units. */
#include <errno.h>
#include <sys/mount.h>
#include <time.h>

#include "testutil.h"
#include "../../cleaner/cleaner.h"
#include "util.h"

/* Hand-made ids, in the order the pass visits them (sorted by id). */
#define ID(n) "0000000" #n "-0000-4000-8000-000000000000"

static void
put(struct tu_spool *f, const char *id, const char *ext, const char *text,
    int age_s)
{
	char path[600];
	struct timespec ts[2];
	int fd;

	snprintf(path, sizeof path, "%s/%s.%s", f->dir, id, ext);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0660);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age_s;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int
has(struct tu_spool *f, const char *id, const char *ext)
{
	char path[600];

	snprintf(path, sizeof path, "%s/%s.%s", f->dir, id, ext);
	return access(path, F_OK) == 0;
}

static void
final_job(struct tu_spool *f, const char *id, int age_s)
{
	char text[200];

	snprintf(text, sizeof text,
	    "{\"id\":\"%s\",\"status\":\"completed\",\"command\":[\"true\"]}", id);
	put(f, id, "completed", text, age_s);
}

static struct cleaner_opts
opts(void)
{
	struct cleaner_opts o = {
		.retrieved_age_ms = 3600000,
		.max_age_ms = 86400000,
		.tmp_age_ms = 3600000,
		.idem_age_ms = 86400000,
		.out = stdout,
	};
	return o;
}

/* A job that a pending job waits for ("after", "after_any") is kept however
 * old, until the dependent has run; an unreadable pending job names none. */
static void
test_waited_for_kept(void **state)
{
	struct tu_spool *f = *state;
	struct cleaner_opts o = opts();
	struct cleaner_stats st;
	char text[300];

	final_job(f, ID(1), 200000);
	final_job(f, ID(2), 200000);
	final_job(f, ID(3), 200000);
	snprintf(text, sizeof text, "{\"id\":\"%s\",\"status\":\"pending\","
	    "\"command\":[\"true\"],\"after\":[\"%s\"],\"after_any\":[\"%s\","
	    "\"not-an-id\"]}", ID(4), ID(1), ID(2));
	put(f, ID(4), "pending", text, 0);
	put(f, ID(5), "pending", "{\"half", 0);
	assert_int_equal(cleaner_pass(f->sp, &o, &st), 0);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.errors, 0);
	assert_true(has(f, ID(1), "completed"));
	assert_true(has(f, ID(2), "completed"));
	assert_false(has(f, ID(3), "completed"));
	assert_true(has(f, ID(4), "pending"));
	assert_true(has(f, ID(5), "pending"));
}

/* Dry-run listing that changes the spool when the first path is listed:
 * the pass must then leave alone what moved meanwhile. */
struct meddle {
	struct tu_spool *f;
	int done;
};

static ssize_t
meddle_write(void *cookie, const char *buf, size_t len)
{
	struct meddle *m = cookie;
	char path[600];
	struct tu_spool *f = m->f;

	if (!m->done) {
		m->done = 1;
		/* 2: gone; 3: retrieved again (fresh); 4: its job appears */
		snprintf(path, sizeof path, "%s/%s.completed", f->dir, ID(2));
		assert_int_equal(unlink(path), 0);
		final_job(f, ID(3), 0);
		final_job(f, ID(4), 0);
	}
	(void)buf;
	return (ssize_t)len;
}

static void
test_changed_meanwhile(void **state)
{
	struct tu_spool *f = *state;
	struct cleaner_opts o = opts();
	struct cleaner_stats st;
	struct meddle m = { f, 0 };
	cookie_io_functions_t io = { .write = meddle_write };
	FILE *out = fopencookie(&m, "w", io);

	assert_non_null(out);
	assert_int_equal(setvbuf(out, NULL, _IONBF, 0), 0);
	final_job(f, ID(1), 200000);
	final_job(f, ID(2), 200000);
	final_job(f, ID(3), 200000);
	put(f, ID(4), "log", "orphan\n", 200000);
	o.dry_run = 1;
	o.out = out;
	o.max_rate = 1;	/* a dry run is never paced */
	assert_int_equal(cleaner_pass(f->sp, &o, &st), 0);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(m.done, 1);
	/* only the first was listed; nothing is an error */
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.orphans, 0);
	assert_int_equal(st.errors, 0);
	assert_true(has(f, ID(1), "completed"));
	assert_true(has(f, ID(3), "completed"));
	assert_true(has(f, ID(4), "log"));
}

/* Removals that fail are counted as errors, named in the summary, and the
 * pass goes on. */
static void
test_readonly_errors(void **state)
{
	struct tu_spool *f = *state;
	struct cleaner_opts o = opts();
	struct cleaner_stats st;
	struct js_spool *ro;
	char err[512], sum[512];
	int rc;

	final_job(f, ID(1), 200000);
	put(f, ID(2), "log", "orphan\n", 200000);
	if (mount(f->dir, f->dir, NULL, MS_BIND, NULL) < 0)
		skip();
	if (mount(NULL, f->dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY,
	    NULL) < 0) {
		assert_int_equal(umount(f->dir), 0);
		skip();
	}
	ro = js_spool_open(f->dir, 0, err, sizeof err);
	rc = ro != NULL ? cleaner_pass(ro, &o, &st) : -2;
	js_spool_close(ro);
	assert_int_equal(umount(f->dir), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.orphans, 0);
	assert_int_equal(st.errors, 2);
	assert_true(has(f, ID(1), "completed"));
	assert_true(has(f, ID(2), "log"));
	cleaner_summary(sum, sizeof sum, &st, 0);
	assert_non_null(strstr(sum, "errors: see above"));
}

/* --max-rate spaces the removals: 3 at 20/s take at least 100 ms. */
static void
test_paced(void **state)
{
	struct tu_spool *f = *state;
	struct cleaner_opts o = opts();
	struct cleaner_stats st;
	int64_t t0;

	final_job(f, ID(1), 200000);
	final_job(f, ID(2), 200000);
	final_job(f, ID(3), 200000);
	o.max_rate = 20;
	t0 = js_mono_ms();
	assert_int_equal(cleaner_pass(f->sp, &o, &st), 0);
	assert_true(js_mono_ms() - t0 >= 100);
	assert_int_equal(st.expired, 3);
	assert_int_equal(tu_count(f->dir, ".completed"), 0);
}

static void
test_summary_units(void **state)
{
	struct cleaner_stats st = { .retrieved = 1, .expired = 2, .orphans = 3,
	    .tmp = 4, .idem = 5, .bytes = 5LL << 30, .unexpected = 6 };
	char buf[512];

	(void)state;
	cleaner_summary(buf, sizeof buf, &st, 1);
	assert_string_equal(buf, "would remove 1 retrieved, 2 expired, "
	    "3 orphaned, 4 tmp files, 5 idempotency keys; would free 5.0 GiB; "
	    "kept 6 unexpected files");
	st.bytes = 3LL << 50;	/* beyond TiB stays in TiB */
	st.errors = 1;
	cleaner_summary(buf, sizeof buf, &st, 0);
	assert_non_null(strstr(buf, "removed 1 retrieved"));
	assert_non_null(strstr(buf, "freed 3072.0 TiB;"));
	assert_non_null(strstr(buf, "errors: see above"));
	st.bytes = 1023;
	cleaner_summary(buf, sizeof buf, &st, 0);
	assert_non_null(strstr(buf, "freed 1023 B;"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_waited_for_kept),
		TU_SPOOL_TEST(test_changed_meanwhile),
		TU_SPOOL_TEST(test_readonly_errors),
		TU_SPOOL_TEST(test_paced),
		cmocka_unit_test(test_summary_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
