/* Unit tests for the processor's pinned claims (lib/spool.h, struct
 * js_pin): the claim checked by the file's inode instead of reading it
 * back, and a final result whose directory sync is the caller's; the start
 * record written by the job's process (js_spool_start_open, _write,
 * _close). */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"
#include "spool.h"

static void
new_job(struct js_spool *sp, char id[JS_ID_SIZE])
{
	tu_submit(sp, "{\"command\":[\"true\"]}", "owner", NULL, id);
}

static void
path_of(struct tu_spool *f, const char *id, const char *ext, char *out,
    size_t len)
{
	snprintf(out, len, "%s/%s.%s", f->dir, id, ext);
}

/* Reads job id, which must be found in state want. */
static json_t *
read_in(struct tu_spool *f, const char *id, enum js_state want)
{
	enum js_state st;
	json_t *got = js_spool_read(f->sp, id, &st);

	assert_non_null(got);
	assert_int_equal(st, want);
	return got;
}

/* Overwrites <id>.wip in place (same inode) with text. */
static void
scribble(struct tu_spool *f, const char *id, const char *text)
{
	char p[600];
	int fd;

	path_of(f, id, "wip", p, sizeof p);
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
	assert_int_equal(close(fd), 0);
}

/* Claims and starts a new job, then annotates its <id>.wip (which
 * replaces the file: the pin no longer matches it). */
static void
started_annotated(struct tu_spool *f, char id[JS_ID_SIZE], struct js_claim *c,
    json_t **job, struct js_pin *pin)
{
	json_t *v;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", c, job, pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, c, *job, pin), 0);
	v = json_string("x");
	assert_int_equal(js_spool_annotate(f->sp, id, c->generation, "note", v),
	    0);
	json_decref(v);
}

/* Claim, start and a relaxed finish, the directory synced by the caller;
 * until js_spool_finish_done (after that sync) the job is still found
 * running; the pin follows the files and is closed by js_spool_unpin. */
static void
test_pin_life(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin = { 123456 };
	struct js_claim c;
	char id[JS_ID_SIZE], p[600];
	json_t *job, *done;
	int first;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_true(pin.wip >= 0);
	first = pin.wip;
	json_object_set_new(job, "pid", json_integer(42));
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	assert_true(pin.wip >= 0);
	/* the claimed file's descriptor was closed (and may be reused) */
	assert_true(pin.wip == first || fcntl(first, F_GETFD) < 0);
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_COMPLETED, &pin,
	    JS_RELAXED), 0);
	/* the final file is in place, not yet durable: still running */
	path_of(f, id, "completed", p, sizeof p);
	assert_int_equal(access(p, F_OK), 0);
	done = read_in(f, id, JS_WIP);
	assert_string_equal(js_job_str(done, "status"), "running");
	json_decref(done);
	assert_int_equal(js_spool_sync(f->sp), 0);
	assert_int_equal(js_spool_finish_done(f->sp, &c, &pin), 0);
	path_of(f, id, "wip", p, sizeof p);
	assert_int_not_equal(access(p, F_OK), 0);
	path_of(f, id, "held", p, sizeof p);
	assert_int_not_equal(access(p, F_OK), 0);
	done = read_in(f, id, JS_COMPLETED);
	assert_string_equal(js_job_str(done, "status"), "completed");
	/* twice: the .wip is gone, nothing to do */
	assert_int_equal(js_spool_finish_done(f->sp, &c, &pin), 0);
	assert_int_equal(js_job_int(done, "pid", 0), 42);
	js_spool_unpin(&pin);
	assert_int_equal(pin.wip, -1);
	js_spool_unpin(&pin);	/* twice: nothing */
	json_decref(done);
	json_decref(job);
}

/* While <id>.wip is the file the processor wrote, it is not read back:
 * a file changed in place (which no program does) goes unnoticed by the
 * pinned finish, and is refused by the unpinned one, which reads it. */
