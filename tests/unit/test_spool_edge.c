/* Unit tests for lib/spool.c: error returns and rarely taken branches
 * (issue 15, coverage): a spool that cannot be created or written (a
 * read-only bind mount, a full tmpfs: as root only), files that are not
 * what their name says, dependencies on retrieved jobs, bad arguments. */
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"
#include "spool.h"
#include "job.h"

static char err[512];

static void
path_of(char *out, size_t len, struct tu_spool *f, const char *id,
    const char *ext)
{
	snprintf(out, len, "%s/%s.%s", f->dir, id, ext);
}

/* Sets the mtime of path age_s seconds into the past. */
static void
age_path(const char *path, int age_s)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age_s;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* Makes dir a read-only bind mount of itself: 0, or -1 when this process
 * may not mount (not root, no CAP_SYS_ADMIN): the caller skips. */
static int
ro_mount(const char *dir)
{
	if (mount(dir, dir, NULL, MS_BIND, NULL) < 0)
		return -1;
	if (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		assert_int_equal(umount(dir), 0);
		return -1;
	}
	return 0;
}

/* A claimed, finished (state) and then retrieved job whose status is
 * status; its id in out. */
static void
retrieved_job(struct tu_spool *f, const char *status, char out[JS_ID_SIZE])
{
	struct js_claim c;
	json_t *job, *r;

	snprintf(out, JS_ID_SIZE, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(f->sp, out, "w", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	json_object_set_new(job, "status", json_string(status));
	assert_int_equal(js_spool_finish(f->sp, &c, job,
	    strcmp(status, "completed") == 0 ? JS_COMPLETED : JS_FAILED), 0);
	json_decref(job);
	r = js_spool_retrieve(f->sp, out);
	assert_non_null(r);
	json_decref(r);
}

static void
test_open_errors(void **state)
{
	struct tu_spool *f = *state;
	char path[600];

	/* CREATE cannot make a directory whose parent is missing */
	snprintf(path, sizeof path, "%s/no/such", f->dir);
	assert_null(js_spool_open(path, JS_SPOOL_CREATE, err, sizeof err));
	assert_non_null(strstr(err, "cannot create spool directory"));
	assert_non_null(strstr(err, path));
	/* tmp/ writable by others is refused like the spool itself */
	snprintf(path, sizeof path, "%s/tmp", f->dir);
	assert_int_equal(chmod(path, 0777), 0);
	assert_null(js_spool_open(f->dir, 0, err, sizeof err));
	assert_non_null(strstr(err, "tmp is writable by other users"));
	assert_int_equal(chmod(path, 0770), 0);
	assert_non_null(strstr(err, f->dir));
	/* a regular file as tmp/ */
	snprintf(path, sizeof path, "%s/s2", f->dir);
	assert_int_equal(mkdir(path, 0750), 0);
	snprintf(path, sizeof path, "%s/s2/tmp", f->dir);
	write_text(path, "x", 0640);
	snprintf(path, sizeof path, "%s/s2", f->dir);
	assert_null(js_spool_open(path, 0, err, sizeof err));
	assert_non_null(strstr(err, "not a symlink"));
}

static void
test_open_readonly(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	struct js_spool *sp;

	snprintf(path, sizeof path, "%s/ro", f->dir);
	assert_int_equal(mkdir(path, 0750), 0);
	if (ro_mount(path) < 0)
		skip();
	/* no tmp/ yet, and none can be made */
	sp = js_spool_open(path, 0, err, sizeof err);
	assert_int_equal(umount(path), 0);
	assert_null(sp);
	assert_non_null(strstr(err, "cannot create"));
	assert_non_null(strstr(err, "/tmp: Read-only file system"));
}

static void
test_check_readonly_and_moved(void **state)
{
	struct tu_spool *f = *state;
	char path[600], moved[600];
	struct js_spool *sp;
	const char *id;
	enum js_state st;
	int rc, e;

	snprintf(path, sizeof path, "%s/sp", f->dir);
	sp = js_spool_open(path, JS_SPOOL_CREATE, err, sizeof err);
	assert_non_null(sp);
	id = tu_submit_text(sp, "{\"command\":[\"true\"]}");
	assert_int_equal(js_spool_check(sp, err, sizeof err), 0);
	if (ro_mount(path) < 0) {
		js_spool_close(sp);
		skip();
	}
	/* the descriptors opened before the mount still write: a new
	 * spool on the read-only mount cannot */
	js_spool_close(sp);
	sp = js_spool_open(path, 0, err, sizeof err);
	assert_non_null(sp);
	rc = js_spool_check(sp, err, sizeof err);
	/* and a job cannot be removed (its lock file cannot be opened) */
	assert_int_equal(js_spool_find(sp, id, &st), 0);
	assert_int_equal(js_spool_remove(sp, id), -1);
	e = errno;
	js_spool_close(sp);
	assert_int_equal(umount(path), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "read-only filesystem"));
	assert_int_equal(e, EROFS);

	/* the path now names another directory than the one opened */
	sp = js_spool_open(path, 0, err, sizeof err);
	assert_non_null(sp);
	snprintf(moved, sizeof moved, "%s/moved", f->dir);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(mkdir(path, 0750), 0);
	assert_int_equal(js_spool_check(sp, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	js_spool_close(sp);
}

static void
test_check_full(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	struct js_spool *sp;
	int rc;

	snprintf(path, sizeof path, "%s/full", f->dir);
	assert_int_equal(mkdir(path, 0750), 0);
	if (mount("tmpfs", path, "tmpfs", 0, "size=64k,mode=0750") < 0)
		skip();
	sp = js_spool_open(path, 0, err, sizeof err);
	assert_non_null(sp);
	assert_int_equal(js_spool_check(sp, err, sizeof err), 0);
	tu_fill(path);
	rc = js_spool_check(sp, err, sizeof err);
	js_spool_close(sp);
	assert_int_equal(umount(path), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err, "no space left on device"));
}

static void
test_read_not_a_job_file(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], path[600];
	enum js_state st;
	int fd;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	/* a directory planted under the job's name */
	path_of(path, sizeof path, f, id, "pending");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0750), 0);
	assert_int_equal(js_spool_find(f->sp, id, &st), 0);
	assert_int_equal(st, JS_PENDING);
	errno = 0;
	assert_null(js_spool_read_state(f->sp, id, JS_PENDING));
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(rmdir(path), 0);
	/* a final file larger than any job (sparse) */
	path_of(path, sizeof path, f, id, "completed");
	fd = open(path, O_WRONLY | O_CREAT, 0640);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)65 << 20), 0);
	assert_int_equal(close(fd), 0);
	errno = 0;
	assert_null(js_spool_read_state(f->sp, id, JS_COMPLETED));
	assert_int_equal(errno, EBADMSG);
	/* an id that is not one */
	errno = 0;
	assert_null(js_spool_read_state(f->sp, "nope", JS_COMPLETED));
	assert_int_equal(errno, EINVAL);
}

