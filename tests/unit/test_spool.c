/* Unit tests for lib/spool.c: the on-disk protocol. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "spool.h"

static char err[512];

static int
exists(struct tu_spool *f, const char *id, const char *ext)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s.%s", f->dir, id, ext);
	return lstat(path, &st) == 0;
}

/* Sets the mtime of <id>.<ext> age_s seconds into the past. */
static void
age(struct tu_spool *f, const char *id, const char *ext, int age_s)
{
	char path[600];
	struct timespec ts[2];

	snprintf(path, sizeof path, "%s/%s.%s", f->dir, id, ext);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age_s;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void
test_open(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	struct js_spool *sp;
	struct stat st;

	snprintf(path, sizeof path, "%s/tmp", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* world-writable refused with a message naming the fix */
	assert_int_equal(chmod(f->dir, 0777), 0);
	assert_null(js_spool_open(f->dir, 0, err, sizeof err));
	assert_non_null(strstr(err, "writable by other users"));
	assert_int_equal(chmod(f->dir, 0750), 0);
	/* missing: refused without CREATE, created with it */
	snprintf(path, sizeof path, "%s/sub", f->dir);
	assert_null(js_spool_open(path, 0, err, sizeof err));
	assert_non_null(strstr(err, path));
	sp = js_spool_open(path, JS_SPOOL_CREATE, err, sizeof err);
	assert_non_null(sp);
	assert_int_equal(js_spool_check(sp, err, sizeof err), 0);
	js_spool_close(sp);
	/* tmp/ that is a symlink is refused */
	snprintf(path, sizeof path, "%s/sub/tmp", f->dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(symlink("/tmp", path), 0);
	snprintf(path, sizeof path, "%s/sub", f->dir);
	assert_null(js_spool_open(path, 0, err, sizeof err));
	assert_non_null(strstr(err, "symlink"));
}

static void
test_check_vanished(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	struct js_spool *sp;

	snprintf(path, sizeof path, "%s/gone", f->dir);
	sp = js_spool_open(path, JS_SPOOL_CREATE, err, sizeof err);
	assert_non_null(sp);
	snprintf(path, sizeof path, "rm -rf '%s/gone'", f->dir);
	assert_int_equal(system(path), 0);
	assert_int_equal(js_spool_check(sp, err, sizeof err), -1);
	assert_non_null(strstr(err, "removed"));
	js_spool_close(sp);
}

static void
test_submit_read(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	struct stat st;
	enum js_state s;
	json_t *job;
	const char *id = tu_submit_text(f->sp, "{\"shell\":\"echo hi\",\"name\":\"n\"}");

	assert_true(exists(f, id, "pending"));
	snprintf(path, sizeof path, "%s/%s.pending", f->dir, id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(tu_count(f->dir, NULL), 2);	/* tmp/ and the job */
	snprintf(path, sizeof path, "%s/tmp", f->dir);
	assert_int_equal(tu_count(path, NULL), 0);
	assert_int_equal(js_spool_find(f->sp, id, &s), 0);
	assert_int_equal(s, JS_PENDING);
	job = js_spool_read(f->sp, id, &s);
	assert_non_null(job);
	assert_string_equal(js_job_str(job, "name"), "n");
	assert_string_equal(js_job_str(job, "status"), "pending");
	/* the same id again is refused, not overwritten */
	assert_int_equal(js_spool_submit(f->sp, job), -1);
	assert_int_equal(errno, EEXIST);
	json_decref(job);
	assert_int_equal(js_spool_find(f->sp, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
	    &s), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_bad_ids(void **state)
{
	struct tu_spool *f = *state;
	static const char *const bad[] = {
		"../etc/passwd", "", "0B1E6F0A-3C4D-4E5F-8A9B-0C1D2E3F4A5B",
		"0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b/../../x", "tmp", NULL
	};
	struct js_claim c = { .generation = 1 };
	enum js_state s;
	json_t *job = json_object(), *claimed;
	size_t i;

	for (i = 0; bad[i] != NULL; i++) {
		assert_int_equal(js_spool_find(f->sp, bad[i], &s), -1);
		assert_int_equal(errno, EINVAL);
		assert_null(js_spool_read(f->sp, bad[i], NULL));
		assert_int_equal(errno, EINVAL);
		assert_int_equal(js_spool_claim(f->sp, bad[i], "w", &c, &claimed), -1);
		assert_int_equal(errno, EINVAL);
		assert_null(claimed);
		assert_int_equal(js_spool_cancel(f->sp, bad[i], "x", NULL), -1);
		assert_int_equal(errno, EINVAL);
		assert_null(js_spool_retrieve(f->sp, bad[i]));
		assert_int_equal(errno, EINVAL);
		assert_int_equal(js_spool_remove(f->sp, bad[i]), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(js_spool_log_open(f->sp, bad[i], 1), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(js_spool_heartbeat(f->sp, bad[i]), -1);
		assert_int_equal(errno, EINVAL);
		snprintf(c.id, sizeof c.id, "%.36s", bad[i]);
		if (!js_id_valid(c.id)) {	/* (a truncated id may be valid) */
			assert_int_equal(js_spool_finish(f->sp, &c, job,
			    JS_COMPLETED), -1);
			assert_int_equal(errno, EINVAL);
			assert_int_equal(js_spool_requeue(f->sp, &c, job, 0, 0), -1);
			assert_int_equal(errno, EINVAL);
		}
	}
	json_decref(job);
	assert_int_equal(tu_count(f->dir, NULL), 1);	/* only tmp/ */
}

static void
test_claim_finish(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c, c2;
	json_t *job, *job2, *done;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(f->sp, id, "host:1", &c, &job), 0);
	assert_false(exists(f, id, "pending"));
	assert_true(exists(f, id, "wip"));
	assert_string_equal(js_job_str(job, "status"), "running");
	assert_int_equal(js_job_int(job, "attempts", 0), 1);
	assert_int_equal(c.generation, 1);
	assert_string_equal(js_job_str(job, "worker"), "host:1");
	assert_non_null(js_job_str(job, "started_at"));
	/* a second claimer loses with ENOENT */
	assert_int_equal(js_spool_claim(f->sp, id, "host:2", &c2, &job2), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(job2);
	/* finishing before start is fenced: the file is not ours yet */
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), -1);
	assert_int_equal(errno, ESTALE);
	json_object_set_new(job, "pid", json_integer(1234));
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_heartbeat(f->sp, id), 0);
	json_object_set_new(job, "exit_code", json_integer(0));
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), 0);
	assert_false(exists(f, id, "wip"));
	assert_true(exists(f, id, "completed"));
	done = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(done, "status"), "completed");
	assert_int_equal(js_job_int(done, "exit_code", -1), 0);
	assert_non_null(js_job_str(done, "finished_at"));
	/* a finished job cannot be finished twice */
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_FAILED), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_heartbeat(f->sp, id), -1);
	assert_int_equal(errno, ENOENT);
	json_decref(done);
	json_decref(job);
}