static void
test_pin_no_reread(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin;
	struct js_claim c;
	char id[JS_ID_SIZE];
	json_t *job;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	scribble(f, id, "{\"generation\": 99}\n");
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_COMPLETED, &pin,
	    JS_DURABLE), 0);
	js_spool_unpin(&pin);
	json_decref(job);
}

/* Ages id's <id>.wip by an hour: its lease (any under that) expired. */
static void
lease_expired(struct tu_spool *f, const char *id)
{
	struct timespec ts[2];
	char p[600];

	path_of(f, id, "wip", p, sizeof p);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/* A replaced <id>.wip is read and checked as before: an annotation (same
 * generation) passes, a newer claim after a lease recovery is fenced. */
static void
test_pin_replaced(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin, pin2;
	struct js_claim c, c2;
	char id[JS_ID_SIZE];
	json_t *job, *job2;

	started_annotated(f, id, &c, &job, &pin);
	/* the lease expires; another processor recovers, claims and starts */
	lease_expired(f, id);
	assert_int_equal(js_spool_recover(f->sp, 1000, NULL, NULL), 1);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:2", &c2, &job2, &pin2),
	    0);
	assert_int_equal(js_spool_start_pin(f->sp, &c2, job2, &pin2), 0);
	/* the first processor's result is discarded */
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_COMPLETED, &pin,
	    JS_DURABLE), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(js_spool_finish_pin(f->sp, &c2, job2, JS_FAILED, &pin2,
	    JS_DURABLE), 0);
	js_spool_unpin(&pin);
	js_spool_unpin(&pin2);
	json_decref(job);
	json_decref(job2);
}

/* The annotated file (replaced, same generation) still finishes. */
static void
test_pin_annotated(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin;
	struct js_claim c;
	char id[JS_ID_SIZE];
	json_t *job, *done;

	started_annotated(f, id, &c, &job, &pin);
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_COMPLETED, &pin,
	    JS_DURABLE), 0);
	done = js_spool_read(f->sp, id, NULL);
	assert_string_equal(js_job_str(done, "status"), "completed");
	js_spool_unpin(&pin);
	json_decref(done);
	json_decref(job);
}

/* A lost claim leaves no pin. */
static void
test_pin_lost_claim(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin, pin2;
	struct js_claim c, c2;
	char id[JS_ID_SIZE];
	json_t *job, *job2;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	pin2.wip = 77;
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:2", &c2, &job2, &pin2),
	    -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(pin2.wip, -1);
	js_spool_unpin(&pin);
	json_decref(job);
}


static int
exists(struct tu_spool *f, const char *id, const char *ext)
{
	char p[600];

	path_of(f, id, ext, p, sizeof p);
	return access(p, F_OK) == 0;
}

static ino_t
inode(struct tu_spool *f, const char *id, const char *ext)
{
	char p[600];
	struct stat st;

	path_of(f, id, ext, p, sizeof p);
	assert_int_equal(stat(p, &st), 0);
	return st.st_ino;
}

/* Empties <id>.wip as a power loss may, and reads the job: from its
 * <id>.held, running. */
static json_t *
read_emptied(struct tu_spool *f, const char *id)
{
	json_t *got;

	scribble(f, id, "");
	got = read_in(f, id, JS_WIP);
	assert_string_equal(js_job_str(got, "id"), id);
	return got;
}

/* The start record is written without a data sync; the claimed file is
 * kept as <id>.held until the run ends, and read in place of a .wip that
 * a power loss emptied. */