/* js_spool_read_bytes finds the file js_spool_read would (in state
 * order), refuses what is not a small regular file; js_spool_job_from_bytes
 * makes of the bytes the job js_spool_read makes of the file. */
static void
test_read_bytes(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], path[600], buf[256];
	enum js_state st = JS_NSTATES;
	size_t len = 0;
	json_t *a, *b;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp,
	    "{\"command\":[\"true\"]}"));
	/* as if written by hand: a wrong status and id */
	path_of(path, sizeof path, f, id, "pending");
	write_text(path, "{\"command\":[\"true\"],\"status\":\"failed\","
	    "\"id\":\"x\"}\n", 0640);
	assert_int_equal(js_spool_read_bytes(f->sp, id, buf, sizeof buf, &len,
	    &st), 0);
	assert_int_equal(st, JS_PENDING);
	a = js_spool_job_from_bytes(buf, len, id, st);
	b = js_spool_read(f->sp, id, NULL);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(json_equal(a, b));
	assert_string_equal(js_job_str(a, "status"), "pending");
	assert_string_equal(js_job_str(a, "id"), id);
	json_decref(a);
	json_decref(b);
	/* larger than the buffer: refused, as no regular job file */
	errno = 0;
	assert_int_equal(js_spool_read_bytes(f->sp, id, buf, 8, &len, &st), -1);
	assert_int_equal(errno, EBADMSG);
	/* not a job's bytes */
	errno = 0;
	assert_null(js_spool_job_from_bytes("[1]", 3, id, JS_PENDING));
	assert_int_equal(errno, EBADMSG);
	/* a symlink is never a job; no file at all is ENOENT */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	errno = 0;
	assert_int_equal(js_spool_read_bytes(f->sp, id, buf, sizeof buf, &len,
	    &st), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(unlink(path), 0);
	errno = 0;
	assert_int_equal(js_spool_read_bytes(f->sp, id, buf, sizeof buf, &len,
	    &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* js_spool_drop_damaged removes a state file that cannot be read as a
 * job, with the job's sidecars; a readable job is left alone (EEXIST),
 * a missing file is ENOENT. */
static void
test_drop_damaged(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], path[600];
	struct stat sb;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp,
	    "{\"command\":[\"true\"]}"));
	errno = 0;
	assert_int_equal(js_spool_drop_damaged(f->sp, id, JS_PENDING), -1);
	assert_int_equal(errno, EEXIST);
	path_of(path, sizeof path, f, id, "pending");
	assert_int_equal(stat(path, &sb), 0);
	/* emptied, as a power loss leaves an unsynced file */
	write_text(path, "", 0640);
	path_of(path, sizeof path, f, id, "log");
	write_text(path, "out\n", 0640);
	path_of(path, sizeof path, f, id, "cancel");
	write_text(path, "", 0640);
	assert_int_equal(js_spool_drop_damaged(f->sp, id, JS_PENDING), 0);
	path_of(path, sizeof path, f, id, "pending");
	assert_int_equal(stat(path, &sb), -1);
	path_of(path, sizeof path, f, id, "log");
	assert_int_equal(stat(path, &sb), -1);
	path_of(path, sizeof path, f, id, "cancel");
	assert_int_equal(stat(path, &sb), -1);
	errno = 0;
	assert_int_equal(js_spool_drop_damaged(f->sp, id, JS_PENDING), -1);
	assert_int_equal(errno, ENOENT);
}

