/* Unit tests for lib/clean.c: the cleaner's spool scan, purges and lock. */
#include <errno.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "testutil.h"
#include "clean.h"
#include "util.h"

static const char ID1[] = "11111111-1111-4111-8111-111111111111";
static const char ID2[] = "22222222-2222-4222-8222-222222222222";

/* Writes SPOOL/name with text. */
static void
put(struct tu_spool *f, const char *name, const char *text)
{
	char path[600];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
there(struct tu_spool *f, const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", f->dir, name);
	return lstat(path, &st) == 0;
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
	assert_int_equal(lutimes(path, tv), 0);
}

/* What the scan saw, by name. */
struct seen {
	int n, stop_after;
	char name[16][64];
	struct js_scan_entry e[16];
};

static int
record(const struct js_scan_entry *e, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 16);
	snprintf(s->name[s->n], 64, "%s", e->name);
	s->e[s->n] = *e;
	s->e[s->n].name = s->name[s->n];
	s->n++;
	if (s->stop_after > 0 && s->n == s->stop_after) {
		errno = ENOTSUP;
		return -1;
	}
	return 0;
}

static const struct js_scan_entry *
find(const struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return &s->e[i];
	fail_msg("the scan did not report %s", name);
	return NULL;
}

static void
test_scan_kinds(void **state)
{
	struct tu_spool *f = *state;
	const struct js_scan_entry *e;
	struct seen s = { 0 };
	char name[128], path[600];
	int lk;

	snprintf(name, sizeof name, "%s.completed", ID1);
	put(f, name, "{\"id\":1}");
	age(f, name, 100);
	snprintf(name, sizeof name, "%s.log", ID1);
	put(f, name, "hello\n");
	snprintf(name, sizeof name, "%s.cancel", ID2);
	put(f, name, "");
	put(f, "README", "not ours");
	snprintf(path, sizeof path, "%s/%s.pending", f->dir, ID2);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	lk = js_clean_lock(f->sp, 0);
	assert_true(lk >= 0);

	assert_int_equal(js_clean_scan(f->sp, record, &s), 0);
	snprintf(name, sizeof name, "%s.completed", ID1);
	e = find(&s, name);
	assert_int_equal(e->kind, JS_ENTRY_JOB);
	assert_int_equal(e->state, JS_COMPLETED);
	assert_string_equal(e->id, ID1);
	assert_int_equal(e->size, 8);
	assert_true(S_ISREG(e->mode));
	/* 100 s old, to the second */
	assert_true(js_now_ms() - e->mtime_ms >= 99000);
	assert_true(js_now_ms() - e->mtime_ms <= 102000);
	snprintf(name, sizeof name, "%s.log", ID1);
	e = find(&s, name);
	assert_int_equal(e->kind, JS_ENTRY_LOG);
	assert_string_equal(e->id, ID1);
	assert_int_equal(e->size, 6);
	snprintf(name, sizeof name, "%s.cancel", ID2);
	e = find(&s, name);
	assert_int_equal(e->kind, JS_ENTRY_CANCEL);
	assert_string_equal(e->id, ID2);
	/* a symlink is reported as one, not followed */
	snprintf(name, sizeof name, "%s.pending", ID2);
	e = find(&s, name);
	assert_int_equal(e->kind, JS_ENTRY_JOB);
	assert_int_equal(e->state, JS_PENDING);
	assert_true(S_ISLNK(e->mode));
	assert_int_equal(find(&s, "README")->kind, JS_ENTRY_OTHER);
	assert_int_equal(find(&s, "tmp")->kind, JS_ENTRY_INTERNAL);
	assert_true(S_ISDIR(find(&s, "tmp")->mode));
	assert_int_equal(find(&s, JS_CLEANER_LOCK)->kind, JS_ENTRY_INTERNAL);
	for (int i = 0; i < s.n; i++) {
		assert_string_not_equal(s.name[i], ".");
		assert_string_not_equal(s.name[i], "..");
	}
	assert_int_equal(close(lk), 0);
}

/* A callback that stops the scan: -1 with its errno, after one call. */
static void
test_scan_stops(void **state)
{
	struct tu_spool *f = *state;
	struct seen s = { .stop_after = 1 };

	put(f, "a", "");
	put(f, "b", "");
	errno = 0;
	assert_int_equal(js_clean_scan(f->sp, record, &s), -1);
	assert_int_equal(errno, ENOTSUP);
	assert_int_equal(s.n, 1);
}

struct purged {
	int n;
	char name[8][64];
	off_t size[8];
};