static void
test_pin_held(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin;
	struct js_claim c;
	char id[JS_ID_SIZE];
	enum js_state st;
	json_t *job, *got;
	ino_t claimed;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	claimed = inode(f, id, "wip");
	assert_false(exists(f, id, "held"));
	json_object_set_new(job, "pid", json_integer(4242));
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	assert_true(exists(f, id, "held"));
	assert_true(inode(f, id, "held") == claimed);
	assert_true(inode(f, id, "wip") != claimed);
	/* the claimed file, exchanged out of <id>.wip, is not left in tmp/ */
	assert_int_equal(tu_tmp_files(f), 0);
	/* the start record is what a reader sees */
	got = js_spool_read(f->sp, id, &st);
	assert_non_null(got);
	assert_int_equal(js_job_int(got, "pid", 0), 4242);
	json_decref(got);
	/* a power loss took its data: the job is read from .held */
	got = read_emptied(f, id);
	assert_int_equal(js_job_int(got, "pid", 0), 0);
	json_decref(got);
	/* half a record is no better */
	scribble(f, id, "{\"id\":");
	got = js_spool_read(f->sp, id, &st);
	assert_non_null(got);
	assert_string_equal(js_job_str(got, "id"), id);
	json_decref(got);
	js_spool_unpin(&pin);
	json_decref(job);
}

/* .held goes when the run ends: finished, requeued, or its claim found
 * lost with no .wip left; a new claimer's .held is left alone. */
static void
test_pin_held_dropped(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin, pin2;
	struct js_claim c, c2;
	char id[JS_ID_SIZE], wip[600], pend[600];
	json_t *job, *job2;

	/* finished */
	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	assert_true(exists(f, id, "held"));
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_FAILED, &pin,
	    JS_DURABLE), 0);
	assert_false(exists(f, id, "held"));
	assert_true(exists(f, id, "failed"));
	js_spool_unpin(&pin);
	json_decref(job);

	/* requeued */
	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	assert_int_equal(js_spool_requeue(f->sp, &c, job, 0, 0), 0);
	assert_false(exists(f, id, "held"));
	assert_true(exists(f, id, "pending"));
	js_spool_unpin(&pin);
	json_decref(job);

	/* claimed again (a crash left .held beside it): the new claimer's
	 * hold replaces it; the first run, its claim lost, leaves it */
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	path_of(f, id, "wip", wip, sizeof wip);
	path_of(f, id, "pending", pend, sizeof pend);
	assert_int_equal(rename(wip, pend), 0);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:2", &c2, &job2, &pin2),
	    0);
	assert_int_equal(js_spool_start_pin(f->sp, &c2, job2, &pin2), 0);
	assert_true(inode(f, id, "held") != inode(f, id, "wip"));
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_COMPLETED, &pin,
	    JS_DURABLE), -1);
	assert_int_equal(errno, ESTALE);
	assert_true(exists(f, id, "held"));
	/* the second claim's run is lost too: its .wip taken away */
	assert_int_equal(unlink(wip), 0);
	assert_int_equal(js_spool_finish_pin(f->sp, &c2, job2, JS_COMPLETED,
	    &pin2, JS_DURABLE), -1);
	assert_int_equal(errno, ESTALE);
	assert_false(exists(f, id, "held"));
	js_spool_unpin(&pin);
	js_spool_unpin(&pin2);
	json_decref(job);
	json_decref(job2);
}

/* A claim reads what was pending, never a crash's leftover .held: a
 * pending file that is not JSON fails as such. */
static void
test_pin_held_not_claimed(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin;
	struct js_claim c;
	char id[JS_ID_SIZE], p[600], q[600];
	json_t *job;
	FILE *fp;

	new_job(f->sp, id);
	path_of(f, id, "pending", p, sizeof p);
	path_of(f, id, "held", q, sizeof q);
	assert_int_equal(link(p, q), 0);	/* a good copy, left over */
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("{not json", fp);
	assert_int_equal(fclose(fp), 0);	/* (the same inode: both bad) */
	assert_int_equal(unlink(q), 0);
	fp = fopen(q, "w");
	assert_non_null(fp);
	fprintf(fp, "{\"id\":\"%s\",\"command\":[\"true\"]}", id);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin),
	    -1);
	assert_int_equal(errno, EBADMSG);
	json_decref(job);
	json_decref(read_in(f, id, JS_FAILED));
	assert_false(exists(f, id, "held"));
}

/* The whole of SPOOL/<id>.<ext> (static buffer). */
static const char *
slurp(struct tu_spool *f, const char *id, const char *ext)
{
	char p[600];

	path_of(f, id, ext, p, sizeof p);
	return tu_slurp(p);
}