/* A dependency that was retrieved counts by its status: completed lets
 * the dependent start, failed or unreadable fails it (ENOLINK). */
static void
test_deps_on_retrieved(void **state)
{
	struct tu_spool *f = *state;
	char ok[JS_ID_SIZE], bad[JS_ID_SIZE], junk[JS_ID_SIZE], dep[JS_ID_SIZE];
	char text[300], path[600];
	struct js_claim c;
	json_t *job = NULL;

	retrieved_job(f, "completed", ok);
	retrieved_job(f, "failed", bad);
	retrieved_job(f, "completed", junk);
	path_of(path, sizeof path, f, junk, "retrieved");
	write_text(path, "not json", 0640);

	snprintf(text, sizeof text,
	    "{\"command\":[\"true\"],\"after\":[\"%s\"]}", ok);
	snprintf(dep, sizeof dep, "%s", tu_submit_text(f->sp, text));
	assert_int_equal(js_spool_claim(f->sp, dep, "w", &c, &job), 0);
	assert_string_equal(js_job_str(job, "status"), "running");
	json_decref(job);

	snprintf(text, sizeof text,
	    "{\"command\":[\"true\"],\"after\":[\"%s\"]}", bad);
	snprintf(dep, sizeof dep, "%s", tu_submit_text(f->sp, text));
	job = NULL;
	assert_int_equal(js_spool_claim(f->sp, dep, "w", &c, &job), -1);
	assert_int_equal(errno, ENOLINK);
	assert_non_null(job);
	assert_string_equal(js_job_str(job, "status"), "failed");
	assert_non_null(strstr(js_job_str(job, "error"), bad));
	json_decref(job);
	path_of(path, sizeof path, f, dep, "failed");
	assert_int_equal(access(path, F_OK), 0);

	snprintf(text, sizeof text,
	    "{\"command\":[\"true\"],\"after\":[\"%s\"]}", junk);
	snprintf(dep, sizeof dep, "%s", tu_submit_text(f->sp, text));
	job = NULL;
	assert_int_equal(js_spool_claim(f->sp, dep, "w", &c, &job), -1);
	assert_int_equal(errno, ENOLINK);
	assert_non_null(strstr(js_job_str(job, "error"), junk));
	json_decref(job);
}