static void
test_fencing(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim a, b;
	json_t *ja, *jb, *done;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &a, &ja), 0);
	assert_int_equal(js_spool_start(f->sp, &a, ja), 0);
	/* A stops heartbeating; a fresh lease is not recovered... */
	assert_int_equal(js_spool_recover(f->sp, 60000, NULL, NULL), 0);
	assert_true(exists(f, id, "wip"));
	/* ...an expired one is */
	age(f, id, "wip", 120);
	assert_int_equal(js_spool_recover(f->sp, 60000, NULL, NULL), 1);
	assert_true(exists(f, id, "pending"));
	assert_false(exists(f, id, "wip"));
	/* A wakes up before anyone claimed: fenced */
	assert_int_equal(js_spool_finish(f->sp, &a, ja, JS_COMPLETED), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_claim(f->sp, id, "B:2", &b, &jb), 0);
	assert_int_equal(js_job_int(jb, "attempts", 0), 2);
	assert_true(b.generation > a.generation);
	/* A again, between B's claim and B's start: still fenced */
	assert_int_equal(js_spool_finish(f->sp, &a, ja, JS_COMPLETED), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_start(f->sp, &b, jb), 0);
	/* and after B's start */
	assert_int_equal(js_spool_finish(f->sp, &a, ja, JS_FAILED), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_requeue(f->sp, &a, ja, 1, 0), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_finish(f->sp, &b, jb, JS_COMPLETED), 0);
	done = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(done, "worker"), "B:2");
	assert_string_equal(js_job_str(done, "status"), "completed");
	assert_int_equal(js_job_int(done, "attempts", 0), 2);
	json_decref(done);
	json_decref(ja);
	json_decref(jb);
}

/* An executor's note in the .wip: written only under the live claim, kept
 * when an expired lease returns the job to pending (so a re-attach finds
 * it), refused to a fenced claim. */
static void
test_annotate(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim a, b;
	json_t *ja, *jb, *note, *cur;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &a, &ja), 0);
	note = json_pack("{s:i}", "job_id", 42);
	/* not started yet: the .wip is not this claim's */
	assert_int_equal(js_spool_annotate(f->sp, id, a.generation, "slurm",
	    note), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_start(f->sp, &a, ja), 0);
	assert_int_equal(js_spool_annotate(f->sp, id, a.generation, "slurm",
	    note), 0);
	assert_int_equal(js_spool_annotate(f->sp, id, a.generation + 1, "slurm",
	    note), -1);
	assert_int_equal(errno, ESTALE);
	cur = js_spool_read(f->sp, id, NULL);
	assert_int_equal(js_job_int(json_object_get(cur, "slurm"), "job_id", 0), 42);
	assert_string_equal(js_job_str(cur, "worker"), "A:1");
	json_decref(cur);
	/* lease expires: the note travels with the job */
	age(f, id, "wip", 120);
	assert_int_equal(js_spool_recover(f->sp, 60000, NULL, NULL), 1);
	assert_int_equal(js_spool_annotate(f->sp, id, a.generation, "slurm",
	    note), -1);
	assert_int_equal(js_spool_claim(f->sp, id, "B:2", &b, &jb), 0);
	assert_int_equal(js_job_int(json_object_get(jb, "slurm"), "job_id", 0), 42);
	assert_int_equal(js_spool_start(f->sp, &b, jb), 0);
	assert_int_equal(js_spool_annotate(f->sp, id, a.generation, "slurm",
	    note), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_finish(f->sp, &b, jb, JS_COMPLETED), 0);
	assert_int_equal(js_spool_annotate(f->sp, id, b.generation, "slurm",
	    note), -1);
	json_decref(note);
	json_decref(ja);
	json_decref(jb);
}

static void
recovered_cb(const char *id, const json_t *job, void *arg)
{
	int *n = arg;

	assert_true(js_id_valid(id));
	assert_string_equal(js_job_str(job, "id"), id);
	(*n)++;
}

static void
test_max_attempts(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job, *done;
	char id[JS_ID_SIZE];
	int calls = 0, i;

	snprintf(id, sizeof id, "%s",
	    tu_submit_text(f->sp, "{\"command\":[\"true\"],\"max_attempts\":2}"));
	for (i = 0; i < 2; i++) {
		assert_int_equal(js_spool_claim(f->sp, id, "A:1", &c, &job), 0);
		assert_int_equal(js_spool_start(f->sp, &c, job), 0);
		age(f, id, "wip", 10);
		assert_int_equal(js_spool_recover(f->sp, 5000, recovered_cb, &calls), 1);
		json_decref(job);
	}
	assert_int_equal(calls, 2);
	assert_true(exists(f, id, "failed"));
	assert_false(exists(f, id, "pending"));
	assert_false(exists(f, id, "wip"));
	done = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(done, "status"), "failed");
	assert_non_null(strstr(js_job_str(done, "error"), "lease expired"));
	assert_int_equal(js_job_int(done, "attempts", 0), 2);
	/* failed by recovery under a new generation, not the lost claim's */
	assert_int_equal(js_job_int(done, "generation", 0), c.generation + 1);
	json_decref(done);
}

static void
test_recover_after_finish_crash(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	const char *id = tu_submit_text(f->sp, "{\"command\":[\"true\"]}");
	int fd;

	/* crash between writing .completed and removing .wip */
	snprintf(path, sizeof path, "%s/%s.pending", f->dir, id);
	char wip[600], comp[600];
	snprintf(wip, sizeof wip, "%s/%s.wip", f->dir, id);
	snprintf(comp, sizeof comp, "%s/%s.completed", f->dir, id);
	assert_int_equal(link(path, comp), 0);
	assert_int_equal(rename(path, wip), 0);
	fd = open(wip, O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	age(f, id, "wip", 100);
	assert_int_equal(js_spool_recover(f->sp, 1000, NULL, NULL), 1);
	assert_false(exists(f, id, "wip"));
	assert_false(exists(f, id, "pending"));
	assert_true(exists(f, id, "completed"));
}

static void
test_requeue(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job, *p;
	char id[JS_ID_SIZE];
	int64_t later = js_now_ms() + 400;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_requeue(f->sp, &c, job, 1, later), 0);
	assert_true(exists(f, id, "pending"));
	assert_false(exists(f, id, "wip"));
	p = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(p, "status"), "pending");
	assert_int_equal(js_job_int(p, "attempts", -1), 0);	/* given back */
	assert_int_equal(js_job_int(p, "not_before", 0), later);
	assert_true(json_is_null(json_object_get(p, "worker")));
	json_decref(p);
	/* the old claim is void now */
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), -1);
	assert_int_equal(errno, ESTALE);
	json_decref(job);
	/* not claimed before not_before (lib/sched): put back as it was */
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &c, &job), -1);
	assert_int_equal(errno, EAGAIN);
	assert_null(job);
	assert_true(exists(f, id, "pending"));
	assert_false(exists(f, id, "wip"));
	p = js_spool_read(f->sp, id, NULL);
	assert_int_equal(js_job_int(p, "attempts", -1), 0);
	assert_int_equal(js_job_int(p, "not_before", 0), later);
	json_decref(p);
	while (js_now_ms() <= later)
		usleep(20000);
	/* a retry keeps the attempt */
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_requeue(f->sp, &c, job, 0, 0), 0);
	p = js_spool_read(f->sp, id, NULL);
	assert_int_equal(js_job_int(p, "attempts", -1), 1);
	json_decref(p);
	json_decref(job);
}

