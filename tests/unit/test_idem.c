/* Unit tests for lib/idem.c: Idempotency-Key records and their expiry. */
#include <errno.h>
#include <sys/time.h>

#include "testutil.h"
#include "idem.h"

static const char ID1[] = "11111111-1111-4111-8111-111111111111";
static const char ID2[] = "22222222-2222-4222-8222-222222222222";

/* The one record in idem/ (its name, "idem/<hash>"), asserting there is one. */
static void
only_record(struct tu_spool *f, char name[80])
{
	char path[600];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "%s/idem", f->dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		assert_int_equal(strlen(de->d_name), 32);
		memcpy(name, "idem/", 5);
		memcpy(name + 5, de->d_name, 33);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

/* Sets the mtime of SPOOL/name to age_s seconds ago. */
static void
age(struct tu_spool *f, const char *name, long age_s)
{
	struct timeval tv[2];
	char path[600];

	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age_s;
	tv[1] = tv[0];
	assert_int_equal(utimes(path, tv), 0);
}

static void
test_same_and_other_body(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE];
	int same = -1;

	assert_int_equal(js_idem_reserve(f->sp, "alice", "k", "d1", ID1, prev,
	    &same), 0);
	assert_int_equal(js_idem_reserve(f->sp, "alice", "k", "d1", ID2, prev,
	    &same), -1);
	assert_int_equal(errno, EEXIST);
	assert_string_equal(prev, ID1);
	assert_int_equal(same, 1);
	same = -1;
	assert_int_equal(js_idem_reserve(f->sp, "alice", "k", "d2", ID2, prev,
	    &same), -1);
	assert_int_equal(errno, EEXIST);
	assert_string_equal(prev, ID1);
	assert_int_equal(same, 0);
	/* another owner's key of the same text is another record */
	assert_int_equal(js_idem_reserve(f->sp, "bob", "k", "d2", ID2, prev,
	    &same), 0);
}

/* A record of the older format (three lines, no digest) matches any body. */
static void
test_old_record_matches(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE], name[80], path[700], text[200];
	int same = -1, fd;

	assert_int_equal(js_idem_reserve(f->sp, "", "k", "d1", ID1, prev,
	    &same), 0);
	only_record(f, name);
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	snprintf(text, sizeof text, "%s\n\nk\n", ID1);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	assert_int_equal(close(fd), 0);
	assert_int_equal(js_idem_reserve(f->sp, "", "k", "d9", ID2, prev,
	    &same), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(same, 1);
	assert_string_equal(prev, ID1);
}

/* A record older than the TTL is replaced by a new use of the key. */
static void
test_stale_replaced(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE], name[80];
	int same;

	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d1", ID1, prev,
	    &same), 0);
	only_record(f, name);
	age(f, name, JS_IDEM_TTL_MS / 1000 + 60);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d2", ID2, prev,
	    &same), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d2", ID1, prev,
	    &same), -1);
	assert_string_equal(prev, ID2);
}

static int calls;
static void
count(const char *name, off_t size, void *arg)
{
	(void)arg;
	assert_int_equal(strncmp(name, "idem/", 5), 0);
	assert_true(size > 0);
	calls++;
}

static void
test_expire(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE], old[80], path[700];
	int same;

	/* no idem/ yet: nothing to do */
	assert_int_equal(js_idem_expire(f->sp, 3600 * 1000, 0, NULL, NULL), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "old", "d", ID1, prev,
	    &same), 0);
	only_record(f, old);
	age(f, old, 7200);
	assert_int_equal(js_idem_reserve(f->sp, "a", "young", "d", ID2, prev,
	    &same), 0);
	/* a name that is not a record's is left, however old */
	snprintf(path, sizeof path, "%s/idem/notes", f->dir);
	assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0600)), 0);
	age(f, "idem/notes", 7200 * 24);

	calls = 0;
	assert_int_equal(js_idem_expire(f->sp, 3600 * 1000, 1, count, NULL), 1);
	assert_int_equal(calls, 1);
	snprintf(path, sizeof path, "%s/%s", f->dir, old);
	assert_int_equal(access(path, F_OK), 0);	/* dry run */

	calls = 0;
	assert_int_equal(js_idem_expire(f->sp, 3600 * 1000, 0, count, NULL), 1);
	assert_int_equal(calls, 1);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof path, "%s/idem/notes", f->dir);
	assert_int_equal(access(path, F_OK), 0);
	/* the young record is still honoured */
	assert_int_equal(js_idem_reserve(f->sp, "a", "young", "d", ID1, prev,
	    &same), -1);
	assert_string_equal(prev, ID2);
	/* and the old key is free again */
	assert_int_equal(js_idem_reserve(f->sp, "a", "old", "e", ID2, prev,
	    &same), 0);
}

int
main(void)
{
#define T(fn) \
	cmocka_unit_test_setup_teardown(fn, tu_spool_setup, tu_spool_teardown)
	const struct CMUnitTest tests[] = {
		T(test_same_and_other_body),
		T(test_old_record_matches),
		T(test_stale_replaced),
		T(test_expire),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
