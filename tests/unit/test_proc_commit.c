/* Unit tests for processor/commit.c: final results recorded by the
 * committer's thread, reported back over a pipe only once durable, a lost
 * claim reported with its error, the queue drained by commit_free, and
 * results ending close together sharing one directory sync. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "../../processor/commit.h"

/* A claimed and started job of f's spool as a commit_job (heap, as the
 * loop makes them) to end in state. */
static struct commit_job *
started(struct tu_spool *f, enum js_state state, char id[JS_ID_SIZE])
{
	struct commit_job *j = calloc(1, sizeof *j);

	assert_non_null(j);
	tu_submit(f->sp, "{\"command\":[\"true\"]}", "owner", NULL, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &j->claim,
	    &j->job, &j->pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &j->claim, j->job,
	    &j->pin), 0);
	json_object_set_new(j->job, "exit_code", json_integer(0));
	j->state = state;
	return j;
}

/* A committer of f's spool reporting on a new pipe p (its read end
 * non-blocking: commit_read says EAGAIN when nothing is waiting). */
static struct commit *
committer_ahead(struct tu_spool *f, int p[2], size_t ahead)
{
	struct commit *c;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	c = commit_new(f->sp, p[1], ahead);
	assert_non_null(c);
	return c;
}

static struct commit *
committer(struct tu_spool *f, int p[2])
{
	return committer_ahead(f, p, COMMIT_AHEAD);
}

/* The next report on the pipe, waiting up to 10 s. */
static struct commit_job *
next_report(int rfd)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
	return commit_read(rfd);
}

/* The index in j (of n) of the next report, which must be of one not
 * reported before (*seen, a bit each). */
static int
next_of(int rfd, struct commit_job **j, int n, int *seen)
{
	struct commit_job *r = next_report(rfd);
	int k;

	assert_non_null(r);
	for (k = 0; k < n && j[k] != r; k++)
		;
	assert_true(k < n);
	assert_false(*seen & (1 << k));	/* once each */
	*seen |= 1 << k;
	return k;
}

static void
done(struct commit_job *j)
{
	assert_int_equal(j->pin.wip, -1);	/* the committer closed it */
	json_decref(j->job);
	free(j);
}

/* Three results queued at once: each reported once, all recorded (final
 * file, no .wip), and nothing more on the pipe. */
static void
test_commit_batch(void **state)
{
	struct tu_spool *f = *state;
	enum js_state states[3] = { JS_COMPLETED, JS_FAILED, JS_CANCELLED };
	const char *ext[3] = { "completed", "failed", "cancelled" };
	char ids[3][JS_ID_SIZE], path[600];
	struct commit_job *j[3];
	struct commit *c;
	int p[2], i, seen = 0;

	c = committer(f, p);
	for (i = 0; i < 3; i++)
		j[i] = started(f, states[i], ids[i]);
	for (i = 0; i < 3; i++)
		commit_submit(c, j[i], 0);
	for (i = 0; i < 3; i++) {
		int k = next_of(p[0], j, 3, &seen);
		assert_int_equal(j[k]->rc, 0);
		snprintf(path, sizeof path, "%s/%s.%s", f->dir, ids[k], ext[k]);
		assert_int_equal(access(path, F_OK), 0);
		/* reported once durable: its running files are gone by then */
		snprintf(path, sizeof path, "%s/%s.wip", f->dir, ids[k]);
		assert_int_equal(access(path, F_OK), -1);
		snprintf(path, sizeof path, "%s/%s.held", f->dir, ids[k]);
		assert_int_equal(access(path, F_OK), -1);
	}
	assert_int_equal(seen, 7);
	errno = 0;
	assert_null(commit_read(p[0]));
	assert_int_equal(errno, EAGAIN);
	commit_free(c);
	for (i = 0; i < 3; i++)
		done(j[i]);
	close(p[0]);
	close(p[1]);
}

/* A claim lost before its result is recorded (the job was recovered and
 * claimed again): reported with rc -1 and ESTALE; the other owner's .wip
 * stays, no final file appears. */
static void
test_commit_lost_claim(void **state)
{
	struct tu_spool *f = *state;
	char id[JS_ID_SIZE], wip[600], fin[600];
	struct commit_job *j, *r;
	struct commit *c;
	int p[2], fd;

	c = committer(f, p);
	j = started(f, JS_COMPLETED, id);
	/* another run's file in its place: a new inode */
	snprintf(wip, sizeof wip, "%s/%s.wip", f->dir, id);
	assert_int_equal(unlink(wip), 0);
	fd = open(wip, O_WRONLY | O_CREAT | O_EXCL, 0660);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{}", 2), 2);
	assert_int_equal(close(fd), 0);
	commit_submit(c, j, 0);
	r = next_report(p[0]);
	assert_ptr_equal(r, j);
	assert_int_equal(r->rc, -1);
	assert_int_equal(r->err, ESTALE);
	assert_int_equal(access(wip, F_OK), 0);
	snprintf(fin, sizeof fin, "%s/%s.completed", f->dir, id);
	assert_int_equal(access(fin, F_OK), -1);
	commit_free(c);
	done(j);
	close(p[0]);
	close(p[1]);
}

/* commit_free with results still queued records and reports them first;
 * commit_now records one in the caller's thread, durable. */