static void
test_cancel(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job, *out;
	char a[JS_ID_SIZE], b[JS_ID_SIZE];

	snprintf(a, sizeof a, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	snprintf(b, sizeof b, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	/* pending: cancelled at once */
	assert_int_equal(js_spool_cancel(f->sp, a, "cancelled by alice", &out), 0);
	assert_string_equal(js_job_str(out, "status"), "cancelled");
	assert_string_equal(js_job_str(out, "error"), "cancelled by alice");
	json_decref(out);
	assert_true(exists(f, a, "cancelled"));
	assert_false(exists(f, a, "pending"));
	/* a cancelled job cannot be claimed */
	assert_int_equal(js_spool_claim(f->sp, a, "A:1", &c, &job), -1);
	assert_int_equal(errno, ENOENT);
	/* final: EALREADY */
	assert_int_equal(js_spool_cancel(f->sp, a, "again", NULL), -1);
	assert_int_equal(errno, EALREADY);
	/* running: a request for the processor */
	assert_int_equal(js_spool_claim(f->sp, b, "A:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_cancel_requested(f->sp, b), 0);
	assert_int_equal(js_spool_cancel(f->sp, b, "stop", NULL), -1);
	assert_int_equal(errno, EINPROGRESS);
	assert_int_equal(js_spool_cancel_requested(f->sp, b), 1);
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_CANCELLED), 0);
	assert_int_equal(js_spool_cancel_requested(f->sp, b), 0);
	assert_true(exists(f, b, "cancelled"));
	json_decref(job);
}

static void
test_retrieve(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job, *r, *r2;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"false\"]}"));
	assert_null(js_spool_retrieve(f->sp, id));
	assert_int_equal(errno, EBUSY);
	assert_true(exists(f, id, "pending"));
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_null(js_spool_retrieve(f->sp, id));
	assert_int_equal(errno, EBUSY);
	json_object_set_new(job, "exit_code", json_integer(1));
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_FAILED), 0);
	r = js_spool_retrieve(f->sp, id);
	assert_non_null(r);
	assert_string_equal(js_job_str(r, "status"), "failed");	/* outcome kept */
	assert_non_null(js_job_str(r, "retrieved_at"));
	assert_true(exists(f, id, "retrieved"));
	assert_false(exists(f, id, "failed"));
	r2 = js_spool_retrieve(f->sp, id);
	assert_non_null(r2);
	assert_string_equal(js_job_str(r2, "retrieved_at"), js_job_str(r, "retrieved_at"));
	json_decref(r);
	json_decref(r2);
	json_decref(job);
}

static void
test_update(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job, *u, *ch, *bad;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	ch = json_pack("{s:s,s:{s:i}}", "name", "renamed", "metadata", "k", 7);
	u = js_spool_update(f->sp, id, ch);
	assert_non_null(u);
	assert_string_equal(js_job_str(u, "name"), "renamed");
	json_decref(u);
	u = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(u, "name"), "renamed");
	assert_string_equal(js_job_str(u, "status"), "pending");
	json_decref(u);
	assert_true(exists(f, id, "pending"));
	{
		char path[600];
		snprintf(path, sizeof path, "%s/tmp", f->dir);
		assert_int_equal(tu_count(path, NULL), 0);
	}
	bad = json_pack("{s:[s]}", "command", "rm");
	assert_null(js_spool_update(f->sp, id, bad));
	assert_int_equal(errno, EINVAL);
	json_decref(bad);
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &c, &job), 0);
	assert_null(js_spool_update(f->sp, id, ch));
	assert_int_equal(errno, EBUSY);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), 0);
	json_object_set_new(ch, "description", json_string("after"));
	u = js_spool_update(f->sp, id, ch);
	assert_non_null(u);
	assert_string_equal(js_job_str(u, "description"), "after");
	assert_string_equal(js_job_str(u, "status"), "completed");
	json_decref(u);
	json_decref(ch);
	json_decref(job);
}

/* js_spool_edit callbacks for test_edit. */
struct edit_arg {
	int calls;
	int claim_first;	/* claim (a bare rename) on the first call */
	char dir[512];
	char id[JS_ID_SIZE];
	enum js_state seen;
};

static int
edit_rename_cancel(json_t *job, enum js_state st, void *arg)
{
	struct edit_arg *e = arg;
	char from[600], to[600];

	e->calls++;
	e->seen = st;
	if (e->claim_first && e->calls == 1) {
		/* a processor claims it between the read and the write */
		snprintf(from, sizeof from, "%s/%s.pending", e->dir, e->id);
		snprintf(to, sizeof to, "%s/%s.wip", e->dir, e->id);
		assert_int_equal(rename(from, to), 0);
	}
	json_object_set_new(job, "name", json_string("edited"));
	json_object_set_new(job, "error", json_string("stop it"));
	return JS_EDIT_CANCEL;
}

static int
edit_refuse(json_t *job, enum js_state st, void *arg)
{
	(void)st;
	(void)arg;
	json_object_set_new(job, "name", json_string("never stored"));
	errno = EPERM;
	return -1;
}

static int
edit_write(json_t *job, enum js_state st, void *arg)
{
	(void)st;
	(void)arg;
	json_object_set_new(job, "name", json_string("written"));
	return JS_EDIT_WRITE;
}

static void
test_edit(void **state)
{
	struct tu_spool *f = *state;
	struct edit_arg e;
	enum js_state st;
	json_t *job;
	char id[JS_ID_SIZE], path[600], before[4096], after[4096];
	int fd;
	ssize_t n1, n2;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	/* a refusal writes nothing */
	snprintf(path, sizeof path, "%s/%s.pending", f->dir, id);
	fd = open(path, O_RDONLY);
	n1 = read(fd, before, sizeof before);
	close(fd);
	assert_int_equal(js_spool_edit(f->sp, id, edit_refuse, NULL, &job, &st),
	    -1);
	assert_int_equal(errno, EPERM);
	assert_null(job);
	fd = open(path, O_RDONLY);
	n2 = read(fd, after, sizeof after);
	close(fd);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, (size_t)n1);
	/* write a pending job: swapped in place */
	assert_int_equal(js_spool_edit(f->sp, id, edit_write, NULL, &job, &st), 0);
	assert_int_equal(st, JS_PENDING);
	assert_string_equal(js_job_str(job, "name"), "written");
	json_decref(job);
	job = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(job, "name"), "written");
	json_decref(job);
	/* cancel with an edit: the claim wins between read and write, so
	 * the callback decides again on the running job; only the request
	 * is written, the edit is dropped */
	memset(&e, 0, sizeof e);
	e.claim_first = 1;
	snprintf(e.dir, sizeof e.dir, "%s", f->dir);
	snprintf(e.id, sizeof e.id, "%s", id);
	assert_int_equal(js_spool_edit(f->sp, id, edit_rename_cancel, &e, &job,
	    &st), 0);
	assert_int_equal(e.calls, 2);
	assert_int_equal(e.seen, JS_WIP);
	assert_int_equal(st, JS_WIP);
	json_decref(job);
	assert_true(exists(f, id, "wip"));
	assert_false(exists(f, id, "pending"));
	assert_false(exists(f, id, "cancelled"));
	assert_int_equal(js_spool_cancel_requested(f->sp, id), 1);
	job = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(job, "name"), "written");
	json_decref(job);
	/* a second request keeps the first */
	assert_int_equal(js_spool_cancel(f->sp, id, "again", NULL), -1);
	assert_int_equal(errno, EINPROGRESS);
	snprintf(path, sizeof path, "%s/%s.cancel", f->dir, id);
	fd = open(path, O_RDONLY);
	n1 = read(fd, before, sizeof before);
	close(fd);
	assert_int_equal(n1, 7);
	assert_memory_equal(before, "stop it", 7);
	/* a running job's file is its processor's */
	assert_int_equal(js_spool_edit(f->sp, id, edit_write, NULL, NULL, NULL),
	    -1);
	assert_int_equal(errno, EBUSY);
	/* cancel with an edit of a pending job: one .cancelled with both */
	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	memset(&e, 0, sizeof e);
	assert_int_equal(js_spool_edit(f->sp, id, edit_rename_cancel, &e, &job,
	    &st), 0);
	assert_int_equal(st, JS_CANCELLED);
	json_decref(job);
	assert_false(exists(f, id, "pending"));
	job = js_spool_read(f->sp, id, &st);
	assert_int_equal(st, JS_CANCELLED);
	assert_string_equal(js_job_str(job, "name"), "edited");
	assert_string_equal(js_job_str(job, "error"), "stop it");
	assert_string_equal(js_job_str(job, "status"), "cancelled");
	assert_non_null(js_job_str(job, "finished_at"));
	json_decref(job);
	/* a final job cannot be cancelled */
	assert_int_equal(js_spool_edit(f->sp, id, edit_rename_cancel, &e, NULL,
	    NULL), -1);
	assert_int_equal(errno, EALREADY);
	/* no such job, bad id */
	assert_int_equal(js_spool_edit(f->sp,
	    "00000000-0000-4000-8000-000000000000", edit_write, NULL, NULL,
	    NULL), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(js_spool_edit(f->sp, "../x", edit_write, NULL, NULL,
	    NULL), -1);
	assert_int_equal(errno, EINVAL);
	snprintf(path, sizeof path, "%s/tmp", f->dir);
	assert_int_equal(tu_count(path, NULL), 0);
}