static void
test_log_open_edge(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], path[600];
	struct stat st;
	int fd;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	path_of(path, sizeof path, f, id, "log");
	/* a directory as the log: refused for reading and writing */
	assert_int_equal(mkdir(path, 0750), 0);
	errno = 0;
	assert_int_equal(js_spool_log_open(f->sp, id, 0), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(rmdir(path), 0);
	/* a FIFO: never blocks the writer */
	assert_int_equal(mkfifo(path, 0600), 0);
	errno = 0;
	assert_int_equal(js_spool_log_open(f->sp, id, 1), -1);
	assert_int_equal(errno, ENXIO);
	assert_int_equal(unlink(path), 0);
	/* a private log is made group-readable when opened for writing */
	write_text(path, "x\n", 0600);
	assert_int_equal(chmod(path, 0600), 0);
	fd = js_spool_log_open(f->sp, id, 1);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* a bad id */
	errno = 0;
	assert_int_equal(js_spool_log_open(f->sp, "../x", 0), -1);
	assert_int_equal(errno, EINVAL);
}

static int removed_n;

static void
count_removed(const char *name, off_t size, void *arg)
{
	(void)name;
	(void)size;
	(void)arg;
	removed_n++;
}

static void
test_clean_tmp_edge(void **state)
{
	struct tu_spool *f = *state;
	char dir[600], file[600];

	snprintf(dir, sizeof dir, "%s/tmp/olddir", f->dir);
	assert_int_equal(mkdir(dir, 0750), 0);
	age_path(dir, 7200);
	snprintf(file, sizeof file, "%s/tmp/oldfile", f->dir);
	write_text(file, "left", 0640);
	age_path(file, 7200);
	/* dry run: counted, kept */
	removed_n = 0;
	assert_int_equal(js_spool_clean_tmp(f->sp, 3600000, 1, count_removed,
	    NULL), 1);
	assert_int_equal(removed_n, 1);
	assert_int_equal(access(file, F_OK), 0);
	/* young enough: nothing */
	assert_int_equal(js_spool_clean_tmp(f->sp, 8000000, 0, NULL, NULL), 0);
	assert_int_equal(access(file, F_OK), 0);
	/* cannot be removed (a spool opened on a read-only mount): not
	 * counted */
	if (ro_mount(f->dir) == 0) {
		struct js_spool *ro = js_spool_open(f->dir, 0, err, sizeof err);
		int n = ro ? js_spool_clean_tmp(ro, 3600000, 0, NULL, NULL) : -2;
		js_spool_close(ro);
		assert_int_equal(umount(f->dir), 0);
		assert_int_equal(n, 0);
	}
	snprintf(file, sizeof file, "%s/tmp/oldfile", f->dir);
	assert_int_equal(access(file, F_OK), 0);
	/* the directory is never removed, the file is */
	assert_int_equal(js_spool_clean_tmp(f->sp, 3600000, 0, NULL, NULL), 1);
	assert_int_equal(access(file, F_OK), -1);
	assert_int_equal(access(dir, F_OK), 0);
}