static void
on_purge(const char *name, off_t size, void *arg)
{
	struct purged *p = arg;

	assert_true(p->n < 8);
	snprintf(p->name[p->n], 64, "%s", name);
	p->size[p->n++] = size;
}

static void
job_files(struct tu_spool *f, const char *id, const char *ext, long age_s)
{
	char name[128];

	snprintf(name, sizeof name, "%s.%s", id, ext);
	put(f, name, "{}");
	age(f, name, age_s);
	snprintf(name, sizeof name, "%s.log", id);
	put(f, name, "output\n");
	snprintf(name, sizeof name, "%s.cancel", id);
	put(f, name, "x");
}

/* How many of <id>.failed, .pending, .log, .cancel are there. */
static int
job_count(struct tu_spool *f, const char *id)
{
	static const char *const ext[] = { "failed", "pending", "log", "cancel" };
	char name[128];
	int n = 0;

	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
		snprintf(name, sizeof name, "%s.%s", id, ext[i]);
		n += there(f, name);
	}
	return n;
}

static void
test_purge(void **state)
{
	struct tu_spool *f = *state;
	struct purged p = { 0 };
	char name[128];

	job_files(f, ID1, "failed", 60);
	/* dry run: reported, nothing removed */
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_FAILED, js_now_ms(),
	    JS_PURGE_DRY_RUN, on_purge, &p), 0);
	assert_int_equal(p.n, 3);
	assert_int_equal(job_count(f, ID1), 3);
	memset(&p, 0, sizeof p);
	/* changed since the cleaner looked (not_after before its mtime) */
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_FAILED,
	    js_now_ms() - 120000, 0, on_purge, &p), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(p.n, 0);
	/* not in that state */
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_COMPLETED, js_now_ms(),
	    0, on_purge, &p), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(job_count(f, ID1), 3);
	/* the real thing: state file, log, cancel, in that order */
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_FAILED, js_now_ms(), 0,
	    on_purge, &p), 0);
	assert_int_equal(p.n, 3);
	snprintf(name, sizeof name, "%s.failed", ID1);
	assert_string_equal(p.name[0], name);
	assert_int_equal(p.size[0], 2);
	snprintf(name, sizeof name, "%s.log", ID1);
	assert_string_equal(p.name[1], name);
	assert_int_equal(p.size[1], 7);
	snprintf(name, sizeof name, "%s.cancel", ID1);
	assert_string_equal(p.name[2], name);
	assert_int_equal(job_count(f, ID1), 0);
	/* gone: ENOENT, nothing reported */
	memset(&p, 0, sizeof p);
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_FAILED, js_now_ms(), 0,
	    on_purge, &p), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(p.n, 0);
	/* a retrieved job without log or cancel: one file, no callback */
	snprintf(name, sizeof name, "%s.retrieved", ID2);
	put(f, name, "{}");
	assert_int_equal(js_clean_purge(f->sp, ID2, JS_RETRIEVED, js_now_ms(),
	    0, NULL, NULL), 0);
	assert_false(there(f, name));
}

/* Pending and running jobs are never purged; a state "file" that is not a
 * regular file is left to a person; a bad id is refused. */