static void
test_remove_and_log(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job;
	char id[JS_ID_SIZE], buf[16];
	int fd;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_remove(f->sp, id), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(js_spool_claim(f->sp, id, "A:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	fd = js_spool_log_open(f->sp, id, 1);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\n", 6), 6);
	close(fd);
	fd = js_spool_log_open(f->sp, id, 0);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof buf), 6);
	close(fd);
	assert_int_equal(js_spool_remove(f->sp, id), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), 0);
	assert_int_equal(js_spool_remove(f->sp, id), 0);
	assert_false(exists(f, id, "completed"));
	assert_false(exists(f, id, "log"));
	assert_int_equal(js_spool_remove(f->sp, id), -1);
	assert_int_equal(errno, ENOENT);
	json_decref(job);
}

static void
test_log_symlink(void **state)
{
	struct tu_spool *f = *state;
	char path[600];
	const char *id = "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

	snprintf(path, sizeof path, "%s/%s.log", f->dir, id);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(js_spool_log_open(f->sp, id, 1), -1);
	assert_int_equal(js_spool_log_open(f->sp, id, 0), -1);
}

/* Writes text as SPOOL/<id>.pending the way an admin would (tmp + mv). */
static void
hand_submit(struct tu_spool *f, const char *id, const char *text, size_t len)
{
	char tmp[600], dst[600];
	int fd;

	snprintf(tmp, sizeof tmp, "%s/tmp/hand", f->dir);
	snprintf(dst, sizeof dst, "%s/%s.pending", f->dir, id);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	assert_int_equal(rename(tmp, dst), 0);
}

static void
test_invalid_pending(void **state)
{
	struct tu_spool *f = *state;
	const char *a = "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	const char *b = "1b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	const char *c3 = "2b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	const char *d = "3b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	char path[600];
	struct js_claim c;
	json_t *job;

	hand_submit(f, a, "{not json", 9);
	assert_int_equal(js_spool_claim(f->sp, a, "A:1", &c, &job), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(job);
	assert_true(exists(f, a, "failed"));
	assert_false(exists(f, a, "wip"));
	json_decref(job);
	job = js_spool_read(f->sp, a, NULL);
	assert_string_equal(js_job_str(job, "status"), "failed");
	assert_non_null(strstr(js_job_str(job, "error"), "invalid job file"));
	json_decref(job);

	hand_submit(f, b, "{\"command\":[]}", 14);
	assert_int_equal(js_spool_claim(f->sp, b, "A:1", &c, &job), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(js_job_str(job, "error"), "command must not be empty"));
	json_decref(job);

	/* a hand-written valid job runs, with stored fields filled in */
	hand_submit(f, c3, "{\"command\":[\"echo\",\"hi\"]}", 25);
	assert_int_equal(js_spool_claim(f->sp, c3, "A:1", &c, &job), 0);
	assert_string_equal(js_job_str(job, "id"), c3);
	assert_int_equal(js_job_int(job, "max_attempts", 0), 3);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), 0);
	json_decref(job);
	assert_true(exists(f, c3, "completed"));

	/* a .pending that is a symlink is never followed */
	snprintf(path, sizeof path, "%s/%s.pending", f->dir, d);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(js_spool_claim(f->sp, d, "A:1", &c, &job), -1);
	assert_int_equal(errno, EBADMSG);
	json_decref(job);
	assert_true(exists(f, d, "failed"));
	{
		struct stat st;
		snprintf(path, sizeof path, "%s/%s.failed", f->dir, d);
		assert_int_equal(lstat(path, &st), 0);
		assert_true(S_ISREG(st.st_mode));
	}
	assert_int_equal(access("/etc/passwd", R_OK), 0);
}