static void
test_recover_unreadable_wip(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], path[600], young[JS_ID_SIZE];
	json_t *job;
	enum js_state st;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	snprintf(young, sizeof young, "%s",
	    tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	path_of(path, sizeof path, f, id, "pending");
	assert_int_equal(unlink(path), 0);
	path_of(path, sizeof path, f, id, "wip");
	write_text(path, "{\"truncated", 0660);
	age_path(path, 3600);
	/* a young .wip (its processor lives) is left */
	path_of(path, sizeof path, f, young, "pending");
	assert_int_equal(unlink(path), 0);
	path_of(path, sizeof path, f, young, "wip");
	write_text(path, "{\"truncated", 0660);
	assert_int_equal(js_spool_recover_job(f->sp, young, 60000, NULL, NULL), 0);
	assert_int_equal(access(path, F_OK), 0);
	/* the old one becomes failed, saying why */
	assert_int_equal(js_spool_recover(f->sp, 60000, NULL, NULL), 1);
	job = js_spool_read(f->sp, id, &st);
	assert_non_null(job);
	assert_int_equal(st, JS_FAILED);
	assert_non_null(strstr(js_job_str(job, "error"),
	    "unreadable after its processor was lost"));
	json_decref(job);
	errno = 0;
	assert_int_equal(js_spool_recover_job(f->sp, "bad", 60000, NULL, NULL),
	    -1);
	assert_int_equal(errno, EINVAL);
}

static int
edit_bogus(json_t *job, enum js_state st, void *arg)
{
	(void)job;
	(void)st;
	(void)arg;
	return 42;	/* no such action */
}

static void
test_bad_arguments(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], path[600];
	struct js_claim c;
	json_t *job, *v, *none;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	/* no jobs: nothing to do; a job without an id: refused */
	assert_int_equal(js_spool_submit_many(f->sp, NULL, 0), 0);
	none = json_pack("{s:s}", "status", "pending");
	assert_non_null(none);
	errno = 0;
	assert_int_equal(js_spool_submit(f->sp, none), -1);
	assert_int_equal(errno, EINVAL);
	json_decref(none);
	assert_int_equal(js_spool_cancel_requested(f->sp, "x"), -1);
	assert_int_equal(js_spool_cancel_requested(f->sp, id), 0);
	/* an edit answering no known action writes nothing */
	errno = 0;
	assert_int_equal(js_spool_edit(f->sp, id, edit_bogus, NULL, &job, NULL),
	    -1);
	assert_int_equal(errno, EINVAL);
	assert_null(job);
	/* annotate: a bad id or a missing key or value */
	assert_int_equal(js_spool_claim(f->sp, id, "w", &c, &job), 0);
	v = json_string("x");
	errno = 0;
	assert_int_equal(js_spool_annotate(f->sp, "bad", c.generation, "k", v),
	    -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(js_spool_annotate(f->sp, id, c.generation, NULL, v), -1);
	assert_int_equal(errno, EINVAL);
	json_decref(v);
	/* finish in a state that is not final */
	errno = 0;
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_PENDING), -1);
	assert_int_equal(errno, EINVAL);
	path_of(path, sizeof path, f, id, "wip");
	assert_int_equal(access(path, F_OK), 0);
	json_decref(job);
}

/* A batch is all or nothing: a job that cannot be published (its id is
 * taken) or has no id takes back the ones before it, and tmp/ is left
 * empty. */
