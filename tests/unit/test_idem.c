/* Unit tests for lib/idem.c: Idempotency-Key records and their expiry. */
#include <errno.h>
#include <sys/resource.h>
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

/* Text that could not be written back as a four-line record is refused
 * before anything is written. */
static void
test_bad_input(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE], big[600], dig[200];
	int same;

	memset(big, 'k', 513);
	big[513] = '\0';
	memset(dig, 'd', 129);
	dig[129] = '\0';
	assert_int_equal(js_idem_reserve(f->sp, "a\nb", "k", "d", ID1, prev,
	    &same), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k\n", "d", ID1, prev,
	    &same), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_idem_reserve(f->sp, "a", big, "d", ID1, prev,
	    &same), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d\n", ID1, prev,
	    &same), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", dig, ID1, prev,
	    &same), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tu_count(f->dir, "idem"), 0);
	/* the longest key and digest allowed are fine */
	big[512] = '\0';
	dig[128] = '\0';
	assert_int_equal(js_idem_reserve(f->sp, "a", big, dig, ID1, prev,
	    &same), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", big, dig, ID2, prev,
	    &same), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(same, 1);
	assert_string_equal(prev, ID1);
}

/* Replaces the text of the one record. */
static void
rewrite(struct tu_spool *f, const char *text)
{
	char name[80], path[700];
	int fd;

	only_record(f, name);
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* A record under the key's name that is not the key's (a hash collision,
 * or a damaged file) is never taken for it: EILSEQ, and left alone. */
static void
test_collision_and_damage(void **state)
{
	struct tu_spool *f = *state;
	static const char *const bad[] = {
		"22222222-2222-4222-8222-222222222222\nbob\nk\nd\n",	/* owner */
		"22222222-2222-4222-8222-222222222222\nalice\nq\nd\n",	/* key */
		"22222222-2222-4222-8222-222222222222\nalice\n",	/* short */
		"2222\nalice\nk\nd\n",				/* id */
		"zzzzzzzz-2222-4222-8222-222222222222\nalice\nk\nd\n",
		"22222222-2222-4222-8222-222222222222\nalice\nk\nd\nmore\n",
		"22222222-2222-4222-8222-222222222222\nalice\nk\nd",	/* no \\n */
		"",
	};
	char prev[JS_ID_SIZE], name[80], path[700], text[200];
	size_t i;
	int same, fd;

	assert_int_equal(js_idem_reserve(f->sp, "alice", "k", "d", ID1, prev,
	    &same), 0);
	only_record(f, name);
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		rewrite(f, bad[i]);
		memset(prev, 0, sizeof prev);
		errno = 0;
		if (js_idem_reserve(f->sp, "alice", "k", "d", ID1, prev,
		    &same) != -1 || errno != EILSEQ)
			fail_msg("record %zu: not refused with EILSEQ (%s)", i,
			    strerror(errno));
		assert_string_equal(prev, "");
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		memset(text, 0, sizeof text);
		assert_int_equal(read(fd, text, sizeof text - 1),
		    (int)strlen(bad[i]));
		assert_int_equal(close(fd), 0);
		assert_string_equal(text, bad[i]);
	}
}

static void
test_release(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE];
	int same;

	/* releasing a key never reserved is no error */
	assert_int_equal(js_idem_release(f->sp, "a", "k"), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d", ID1, prev,
	    &same), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "other", "d", ID1, prev,
	    &same), 0);
	/* another owner's release of the same key text frees nothing */
	assert_int_equal(js_idem_release(f->sp, "b", "k"), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d", ID2, prev,
	    &same), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(js_idem_release(f->sp, "a", "k"), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "e", ID2, prev,
	    &same), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "e", ID1, prev,
	    &same), -1);
	assert_string_equal(prev, ID2);
	/* the other key was left alone */
	assert_int_equal(js_idem_reserve(f->sp, "a", "other", "d", ID2, prev,
	    &same), -1);
	assert_string_equal(prev, ID1);
}

/* idem/ that is not a directory: reserve and expire fail, and say why. */
static void
test_idem_not_a_dir(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE], path[700];
	int same;

	snprintf(path, sizeof path, "%s/idem", f->dir);
	assert_int_equal(close(open(path, O_WRONLY | O_CREAT, 0600)), 0);
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d", ID1, prev,
	    &same), -1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(js_idem_expire(f->sp, 0, 0, NULL, NULL), -1);
	assert_int_equal(errno, ENOTDIR);
	/* a symlink to a directory is not followed either */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/tmp", path), 0);
	assert_int_equal(js_idem_expire(f->sp, 0, 0, NULL, NULL), -1);
	assert_int_equal(errno, ENOTDIR);
}

/* A directory named like a record is not a record: never removed. */
static void
test_expire_skips_dirs(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE], name[80], path[700];
	int same;

	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d", ID1, prev,
	    &same), 0);
	only_record(f, name);
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	age(f, name, 7200);
	assert_int_equal(js_idem_expire(f->sp, 1000, 0, NULL, NULL), 0);
	assert_int_equal(access(path, F_OK), 0);
	/* and the key cannot be reserved: the error says why */
	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d", ID2, prev,
	    &same), -1);
	assert_int_equal(errno, EISDIR);
}

/* With one file descriptor left (EMFILE for the record's lock), expiry
 * fails and removes nothing; it works once descriptors are free. */
static void
test_expire_no_fds(void **state)
{
	struct tu_spool *f = *state;
	char prev[JS_ID_SIZE], name[80], path[700];
	struct rlimit old, rl;
	int same, lowest, r;

	assert_int_equal(js_idem_reserve(f->sp, "a", "k", "d", ID1, prev,
	    &same), 0);
	only_record(f, name);
	age(f, name, 7200);
	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	lowest = dup(0);
	assert_true(lowest >= 0);
	assert_int_equal(close(lowest), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)lowest + 1;	/* idem/ opens, the lock not */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	errno = 0;
	r = js_idem_expire(f->sp, 1000, 0, NULL, NULL);
	assert_int_equal(errno, EMFILE);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -1);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(js_idem_expire(f->sp, 1000, 0, NULL, NULL), 1);
	assert_int_equal(access(path, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_same_and_other_body),
		TU_SPOOL_TEST(test_old_record_matches),
		TU_SPOOL_TEST(test_stale_replaced),
		TU_SPOOL_TEST(test_expire),
		TU_SPOOL_TEST(test_bad_input),
		TU_SPOOL_TEST(test_collision_and_damage),
		TU_SPOOL_TEST(test_release),
		TU_SPOOL_TEST(test_idem_not_a_dir),
		TU_SPOOL_TEST(test_expire_skips_dirs),
		TU_SPOOL_TEST(test_expire_no_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