static void
test_commit_free_drains(void **state)
{
	struct tu_spool *f = *state;
	char ids[5][JS_ID_SIZE], path[600];
	struct commit_job *j[5], *now;
	struct commit *c;
	int p[2], i, n = 0;

	c = committer(f, p);
	for (i = 0; i < 5; i++)
		j[i] = started(f, JS_COMPLETED, ids[i]);
	for (i = 0; i < 5; i++)
		commit_submit(c, j[i], 0);
	commit_free(c);		/* joins: everything is reported by now */
	while (commit_read(p[0]) != NULL)
		n++;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(n, 5);
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof path, "%s/%s.completed", f->dir, ids[i]);
		assert_int_equal(access(path, F_OK), 0);
		done(j[i]);
	}
	now = started(f, JS_FAILED, ids[0]);
	commit_now(f->sp, now);
	assert_int_equal(now->rc, 0);
	snprintf(path, sizeof path, "%s/%s.failed", f->dir, ids[0]);
	assert_int_equal(access(path, F_OK), 0);
	done(now);
	close(p[0]);
	close(p[1]);
}

static long long
mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* A result queued while another run goes on waits for it, the group
 * commit's bounded wait: alone it is recorded only after JS_GROUP_WAIT_NS
 * (and then it is); with the other's result queued within the wait, both
 * share one directory sync (in one of five tries at least: a loaded
 * machine may keep this thread from the second submit for the whole
 * wait). */
static void
test_commit_gather(void **state)
{
	struct tu_spool *f = *state;
	char a[JS_ID_SIZE], b[JS_ID_SIZE];
	struct commit_job *j, *k;
	unsigned long long s0;
	struct commit *c;
	int p[2], try, shared = 0;
	long long t0;

	c = committer(f, p);
	j = started(f, JS_COMPLETED, a);
	s0 = js_spool_syncs(f->sp);
	t0 = mono_ns();
	commit_submit(c, j, 1);		/* one more run goes on */
	assert_ptr_equal(next_report(p[0]), j);
	assert_true(mono_ns() - t0 >= JS_GROUP_WAIT_NS);
	assert_int_equal(j->rc, 0);
	assert_int_equal(js_spool_syncs(f->sp), s0 + 1);
	done(j);
	for (try = 0; try < 5 && !shared; try++) {
		j = started(f, JS_COMPLETED, a);
		k = started(f, JS_FAILED, b);
		s0 = js_spool_syncs(f->sp);
		commit_submit(c, j, 1);
		commit_submit(c, k, 0);	/* the last one: no more to wait for */
		assert_non_null(next_report(p[0]));
		assert_non_null(next_report(p[0]));
		assert_int_equal(j->rc, 0);
		assert_int_equal(k->rc, 0);
		shared = js_spool_syncs(f->sp) == s0 + 1;
		done(j);
		done(k);
	}
	assert_true(shared);
	commit_free(c);
	close(p[0]);
	close(p[1]);
}

/* n results queued at once to a committer writing ahead at most ahead
 * of them, with only free_fds descriptors free meanwhile (0: no limit):
 * each reported once, recorded, nothing left in tmp/. */
static void
many(struct tu_spool *f, int n, size_t ahead, int free_fds)
{
	struct commit_job *j[12];
	char ids[12][JS_ID_SIZE], path[600];
	struct rlimit old, low;
	struct commit *c;
	int p[2], i, k, seen = 0, lim, nfree;

	assert_true(n <= 12);
	c = committer_ahead(f, p, ahead);
	for (i = 0; i < n; i++)
		j[i] = started(f, JS_COMPLETED, ids[i]);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (free_fds > 0) {
		/* the lowest limit under which free_fds descriptors are free
		 * (descriptors are handed out lowest first) */
		for (lim = 0, nfree = 0; nfree < free_fds; lim++)
			if (fcntl(lim, F_GETFD) < 0)
				nfree++;
		low = old;
		low.rlim_cur = (rlim_t)lim;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	}
	for (i = 0; i < n; i++)
		commit_submit(c, j[i], 0);
	for (i = 0; i < n; i++) {
		k = next_of(p[0], j, n, &seen);
		assert_int_equal(j[k]->rc, 0);
		snprintf(path, sizeof path, "%s/%s.completed", f->dir, ids[k]);
		assert_int_equal(access(path, F_OK), 0);
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(seen, (1 << n) - 1);
	assert_int_equal(tu_tmp_files(f), 0);
	commit_free(c);
	for (i = 0; i < n; i++)
		done(j[i]);
	close(p[0]);
	close(p[1]);
}

/* More results than are written ahead at once, one at a time, and with
 * descriptors for three files only (short of them with three written
 * ahead, the committer drops those and goes one at a time; a put needs
 * one for the job's lock): all recorded, none waits out the shortage. */
static void
test_commit_ahead(void **state)
{
	struct tu_spool *f = *state;
	int64_t t0;

	many(f, 12, COMMIT_AHEAD, 0);
	many(f, 5, 1, 0);
	t0 = js_mono_ms();
	many(f, 6, COMMIT_AHEAD, 3);
	/* (waiting it out would take a second per result) */
	assert_true(js_mono_ms() - t0 < 900);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_commit_batch),
		TU_SPOOL_TEST(test_commit_lost_claim),
		TU_SPOOL_TEST(test_commit_free_drains),
		TU_SPOOL_TEST(test_commit_gather),
		TU_SPOOL_TEST(test_commit_ahead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