static void
test_list_and_clean_tmp(void **state)
{
	struct tu_spool *f = *state;
	struct js_entry *v;
	size_t n;
	char path[600];
	int fd;
	struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };

	tu_submit_text(f->sp, "{\"command\":[\"true\"]}");
	tu_submit_text(f->sp, "{\"command\":[\"true\"]}");
	snprintf(path, sizeof path, "%s/README", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(js_spool_list(f->sp, JS_STATE_BIT(JS_PENDING), JS_LIST_STAT,
	    &v, &n), 0);
	assert_int_equal(n, 2);
	assert_true(v[0].mtime_ms > 0 && v[0].size > 0);
	free(v);
	assert_int_equal(js_spool_list(f->sp, JS_FINAL_MASK, 0, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	/* tmp: an old leftover goes, a young one stays */
	snprintf(path, sizeof path, "%s/tmp/old", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	snprintf(path, sizeof path, "%s/tmp/young", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	assert_int_equal(js_spool_clean_tmp(f->sp, 3600000, 1, NULL, NULL), 1);
	snprintf(path, sizeof path, "%s/tmp", f->dir);
	assert_int_equal(tu_count(path, NULL), 2);	/* dry run */
	assert_int_equal(js_spool_clean_tmp(f->sp, 3600000, 0, NULL, NULL), 1);
	assert_int_equal(tu_count(path, NULL), 1);
}

static void
test_submit_many(void **state)
{
	struct tu_spool *f = *state;
	json_t *jobs[3], *v;
	size_t i;
	char path[600];

	v = json_pack("{s:[s]}", "command", "true");
	for (i = 0; i < 3; i++)
		jobs[i] = js_job_new(v, NULL, NULL, "batch-1");
	assert_int_equal(js_spool_submit_many(f->sp, jobs, 3), 0);
	assert_int_equal(tu_count(f->dir, ".pending"), 3);
	/* all or nothing: a clash on the last id publishes none */
	json_decref(jobs[0]);
	json_decref(jobs[1]);
	jobs[0] = js_job_new(v, NULL, NULL, "batch-2");
	jobs[1] = js_job_new(v, NULL, NULL, "batch-2");
	assert_int_equal(js_spool_submit_many(f->sp, jobs, 3), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(tu_count(f->dir, ".pending"), 3);
	snprintf(path, sizeof path, "%s/tmp", f->dir);
	assert_int_equal(tu_count(path, NULL), 0);
	for (i = 0; i < 3; i++)
		json_decref(jobs[i]);
	json_decref(v);
}

/* Several processes claim the same jobs: each is claimed exactly once. */
#define RACE_JOBS 1000
#define RACERS 4
static void
test_claim_race(void **state)
{
	struct tu_spool *f = *state;
	json_t *v, **jobs;
	char (*ids)[JS_ID_SIZE];
	char out[600], line[64];
	int i, r, claimed = 0;
	pid_t pids[RACERS];
	FILE *fp;

	v = json_pack("{s:[s]}", "command", "true");
	jobs = calloc(RACE_JOBS, sizeof *jobs);
	ids = calloc(RACE_JOBS, sizeof *ids);
	for (i = 0; i < RACE_JOBS; i++) {
		jobs[i] = js_job_new(v, NULL, NULL, NULL);
		snprintf(ids[i], JS_ID_SIZE, "%s", js_job_str(jobs[i], "id"));
	}
	assert_int_equal(js_spool_submit_many(f->sp, jobs, RACE_JOBS), 0);
	for (r = 0; r < RACERS; r++) {
		pids[r] = fork();
		assert_true(pids[r] >= 0);
		if (pids[r] == 0) {
			struct js_spool *sp = js_spool_open(f->dir, 0, err, sizeof err);
			struct js_claim c;
			json_t *job;
			snprintf(out, sizeof out, "%s/claims.%d", f->dir, r);
			fp = fopen(out, "w");
			if (sp == NULL || fp == NULL)
				_exit(3);
			/* each racer walks the list from a different start */
			for (i = 0; i < RACE_JOBS; i++) {
				int k = (i + r * RACE_JOBS / RACERS) % RACE_JOBS;
				if (js_spool_claim(sp, ids[k], "racer", &c, &job) == 0) {
					fprintf(fp, "%s\n", ids[k]);
					json_decref(job);
				} else if (errno != ENOENT) {
					_exit(4);
				}
			}
			fclose(fp);
			js_spool_close(sp);
			_exit(0);
		}
	}
	for (r = 0; r < RACERS; r++) {
		int st;
		assert_int_equal(waitpid(pids[r], &st, 0), pids[r]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	/* every job claimed exactly once */
	{
		char *seen = calloc(RACE_JOBS, 1);
		for (r = 0; r < RACERS; r++) {
			snprintf(out, sizeof out, "%s/claims.%d", f->dir, r);
			fp = fopen(out, "r");
			assert_non_null(fp);
			while (fgets(line, sizeof line, fp) != NULL) {
				line[JS_ID_LEN] = '\0';
				for (i = 0; i < RACE_JOBS; i++)
					if (strcmp(ids[i], line) == 0)
						break;
				assert_true(i < RACE_JOBS);
				assert_int_equal(seen[i], 0);
				seen[i] = 1;
				claimed++;
			}
			fclose(fp);
		}
		free(seen);
	}
	assert_int_equal(claimed, RACE_JOBS);
	assert_int_equal(tu_count(f->dir, ".wip"), RACE_JOBS);
	assert_int_equal(tu_count(f->dir, ".pending"), 0);
	for (i = 0; i < RACE_JOBS; i++)
		json_decref(jobs[i]);
	free(jobs);
	free(ids);
	json_decref(v);
}

/* Reads every visible pending job; returns how many failed to parse. */
static int
read_all_visible(struct js_spool *sp, int *seen)
{
	struct js_entry *v;
	size_t n, i;
	int bad = 0;

	if (js_spool_list(sp, JS_STATE_BIT(JS_PENDING), 0, &v, &n) < 0)
		return 1;
	for (i = 0; i < n; i++) {
		json_t *j = js_spool_read_state(sp, v[i].id, JS_PENDING);
		if (j == NULL || js_job_str(j, "id") == NULL ||
		    strcmp(js_job_str(j, "id"), v[i].id) != 0)
			bad++;
		json_decref(j);
	}
	*seen = (int)n;
	free(v);
	return bad;
}

/* A reader never sees a partial file while another process publishes. */
#define PUBLISH_N 10000
static void
test_reader_never_sees_partial(void **state)
{
	struct tu_spool *f = *state;
	pid_t pid;
	int st, bad = 0, seen = 0, rounds = 0;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct js_spool *sp = js_spool_open(f->dir, 0, err, sizeof err);
		json_t *v = json_pack("{s:[s],s:s}", "command", "true",
		    "description", "padding padding padding padding padding");
		int i;
		if (sp == NULL)
			_exit(3);
		for (i = 0; i < PUBLISH_N; i++) {
			json_t *j = js_job_new(v, NULL, NULL, NULL);
			if (js_spool_submit(sp, j) < 0)
				_exit(4);
			json_decref(j);
		}
		json_decref(v);
		js_spool_close(sp);
		_exit(0);
	}
	while (waitpid(pid, &st, WNOHANG) == 0) {
		bad += read_all_visible(f->sp, &seen);
		rounds++;
	}
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	bad += read_all_visible(f->sp, &seen);
	assert_int_equal(bad, 0);
	assert_int_equal(seen, PUBLISH_N);
	assert_true(rounds > 1);
}

/* A publisher killed at random instants leaves only whole jobs visible. */
static void
test_crash_during_publish(void **state)
{
	struct tu_spool *f = *state;
	int round, bad, seen = 0, leftovers;
	char path[600];

	srand((unsigned)getpid());
	for (round = 0; round < 40; round++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct js_spool *sp = js_spool_open(f->dir, 0, err, sizeof err);
			json_t *v = json_pack("{s:[s]}", "command", "true");
			if (sp == NULL)
				_exit(3);
			for (;;) {
				json_t *j = js_job_new(v, NULL, NULL, NULL);
				if (js_spool_submit(sp, j) < 0)
					_exit(4);
				json_decref(j);
			}
		}
		usleep((useconds_t)(rand() % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	bad = read_all_visible(f->sp, &seen);
	assert_int_equal(bad, 0);
	/* leftovers, if any, are only in tmp/, and the tmp sweep removes them */
	snprintf(path, sizeof path, "%s/tmp", f->dir);
	leftovers = tu_count(path, NULL);
	assert_int_equal(js_spool_clean_tmp(f->sp, 0, 0, NULL, NULL), leftovers);
	assert_int_equal(tu_count(path, NULL), 0);
	assert_int_equal(tu_count(f->dir, NULL), seen + 1);
}

/* Reads <id>.log whole into buf (NUL-terminated); returns its length. */
static size_t
read_log(struct tu_spool *f, const char *id, char *buf, size_t size)
{
	char path[600];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof path, "%s/%s.log", f->dir, id);
	fp = fopen(path, "r");
	if (fp == NULL) {
		buf[0] = '\0';
		return 0;
	}
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return n;
}

/* A remote worker's log upload: absolute offsets, overlap skipped, a gap
 * refused with the size, a stale or missing claim refused, mode 0640. */
static void
test_log_append(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c, c2;
	json_t *job, *job2;
	char id[JS_ID_SIZE], buf[256], path[600];
	uint64_t size = 99;
	struct stat st;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	/* pending: no claim holds */
	assert_int_equal(js_spool_log_append(f->sp, id, 1, 0, "x", 1, &size), -1);
	assert_int_equal(errno, ESTALE);
	assert_false(exists(f, id, "log"));
	assert_int_equal(js_spool_claim(f->sp, id, "remote:1", &c, &job), 0);
	/* claimed but not started (status still pending in the file) */
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 0, "x", 1,
	    &size), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	/* an empty append creates the log and reports its size */
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 0, "", 0,
	    &size), 0);
	assert_int_equal(size, 0);
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 0,
	    "one\ntwo\n", 8, &size), 0);
	assert_int_equal(size, 8);
	/* a resend overlapping what is stored: only the new bytes */
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 4,
	    "two\nthree\n", 10, &size), 0);
	assert_int_equal(size, 14);
	/* entirely old bytes: nothing changes */
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 0,
	    "one\n", 4, &size), 0);
	assert_int_equal(size, 14);
	assert_int_equal(read_log(f, id, buf, sizeof buf), 14);
	assert_string_equal(buf, "one\ntwo\nthree\n");
	/* a gap: refused, size given, nothing written */
	size = 0;
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 20, "x", 1,
	    &size), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(size, 14);
	assert_int_equal(read_log(f, id, buf, sizeof buf), 14);
	/* a wrong generation, a bad id */
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation + 1, 14,
	    "x", 1, &size), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_log_append(f->sp, "../x", 1, 0, "x", 1,
	    &size), -1);
	assert_int_equal(errno, EINVAL);
	snprintf(path, sizeof path, "%s/%s.log", f->dir, id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* recovered and claimed again: the old claim is fenced, the new one
	 * goes on after the old attempt's bytes */
	age(f, id, "wip", 120);
	assert_int_equal(js_spool_recover(f->sp, 60000, NULL, NULL), 1);
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 14, "late",
	    4, &size), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_claim(f->sp, id, "remote:2", &c2, &job2), 0);
	assert_int_equal(js_spool_start(f->sp, &c2, job2), 0);
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 14, "late",
	    4, &size), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_log_append(f->sp, id, c2.generation, 14,
	    "again\n", 6, &size), 0);
	assert_int_equal(size, 20);
	assert_int_equal(read_log(f, id, buf, sizeof buf), 20);
	assert_string_equal(buf, "one\ntwo\nthree\nagain\n");
	/* finished: fenced */
	assert_int_equal(js_spool_finish(f->sp, &c2, job2, JS_COMPLETED), 0);
	assert_int_equal(js_spool_log_append(f->sp, id, c2.generation, 20, "x", 1,
	    &size), -1);
	assert_int_equal(errno, ESTALE);
	json_decref(job);
	json_decref(job2);
}