static void
test_purge_refuses(void **state)
{
	struct tu_spool *f = *state;
	char name[128], path[600];

	job_files(f, ID1, "pending", 60);
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_PENDING, js_now_ms(), 0,
	    NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_WIP, js_now_ms(), 0,
	    NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	snprintf(name, sizeof name, "%s.pending", ID1);
	assert_true(there(f, name));
	snprintf(path, sizeof path, "%s/%s.completed", f->dir, ID2);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(js_clean_purge(f->sp, ID2, JS_COMPLETED, js_now_ms(),
	    0, NULL, NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(js_clean_purge(f->sp, "../etc", JS_COMPLETED,
	    js_now_ms(), 0, NULL, NULL), -1);
	assert_int_equal(job_count(f, ID1), 3);
}

static void
test_purge_orphan(void **state)
{
	struct tu_spool *f = *state;
	struct purged p = { 0 };
	char log[128], cancel[128];

	snprintf(log, sizeof log, "%s.log", ID1);
	snprintf(cancel, sizeof cancel, "%s.cancel", ID1);
	put(f, log, "x");
	age(f, log, 600);
	put(f, cancel, "");
	/* only the log is old enough */
	assert_int_equal(js_clean_purge_orphan(f->sp, ID1,
	    js_now_ms() - 300000, 0, on_purge, &p), 1);
	assert_int_equal(p.n, 1);
	assert_string_equal(p.name[0], log);
	assert_false(there(f, log));
	assert_true(there(f, cancel));
	/* dry run counts without removing */
	assert_int_equal(js_clean_purge_orphan(f->sp, ID1, js_now_ms(),
	    JS_PURGE_DRY_RUN, NULL, NULL), 1);
	assert_true(there(f, cancel));
	assert_int_equal(js_clean_purge_orphan(f->sp, ID1, js_now_ms(), 0,
	    NULL, NULL), 1);
	assert_false(there(f, cancel));
	assert_int_equal(js_clean_purge_orphan(f->sp, ID1, js_now_ms(), 0,
	    NULL, NULL), 0);
	/* the job exists after all: its log stays */
	job_files(f, ID2, "pending", 600);
	snprintf(log, sizeof log, "%s.log", ID2);
	age(f, log, 600);
	assert_int_equal(js_clean_purge_orphan(f->sp, ID2, js_now_ms(), 0,
	    NULL, NULL), -1);
	assert_int_equal(errno, EEXIST);
	assert_true(there(f, log));
	assert_int_equal(js_clean_purge_orphan(f->sp, "not-an-id", js_now_ms(),
	    0, NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
}

/* A file that cannot be removed (a directory where the log should be):
 * the purge says so, and what it removed before stays removed. */
static void
test_purge_unlink_fails(void **state)
{
	struct tu_spool *f = *state;
	char name[128], path[600];

	snprintf(name, sizeof name, "%s.completed", ID1);
	put(f, name, "{}");
	snprintf(path, sizeof path, "%s/%s.log", f->dir, ID1);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_COMPLETED, js_now_ms(),
	    0, NULL, NULL), -1);
	assert_int_equal(errno, EISDIR);
	assert_false(there(f, name));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(js_clean_purge_orphan(f->sp, ID1, js_now_ms(), 0,
	    NULL, NULL), -1);
	assert_int_equal(errno, EISDIR);
	assert_int_equal(access(path, F_OK), 0);
}

/* Out of file descriptors (EMFILE): every call fails cleanly, removes
 * nothing, and works again once descriptors are free. */
static void
test_no_fds(void **state)
{
	struct tu_spool *f = *state;
	struct seen s = { 0 };
	struct rlimit old, rl;
	char name[128];
	int lowest;

	job_files(f, ID1, "completed", 60);
	snprintf(name, sizeof name, "%s.completed", ID1);
	/* the limit below leaves no descriptor free */
	lowest = dup(0);
	assert_true(lowest >= 0);
	assert_int_equal(close(lowest), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(js_clean_scan(f->sp, record, &s), -1);
	assert_int_equal(errno, EMFILE);
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_COMPLETED, js_now_ms(),
	    0, NULL, NULL), -1);
	assert_int_equal(errno, EMFILE);
	assert_int_equal(js_clean_purge_orphan(f->sp, ID2, js_now_ms(), 0,
	    NULL, NULL), -1);
	assert_int_equal(errno, EMFILE);
	assert_int_equal(js_clean_lock(f->sp, 0), -1);
	assert_int_equal(errno, EMFILE);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(job_count(f, ID1), 2);
	assert_true(there(f, name));
	assert_int_equal(js_clean_purge(f->sp, ID1, JS_COMPLETED, js_now_ms(),
	    0, NULL, NULL), 0);
	assert_false(there(f, name));
}

static void
test_lock(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	struct stat st;
	mode_t mask = umask(0);
	int a, b;

	umask(mask);
	a = js_clean_lock(f->sp, 0);
	assert_true(a >= 0);
	snprintf(path, sizeof path, "%s/%s", f->dir, JS_CLEANER_LOCK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660 & ~mask);
	/* a second open file description cannot take it */
	b = js_clean_lock(f->sp, 0);
	assert_int_equal(b, -1);
	assert_int_equal(errno, EWOULDBLOCK);
	assert_int_equal(close(a), 0);
	b = js_clean_lock(f->sp, 1);
	assert_true(b >= 0);
	assert_int_equal(close(b), 0);
	/* the lock file is never followed through a symlink */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/tmp", path), 0);
	assert_int_equal(js_clean_lock(f->sp, 0), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(js_clean_sync(f->sp), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_scan_kinds),
		TU_SPOOL_TEST(test_scan_stops),
		TU_SPOOL_TEST(test_purge),
		TU_SPOOL_TEST(test_purge_refuses),
		TU_SPOOL_TEST(test_purge_orphan),
		TU_SPOOL_TEST(test_purge_unlink_fails),
		TU_SPOOL_TEST(test_no_fds),
		TU_SPOOL_TEST(test_lock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