static void
test_submit_many_undo(void **state)
{
	struct tu_spool *f = *state;
	char taken[JS_ID_SIZE], tmpdir[600];
	json_t *jobs[3], *v, *in = tu_json("{\"command\":[\"true\"]}");
	int i;

	snprintf(taken, sizeof taken, "%s",
	    tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	v = js_job_validate(in, err, sizeof err);
	assert_non_null(v);
	for (i = 0; i < 3; i++) {
		jobs[i] = js_job_new(v, NULL, "owner", NULL);
		assert_non_null(jobs[i]);
	}
	json_object_set_new(jobs[2], "id", json_string(taken));
	errno = 0;
	assert_int_equal(js_spool_submit_many(f->sp, jobs, 3), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(tu_count(f->dir, ".pending"), 1);	/* the taken one */
	snprintf(tmpdir, sizeof tmpdir, "%s/tmp", f->dir);
	assert_int_equal(tu_count(tmpdir, NULL), 0);
	/* no id in the middle: nothing written at all */
	json_object_del(jobs[1], "id");
	json_object_set_new(jobs[2], "id", json_string("0000000a-0000-4000-8000-000000000000"));
	errno = 0;
	assert_int_equal(js_spool_submit_many(f->sp, jobs, 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tu_count(f->dir, ".pending"), 1);
	assert_int_equal(tu_count(tmpdir, NULL), 0);
	for (i = 0; i < 3; i++)
		json_decref(jobs[i]);
	json_decref(v);
	json_decref(in);
}

/* Submits a fresh job; js_spool_submit's result (errno kept). */
static int
submit_quiet(struct js_spool *sp)
{
	json_t *in = tu_json("{\"command\":[\"true\"]}"), *v, *job;
	int rc, e;

	v = js_job_validate(in, err, sizeof err);
	assert_non_null(v);
	job = js_job_new(v, NULL, "owner", NULL);
	assert_non_null(job);
	rc = js_spool_submit(sp, job);
	e = errno;
	json_decref(job);
	json_decref(v);
	json_decref(in);
	errno = e;
	return rc;
}

/* A full disk refuses every change with ENOSPC and leaves the spool as it
 * was (no half-written file, nothing in tmp/); once there is room the same
 * calls succeed. */
static void
test_full_disk_leaves_spool(void **state)
{
	struct tu_spool *f = *state;
	char dir[600], fill[700], path[700], before[8192], pend[JS_ID_SIZE],
	    done[JS_ID_SIZE], run[JS_ID_SIZE], run2[JS_ID_SIZE], block[4096];
	struct js_spool *sp;
	struct js_claim c, rc, rc2;
	json_t *job, *rjob, *rjob2, *ch, *r;
	int e[6];

	snprintf(dir, sizeof dir, "%s/full", f->dir);
	assert_int_equal(mkdir(dir, 0750), 0);
	if (mount("tmpfs", dir, "tmpfs", 0, "size=128k,mode=0750") < 0)
		skip();
	sp = js_spool_open(dir, 0, err, sizeof err);
	assert_non_null(sp);
	snprintf(pend, sizeof pend, "%s", tu_submit_text(sp, "{\"command\":[\"true\"]}"));
	snprintf(run, sizeof run, "%s", tu_submit_text(sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(sp, run, "w", &rc, &rjob), 0);
	assert_int_equal(js_spool_start(sp, &rc, rjob), 0);
	snprintf(run2, sizeof run2, "%s",
	    tu_submit_text(sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(sp, run2, "w", &rc2, &rjob2), 0);
	snprintf(done, sizeof done, "%s", tu_submit_text(sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(sp, done, "w", &c, &job), 0);
	assert_int_equal(js_spool_start(sp, &c, job), 0);
	assert_int_equal(js_spool_finish(sp, &c, job, JS_COMPLETED), 0);
	json_decref(job);
	snprintf(path, sizeof path, "%s/%s.pending", dir, pend);
	snprintf(before, sizeof before, "%s", tu_slurp(path));

	tu_fill(dir);

	ch = json_pack("{s:s}", "name", "renamed");
	errno = 0;
	r = js_spool_retrieve(sp, done);
	e[0] = errno;
	assert_null(r);
	errno = 0;
	assert_int_equal(js_spool_cancel(sp, pend, "stop", NULL), -1);
	e[1] = errno;
	errno = 0;
	r = js_spool_update(sp, pend, ch);
	e[2] = errno;
	assert_null(r);
	errno = 0;
	assert_int_equal(js_spool_start(sp, &rc2, rjob2), -1);
	e[3] = errno;
	errno = 0;
	assert_int_equal(submit_quiet(sp), -1);
	e[4] = errno;
	errno = 0;
	assert_int_equal(js_spool_finish(sp, &rc, rjob, JS_FAILED), -1);
	e[5] = errno;
	/* the spool as it was */
	snprintf(fill, sizeof fill, "%s/tmp", dir);
	snprintf(block, sizeof block, "completed %d retrieved %d pending %d "
	    "cancelled %d wip %d failed %d tmp %d same %d errno %d %d %d %d "
	    "%d %d", tu_count(dir, ".completed"), tu_count(dir, ".retrieved"),
	    tu_count(dir, ".pending"), tu_count(dir, ".cancelled"),
	    tu_count(dir, ".wip"), tu_count(dir, ".failed"),
	    tu_count(fill, NULL), strcmp(tu_slurp(path), before) == 0,
	    e[0], e[1], e[2], e[3], e[4], e[5]);
	snprintf(fill, sizeof fill, "completed 1 retrieved 0 pending 1 "
	    "cancelled 0 wip 2 failed 0 tmp 0 same 1 errno %d %d %d %d %d %d",
	    ENOSPC, ENOSPC, ENOSPC, ENOSPC, ENOSPC, ENOSPC);
	if (strcmp(block, fill) != 0) {
		snprintf(fill, sizeof fill, "%s/fill", dir);
		unlink(fill);
		js_spool_close(sp);
		umount(dir);
		fail_msg("after the refusals: %s", block);
	}

	/* room again: the same calls succeed */
	snprintf(fill, sizeof fill, "%s/fill", dir);
	assert_int_equal(unlink(fill), 0);
	r = js_spool_update(sp, pend, ch);
	assert_non_null(r);
	assert_string_equal(js_job_str(r, "name"), "renamed");
	json_decref(r);
	r = js_spool_retrieve(sp, done);
	assert_non_null(r);
	json_decref(r);
	assert_int_equal(js_spool_start(sp, &rc2, rjob2), 0);
	assert_int_equal(js_spool_finish(sp, &rc, rjob, JS_FAILED), 0);
	assert_int_equal(js_spool_cancel(sp, pend, "stop", NULL), 0);
	assert_int_equal(tu_count(dir, ".cancelled"), 1);
	assert_int_equal(tu_count(dir, ".failed"), 1);
	assert_int_equal(tu_count(dir, ".retrieved"), 1);
	json_decref(rjob);
	json_decref(rjob2);
	json_decref(ch);
	js_spool_close(sp);
	assert_int_equal(umount(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_open_errors),
		TU_SPOOL_TEST(test_open_readonly),
		TU_SPOOL_TEST(test_check_readonly_and_moved),
		TU_SPOOL_TEST(test_check_full),
		TU_SPOOL_TEST(test_read_not_a_job_file),
		TU_SPOOL_TEST(test_read_bytes),
		TU_SPOOL_TEST(test_drop_damaged),
		TU_SPOOL_TEST(test_deps_on_retrieved),
		TU_SPOOL_TEST(test_log_open_edge),
		TU_SPOOL_TEST(test_clean_tmp_edge),
		TU_SPOOL_TEST(test_recover_unreadable_wip),
		TU_SPOOL_TEST(test_bad_arguments),
		TU_SPOOL_TEST(test_submit_many_undo),
		TU_SPOOL_TEST(test_full_disk_leaves_spool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