/* A symlink planted as the log is never followed by an append. */
static void
test_log_append_symlink(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job;
	char id[JS_ID_SIZE], path[600], target[600];
	uint64_t size;
	struct stat st;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(f->sp, id, "remote:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	snprintf(target, sizeof target, "%s/target", f->dir);
	snprintf(path, sizeof path, "%s/%s.log", f->dir, id);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(js_spool_log_append(f->sp, id, c.generation, 0, "x", 1,
	    &size), -1);
	assert_int_not_equal(lstat(target, &st), 0);
	json_decref(job);
}

/* mtime and size of one job file without reading it. */
static void
test_stat(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], path[600];
	int64_t m = 0;
	off_t size = 0;
	struct stat st;

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	age(f, id, "pending", 100);
	assert_int_equal(js_spool_stat(f->sp, id, JS_PENDING, &m, &size), 0);
	snprintf(path, sizeof path, "%s/%s.pending", f->dir, id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(size, st.st_size);
	assert_int_equal(m, (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000);
	assert_true(js_now_ms() - m >= 99000);
	assert_int_equal(js_spool_stat(f->sp, id, JS_WIP, &m, &size), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(js_spool_stat(f->sp, "x", JS_PENDING, &m, &size), -1);
	assert_int_equal(errno, EINVAL);
}

/* Recovery of one job: only when its lease expired. */
/* A job whose cancel was requested and whose processor then died ends
 * cancelled at recovery: it never runs again (before, it went back to
 * .pending with the request beside it). */
static void
test_recover_cancel_requested(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job, *p;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_claim(f->sp, id, "remote:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_cancel(f->sp, id, "by a test", NULL), -1);
	assert_int_equal(errno, EINPROGRESS);
	assert_true(exists(f, id, "cancel"));
	age(f, id, "wip", 120);
	assert_int_equal(js_spool_recover_job(f->sp, id, 60000, NULL, NULL), 1);
	assert_false(exists(f, id, "wip"));
	assert_false(exists(f, id, "pending"));
	assert_false(exists(f, id, "cancel"));
	assert_true(exists(f, id, "cancelled"));
	p = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(p, "status"), "cancelled");
	assert_non_null(strstr(js_job_str(p, "error"), "cancelled"));
	json_decref(p);
	/* the lost run's late finish is fenced */
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), -1);
	json_decref(job);
}

static void
test_recover_job(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_recover_job(f->sp, id, 60000, NULL, NULL), 0);
	assert_int_equal(js_spool_claim(f->sp, id, "remote:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_recover_job(f->sp, id, 60000, NULL, NULL), 0);
	assert_true(exists(f, id, "wip"));
	age(f, id, "wip", 120);
	assert_int_equal(js_spool_recover_job(f->sp, id, 60000, NULL, NULL), 1);
	assert_true(exists(f, id, "pending"));
	assert_false(exists(f, id, "wip"));
	assert_int_equal(js_spool_recover_job(f->sp, "../x", 1, NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	json_decref(job);
}

/* A remote worker's heartbeat: only under its own claim. */
static void
test_heartbeat_gen(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	json_t *job;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_heartbeat_gen(f->sp, id, 1), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_claim(f->sp, id, "remote:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	age(f, id, "wip", 120);
	assert_int_equal(js_spool_heartbeat_gen(f->sp, id, c.generation + 1), -1);
	assert_int_equal(errno, ESTALE);
	/* the refused heartbeat did not refresh the lease */
	assert_int_equal(js_spool_recover(f->sp, 60000, NULL, NULL), 1);
	assert_int_equal(js_spool_heartbeat_gen(f->sp, id, c.generation), -1);
	assert_int_equal(errno, ESTALE);
	json_decref(job);
	assert_int_equal(js_spool_claim(f->sp, id, "remote:2", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	age(f, id, "wip", 120);
	assert_int_equal(js_spool_heartbeat_gen(f->sp, id, c.generation), 0);
	assert_int_equal(js_spool_recover(f->sp, 60000, NULL, NULL), 0);
	assert_true(exists(f, id, "wip"));
	assert_int_equal(js_spool_heartbeat_gen(f->sp, "nope", 1), -1);
	assert_int_equal(errno, EINVAL);
	json_decref(job);
}

/* js_spool_locate and js_spool_read_current follow a job as it moves. */
static void
test_locate(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	enum js_state st;
	json_t *job, *cur;
	char id[JS_ID_SIZE];

	snprintf(id, sizeof id, "%s", tu_submit_text(f->sp, "{\"command\":[\"true\"]}"));
	assert_int_equal(js_spool_locate(f->sp, id, &st), 0);
	assert_int_equal(st, JS_PENDING);
	assert_int_equal(js_spool_claim(f->sp, id, "host:1", &c, &job), 0);
	assert_int_equal(js_spool_locate(f->sp, id, &st), 0);
	assert_int_equal(st, JS_WIP);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), 0);
	cur = js_spool_read_current(f->sp, id, &st);
	assert_non_null(cur);
	assert_int_equal(st, JS_COMPLETED);
	assert_string_equal(js_job_str(cur, "id"), id);
	json_decref(cur);
	json_decref(js_spool_retrieve(f->sp, id));
	cur = js_spool_read_current(f->sp, id, &st);
	assert_non_null(cur);
	assert_int_equal(st, JS_RETRIEVED);
	json_decref(cur);
	json_decref(job);
	assert_int_equal(js_spool_remove(f->sp, id), 0);
	assert_int_equal(js_spool_locate(f->sp, id, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_null(js_spool_read_current(f->sp, id, &st));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(js_spool_locate(f->sp, "../x", &st), -1);
	assert_int_equal(errno, EINVAL);
}

/* A listing of the spool directory and tmp/ with each file's content, to
 * show that nothing changed. */
static char *
spool_state(struct tu_spool *f)
{
	char cmd[700], *out = calloc(1, 65536);
	FILE *p;
	size_t n;

	assert_non_null(out);
	snprintf(cmd, sizeof cmd, "cd '%s' && for x in * tmp/*; do "
	    "[ -f \"$x\" ] && [ \"$x\" != jobs.lock ] && "
	    "echo \"$x $(cksum < \"$x\")\"; done; true", f->dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 65535, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

/* Out of file descriptors (EMFILE): every operation that needs one fails
 * with EMFILE, and none leaves a trace: the spool is as it was, and works
 * again once descriptors are free. */
static void
test_no_fds(void **state)
{
	struct tu_spool *f = *state;
	char pend[JS_ID_SIZE], run[JS_ID_SIZE], *before, *after;
	struct js_claim c, c2;
	struct rlimit old, rl;
	struct js_entry *list;
	enum js_state st;
	uint64_t size;
	json_t *job, *job2 = NULL, *j, *v, *in;
	size_t n;
	int lowest;

	snprintf(run, sizeof run, "%s", tu_submit_text(f->sp, "{\"shell\":\"true\"}"));
	assert_int_equal(js_spool_claim(f->sp, run, "host:1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	snprintf(pend, sizeof pend, "%s", tu_submit_text(f->sp, "{\"shell\":\"true\"}"));
	assert_int_equal(js_spool_log_append(f->sp, run, c.generation, 0, "ab",
	    2, &size), 0);
	in = json_pack("{s:s}", "shell", "echo new");
	v = js_job_validate(in, err, sizeof err);
	json_decref(in);
	assert_non_null(v);
	j = js_job_new(v, NULL, "owner", NULL);
	json_decref(v);
	assert_non_null(j);
	json_object_set_new(job, "exit_code", json_integer(0));
	before = spool_state(f);
	lowest = dup(0);
	assert_true(lowest >= 0);
	assert_int_equal(close(lowest), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = (rlim_t)lowest;
#define EMFILE_INT(call) do { \
		errno = 0; \
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0); \
		int r_ = (call); \
		int e_ = errno; \
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0); \
		if (r_ != -1 || e_ != EMFILE) \
			fail_msg("%s: %d (%s), not -1/EMFILE", #call, r_, \
			    strerror(e_)); \
	} while (0)
#define EMFILE_PTR(call) do { \
		errno = 0; \
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0); \
		json_t *p_ = (call); \
		int e_ = errno; \
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0); \
		if (p_ != NULL || e_ != EMFILE) \
			fail_msg("%s: %p (%s), not NULL/EMFILE", #call, \
			    (void *)p_, strerror(e_)); \
	} while (0)
	EMFILE_INT(js_spool_submit(f->sp, j));
	EMFILE_INT(js_spool_submit_many(f->sp, &j, 1));
	EMFILE_PTR(js_spool_read(f->sp, pend, &st));
	EMFILE_PTR(js_spool_read_current(f->sp, run, &st));
	EMFILE_INT(js_spool_heartbeat_gen(f->sp, run, c.generation));
	EMFILE_INT(js_spool_log_append(f->sp, run, c.generation, 2, "cd", 2,
	    &size));
	EMFILE_INT(js_spool_finish(f->sp, &c, job, JS_COMPLETED));
	EMFILE_INT(js_spool_cancel(f->sp, pend, "no", NULL));
	EMFILE_INT(js_spool_list(f->sp, ~0u, 0, &list, &n));
	EMFILE_INT(js_spool_log_open(f->sp, run, 0));
	EMFILE_INT(js_spool_recover(f->sp, 0, NULL, NULL));
	after = spool_state(f);
	assert_string_equal(after, before);
	free(after);
	/* a claim that cannot read the job is not the job's fault: it is
	 * never failed (it was: "invalid job file, moved to .failed") */
	EMFILE_INT(js_spool_claim(f->sp, pend, "host:2", &c2, &job2));
	assert_null(job2);
	assert_false(exists(f, pend, "failed"));
	assert_true(exists(f, pend, "pending") || exists(f, pend, "wip"));
	if (exists(f, pend, "wip"))	/* unclaimed by lease recovery */
		assert_int_equal(js_spool_recover_job(f->sp, pend, 0, NULL,
		    NULL), 1);
	assert_true(exists(f, pend, "pending"));
#undef EMFILE_INT
#undef EMFILE_PTR
	/* and all of it works again */
	assert_int_equal(js_spool_log_append(f->sp, run, c.generation, 2, "cd",
	    2, &size), 0);
	assert_int_equal(size, 4);
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), 0);
	assert_int_equal(js_spool_submit(f->sp, j), 0);
	assert_int_equal(js_spool_cancel(f->sp, pend, "no", NULL), 0);
	assert_true(exists(f, run, "completed"));
	assert_true(exists(f, pend, "cancelled"));
	assert_true(exists(f, js_job_str(j, "id"), "pending"));
	free(before);
	json_decref(job);
	json_decref(j);
}

/* the start time (lib/sched) at the claim: a hand-written delay counts
 * from the file's mtime and is stored as run_at; a claim before it puts
 * the file back with its times; a cancel asked for meanwhile wins; the
 * scheduling fields change only while pending */
static void
test_start_time(void **state)
{
	struct tu_spool *f = *state;
	const char *a = "4b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	const char *b = "5b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	const char *hwait = "{\"shell\":\"true\",\"delay\":\"1h\"}";
	const char *hlater = "{\"shell\":\"true\",\"run_at\":"
	    "\"2999-01-01T00:00:00Z\"}";
	char path[600];
	struct stat st0, st1;
	struct js_claim c;
	json_t *job, *u;
	int64_t ms;

	hand_submit(f, a, hwait, strlen(hwait));
	snprintf(path, sizeof path, "%s/%s.pending", f->dir, a);
	assert_int_equal(stat(path, &st0), 0);
	assert_int_equal(js_spool_claim(f->sp, a, "A:1", &c, &job), -1);
	assert_int_equal(errno, EAGAIN);
	assert_null(job);
	assert_false(exists(f, a, "wip"));
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_mtim.tv_sec, st0.st_mtim.tv_sec);
	assert_int_equal(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec);
	/* written 2 h ago: its hour has passed */
	age(f, a, "pending", 7200);
	assert_int_equal(js_spool_claim(f->sp, a, "A:1", &c, &job), 0);
	assert_null(json_object_get(job, "delay"));
	assert_int_equal(js_time_parse(js_job_str(job, "run_at"), &ms), 0);
	assert_true(ms < js_now_ms() - 3000000);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_FAILED), 0);
	json_decref(job);
	/* pending only: priority and start time of a final job */
	u = json_pack("{s:i}", "priority", 3);
	assert_null(js_spool_update(f->sp, a, u));
	assert_int_equal(errno, EBUSY);
	json_decref(u);

	/* a cancel request left while the claim held it: cancelled */
	hand_submit(f, b, hlater, strlen(hlater));
	snprintf(path, sizeof path, "%s/%s.cancel", f->dir, b);
	{
		int fd = open(path, O_WRONLY | O_CREAT, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(js_spool_claim(f->sp, b, "A:1", &c, &job), -1);
	assert_int_equal(errno, ENOENT);
	assert_true(exists(f, b, "cancelled"));
	assert_false(exists(f, b, "pending"));
	assert_false(exists(f, b, "wip"));
	assert_false(exists(f, b, "cancel"));
	/* a PUT of priority and start time of a waiting job: runs now */
	b = "6b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
	hand_submit(f, b, hwait, strlen(hwait));
	u = json_pack("{s:i,s:n}", "priority", 4, "run_at");
	job = js_spool_update(f->sp, b, u);
	json_decref(u);
	assert_non_null(job);
	assert_int_equal(js_job_int(job, "priority", 0), 4);
	assert_true(json_is_null(json_object_get(job, "run_at")));
	assert_null(json_object_get(job, "delay"));
	json_decref(job);
	assert_int_equal(js_spool_claim(f->sp, b, "A:1", &c, &job), 0);
	assert_int_equal(js_job_int(job, "priority", 0), 4);
	json_decref(job);
}

struct gc_writer {
	struct js_spool *sp;
	pthread_barrier_t *go;
	int n, k, failed;
};

static void *
gc_write(void *arg)
{
	struct gc_writer *w = arg;
	char name[64];
	int i;

	pthread_barrier_wait(w->go);
	for (i = 0; i < w->n; i++) {
		snprintf(name, sizeof name, "gc-%d-%d.json", w->k, i);
		if (js_spool_write_file(w->sp, name, "{}\n", 3, 0) < 0)
			w->failed++;
	}
	return NULL;
}

/* Group commit: one writer after another gets a directory sync each;
 * four writing at once share them (fewer syncs than writes), and every
 * file is there; a volatile spool never syncs. */
static void
test_group_commit(void **state)
{
	struct tu_spool *f = *state;
	struct gc_writer w[4];
	pthread_barrier_t go;
	pthread_t t[4];
	unsigned long long s0;
	struct js_spool *vol;
	char path[600];
	int i, k;

	s0 = js_spool_syncs(f->sp);
	for (i = 0; i < 10; i++) {
		snprintf(path, sizeof path, "one-%d.json", i);
		assert_int_equal(js_spool_write_file(f->sp, path, "{}\n", 3, 0),
		    0);
	}
	assert_int_equal(js_spool_syncs(f->sp), s0 + 10);
	/* relaxed writes ask for none */
	assert_int_equal(js_spool_write_file(f->sp, "relaxed.json", "{}\n", 3,
	    JS_RELAXED), 0);
	assert_int_equal(js_spool_syncs(f->sp), s0 + 10);

	assert_int_equal(pthread_barrier_init(&go, NULL, 4), 0);
	s0 = js_spool_syncs(f->sp);
	for (k = 0; k < 4; k++) {
		w[k] = (struct gc_writer){ f->sp, &go, 25, k, 0 };
		assert_int_equal(pthread_create(&t[k], NULL, gc_write, &w[k]),
		    0);
	}
	for (k = 0; k < 4; k++) {
		assert_int_equal(pthread_join(t[k], NULL), 0);
		assert_int_equal(w[k].failed, 0);
	}
	pthread_barrier_destroy(&go);
	assert_true(js_spool_syncs(f->sp) - s0 < 100);
	assert_true(js_spool_syncs(f->sp) - s0 >= 1);
	for (k = 0; k < 4; k++)
		for (i = 0; i < 25; i++) {
			snprintf(path, sizeof path, "%s/gc-%d-%d.json", f->dir,
			    k, i);
			assert_int_equal(access(path, F_OK), 0);
		}

	vol = js_spool_open(f->dir, JS_SPOOL_VOLATILE, err, sizeof err);
	assert_non_null(vol);
	assert_int_equal(js_spool_write_file(vol, "vol.json", "{}\n", 3, 0),
	    0);
	assert_int_equal(js_spool_sync(vol), 0);
	assert_int_equal(js_spool_syncs(vol), 0);
	js_spool_close(vol);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_locate),
		TU_SPOOL_TEST(test_open),
		TU_SPOOL_TEST(test_check_vanished),
		TU_SPOOL_TEST(test_submit_read),
		TU_SPOOL_TEST(test_bad_ids),
		TU_SPOOL_TEST(test_claim_finish),
		TU_SPOOL_TEST(test_fencing),
		TU_SPOOL_TEST(test_annotate),
		TU_SPOOL_TEST(test_max_attempts),
		TU_SPOOL_TEST(test_recover_after_finish_crash),
		TU_SPOOL_TEST(test_requeue),
		TU_SPOOL_TEST(test_cancel),
		TU_SPOOL_TEST(test_retrieve),
		TU_SPOOL_TEST(test_update),
		TU_SPOOL_TEST(test_edit),
		TU_SPOOL_TEST(test_remove_and_log),
		TU_SPOOL_TEST(test_log_symlink),
		TU_SPOOL_TEST(test_invalid_pending),
		TU_SPOOL_TEST(test_list_and_clean_tmp),
		TU_SPOOL_TEST(test_submit_many),
		TU_SPOOL_TEST(test_claim_race),
		TU_SPOOL_TEST(test_reader_never_sees_partial),
		TU_SPOOL_TEST(test_crash_during_publish),
		TU_SPOOL_TEST(test_log_append),
		TU_SPOOL_TEST(test_log_append_symlink),
		TU_SPOOL_TEST(test_heartbeat_gen),
		TU_SPOOL_TEST(test_stat),
		TU_SPOOL_TEST(test_recover_cancel_requested),
		TU_SPOOL_TEST(test_recover_job),
		TU_SPOOL_TEST(test_no_fds),
		TU_SPOOL_TEST(test_start_time),
		TU_SPOOL_TEST(test_group_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