/* Whether f's filesystem exchanges names (renameat2 RENAME_EXCHANGE),
 * tried on two files of its tmp/. */
static int
can_exchange(struct tu_spool *f)
{
	char a[600], b[600];
	int fd, rc;

	snprintf(a, sizeof a, "%s/tmp/xa", f->dir);
	snprintf(b, sizeof b, "%s/tmp/xb", f->dir);
	assert_true((fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);
	assert_true((fd = open(b, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	close(fd);
	rc = renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0;
	assert_int_equal(unlink(a), 0);
	assert_int_equal(unlink(b), 0);
	return rc;
}

/* The record in three steps: the text the child adds pid and pid_start to
 * is the job's (keys in order), the file is what js_job_dump would write,
 * the pin holds it, the claimed file is kept as .held; a pid_start not
 * known is left out; a claim lost before is refused. */
static void
test_start_split(void **state)
{
	struct tu_spool *f = *state;
	struct js_start st;
	struct js_pin pin;
	struct js_claim c;
	char id[JS_ID_SIZE];
	json_t *job, *back;
	size_t len;
	char *want;

	char claimed[600];
	ino_t claimed_ino;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	snprintf(claimed, sizeof claimed, "%s", slurp(f, id, "wip"));
	claimed_ino = inode(f, id, "wip");
	/* an earlier run's pid goes: the new one is added at the end */
	json_object_set_new(job, "pid", json_integer(7));
	assert_int_equal(js_spool_start_open(f->sp, &c, job, &pin, &st), 0);
	assert_null(json_object_get(job, "pid"));
	assert_true(st.lock >= 0 && st.fd >= 0);
	assert_int_equal(js_spool_start_write(&st, 4321, 98765), 0);
	/* the record took the claimed file's name by an exchange where the
	 * filesystem has it: the claimed file is in tmp/ until the close
	 * removes it, and stays as <id>.held */
	assert_int_equal(st.exchanged, can_exchange(f));
	assert_int_equal(tu_tmp_files(f), st.exchanged);
	assert_true(inode(f, id, "wip") != claimed_ino);
	assert_int_equal(js_spool_start_close(&st, job, &pin), 0);
	assert_int_equal(tu_tmp_files(f), 0);
	assert_int_equal(st.lock, -1);
	assert_true(pin.wip >= 0);
	assert_true(exists(f, id, "held"));
	assert_true(inode(f, id, "held") == claimed_ino);
	assert_string_equal(slurp(f, id, "held"), claimed);
	assert_int_equal(js_job_int(job, "pid", 0), 4321);
	assert_int_equal(js_job_int(job, "pid_start", 0), 98765);
	want = js_job_dump(job, &len);
	assert_non_null(want);
	assert_string_equal(slurp(f, id, "wip"), want);
	free(want);
	{
		enum js_state rst;
		back = js_spool_read(f->sp, id, &rst);
	}
	assert_non_null(back);
	assert_true(json_equal(back, job));
	json_decref(back);
	/* the pin is the record: a finish needs no read back */
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_COMPLETED, &pin,
	    0), 0);
	js_spool_unpin(&pin);
	json_decref(job);

	/* pid_start not known: left out; a record not written leaves
	 * nothing in tmp/ and the job as claimed */
	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_open(f->sp, &c, job, &pin, &st), 0);
	assert_int_equal(js_spool_start_close(&st, job, &pin), -1);
	assert_int_equal(tu_tmp_files(f), 0);
	assert_null(json_object_get(job, "pid"));
	assert_int_equal(js_spool_start_open(f->sp, &c, job, &pin, &st), 0);
	assert_int_equal(js_spool_start_write(&st, 55, -1), 0);
	assert_int_equal(js_spool_start_close(&st, job, &pin), 0);
	assert_null(json_object_get(job, "pid_start"));
	assert_non_null(strstr(slurp(f, id, "wip"), ",\"pid\":55}\n"));
	/* the claim lost (a new claimer's generation): refused */
	{
		struct js_claim old = c;
		char p[600];
		FILE *w;
		path_of(f, id, "wip", p, sizeof p);
		w = fopen(p, "w");
		assert_non_null(w);
		fputs("{\"generation\": 99, \"status\": \"running\"}\n", w);
		fclose(w);
		js_spool_unpin(&pin);
		assert_int_equal(js_spool_start_open(f->sp, &old, job, &pin, &st),
		    -1);
		assert_int_equal(errno, ESTALE);
		assert_int_equal(tu_tmp_files(f), 0);
	}
	json_decref(job);
}

/* The apiserver's claim for a remote worker (js_spool_claim and
 * js_spool_start, no pin) keeps the claimed file as <id>.held too: its
 * start record is not synced, a .wip a power loss emptied is read from
 * .held, and .held goes when the run ends or is handed back. */
static void
test_claim_held(void **state)
{
	struct tu_spool *f = *state;
	struct js_claim c;
	char id[JS_ID_SIZE];
	enum js_state st;
	json_t *job, *got;
	ino_t claimed;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim(f->sp, id, "remote-1", &c, &job), 0);
	claimed = inode(f, id, "wip");
	assert_false(exists(f, id, "held"));
	json_object_set_new(job, "worker", json_string("remote-1"));
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_true(exists(f, id, "held"));
	assert_true(inode(f, id, "held") == claimed);
	assert_true(inode(f, id, "wip") != claimed);
	got = js_spool_read(f->sp, id, &st);
	assert_non_null(got);
	assert_string_equal(js_job_str(got, "worker"), "remote-1");
	json_decref(got);
	/* a power loss took the record's data: the job is read from .held */
	json_decref(read_emptied(f, id));
	json_decref(job);

	/* finished by the worker: .held goes */
	new_job(f->sp, id);
	assert_int_equal(js_spool_claim(f->sp, id, "remote-1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_true(exists(f, id, "held"));
	assert_int_equal(js_spool_finish(f->sp, &c, job, JS_COMPLETED), 0);
	assert_false(exists(f, id, "held"));
	assert_false(exists(f, id, "wip"));
	assert_true(exists(f, id, "completed"));
	json_decref(job);

	/* handed back: .held goes */
	new_job(f->sp, id);
	assert_int_equal(js_spool_claim(f->sp, id, "remote-1", &c, &job), 0);
	assert_int_equal(js_spool_start(f->sp, &c, job), 0);
	assert_int_equal(js_spool_requeue(f->sp, &c, job, 1, 0), 0);
	assert_false(exists(f, id, "held"));
	assert_true(exists(f, id, "pending"));
	json_decref(job);
	/* a stale claim's start writes nothing and holds nothing */
	assert_int_equal(js_spool_start(f->sp, &c, job = json_object()), -1);
	assert_false(exists(f, id, "held"));
	assert_false(exists(f, id, "wip"));
	assert_int_equal(tu_tmp_files(f), 0);
	json_decref(job);
}

/* A result written ahead (js_spool_final_ahead) is in tmp/ until
 * js_spool_finish_final puts it in place, and only then does the job get
 * its final fields; one dropped, or refused (the claim lost, or the state
 * not final), leaves nothing in tmp/ and the job as it was. */
static void
test_final_ahead(void **state)
{
	struct tu_spool *f = *state;
	struct js_final fin, fin2;
	struct js_pin pin;
	struct js_claim c, old;
	char id[JS_ID_SIZE];
	json_t *job, *done;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	json_object_set_new(job, "exit_code", json_integer(0));
	assert_int_equal(js_spool_final_ahead(f->sp, &c, job, JS_WIP,
	    &fin), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(tu_tmp_files(f), 0);
	assert_int_equal(js_spool_final_ahead(f->sp, &c, job, JS_COMPLETED,
	    &fin), 0);
	assert_int_equal(js_spool_final_ahead(f->sp, &c, job, JS_FAILED,
	    &fin2), 0);
	assert_int_equal(tu_tmp_files(f), 2);
	assert_false(exists(f, id, "completed"));
	assert_string_equal(js_job_str(job, "status"), "running");
	assert_null(js_job_str(job, "finished_at"));
	js_spool_final_drop(f->sp, &fin2);
	js_spool_final_drop(f->sp, &fin2);	/* (twice: nothing) */
	assert_int_equal(tu_tmp_files(f), 1);
	assert_int_equal(js_spool_finish_final(f->sp, &c, &fin, &pin,
	    JS_DURABLE), 0);
	assert_int_equal(fin.fd, -1);
	assert_int_equal(tu_tmp_files(f), 0);
	assert_string_equal(js_job_str(job, "status"), "completed");
	assert_non_null(js_job_str(job, "finished_at"));
	assert_false(exists(f, id, "wip"));
	assert_false(exists(f, id, "held"));
	done = read_in(f, id, JS_COMPLETED);
	assert_true(json_equal(done, job));
	json_decref(done);
	js_spool_unpin(&pin);
	json_decref(job);

	/* not the claim's (another generation, checked by the file's
	 * content): refused, nothing left */
	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	old = c;
	old.generation++;
	assert_int_equal(js_spool_final_ahead(f->sp, &old, job, JS_FAILED,
	    &fin), 0);
	assert_int_equal(js_spool_finish_final(f->sp, &old, &fin, NULL,
	    JS_RELAXED), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(tu_tmp_files(f), 0);
	assert_false(exists(f, id, "failed"));
	assert_string_equal(js_job_str(job, "status"), "running");
	/* used up: a second put is refused */
	assert_int_equal(js_spool_finish_final(f->sp, &c, &fin, &pin,
	    JS_RELAXED), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(exists(f, id, "wip"));
	js_spool_unpin(&pin);
	json_decref(job);
}

/* A processor lost after its result's rename and before it removed the
 * running job's files: lease recovery removes <id>.wip, <id>.held and
 * <id>.cancel beside the final file, which stays. */
static void
test_recover_beside_final(void **state)
{
	struct tu_spool *f = *state;
	struct js_pin pin;
	struct js_claim c;
	char id[JS_ID_SIZE], p[600];
	json_t *job;
	int fd;

	new_job(f->sp, id);
	assert_int_equal(js_spool_claim_pin(f->sp, id, "h:1", &c, &job, &pin), 0);
	assert_int_equal(js_spool_start_pin(f->sp, &c, job, &pin), 0);
	path_of(f, id, "cancel", p, sizeof p);
	assert_true((fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0660)) >= 0);
	close(fd);
	assert_int_equal(js_spool_finish_pin(f->sp, &c, job, JS_CANCELLED,
	    &pin, JS_RELAXED), 0);
	js_spool_unpin(&pin);
	assert_true(exists(f, id, "wip") && exists(f, id, "held") &&
	    exists(f, id, "cancel") && exists(f, id, "cancelled"));
	lease_expired(f, id);
	assert_int_equal(js_spool_recover(f->sp, 1000, NULL, NULL), 1);
	assert_false(exists(f, id, "wip"));
	assert_false(exists(f, id, "held"));
	assert_false(exists(f, id, "cancel"));
	assert_true(exists(f, id, "cancelled"));
	json_decref(read_in(f, id, JS_CANCELLED));
	json_decref(job);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_pin_life),
		TU_SPOOL_TEST(test_pin_no_reread),
		TU_SPOOL_TEST(test_pin_replaced),
		TU_SPOOL_TEST(test_pin_annotated),
		TU_SPOOL_TEST(test_pin_lost_claim),
		TU_SPOOL_TEST(test_pin_held),
		TU_SPOOL_TEST(test_pin_held_dropped),
		TU_SPOOL_TEST(test_pin_held_not_claimed),
		TU_SPOOL_TEST(test_claim_held),
		TU_SPOOL_TEST(test_start_split),
		TU_SPOOL_TEST(test_final_ahead),
		TU_SPOOL_TEST(test_recover_beside_final),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
