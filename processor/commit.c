/* commit.c - final results written off the event loop, one directory sync
 * per batch (see commit.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "util.h"

struct commit {
	struct js_spool *sp;
	int notify_fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct commit_job *head, *tail;	/* queued, oldest first */
	size_t others;		/* runs still going at the last submit */
	size_t ahead;		/* results written ahead at once */
	int stop;
};

/* A want of descriptors (the loop's runs hold them, and free them as they
 * end) is waited out, RECORD_TRIES times RECORD_PAUSE_NS at most for a
 * result: the record fails so before it changes anything (at the job's
 * lock or its new file), and the result is not lost for it. */
#define RECORD_TRIES	50
#define RECORD_PAUSE_NS	20000000L

#define AHEAD_MAX	COMMIT_AHEAD

/* After a want of descriptors: pauses and returns 1, or 0 when *tries
 * are used up. */
static int
pause_for_fds(int *tries)
{
	const struct timespec pause = { 0, RECORD_PAUSE_NS };

	if (++*tries >= RECORD_TRIES)
		return 0;
	(void)nanosleep(&pause, NULL);
	return 1;
}

/* Writes j's result into tmp/ (fin), its write to the disk started; j->rc
 * and j->err say how it went.  A want of descriptors is waited out with
 * *tries, or, tries NULL, returns 0 at once with nothing written (the
 * caller puts what it wrote ahead first: only it frees those). */
static int
write_ahead(struct js_spool *sp, struct commit_job *j, struct js_final *fin,
    int *tries)
{
	while ((j->rc = js_spool_final_ahead(sp, &j->claim, j->job, j->state,
	    fin)) < 0 && (errno == EMFILE || errno == ENFILE)) {
		if (tries == NULL)
			return 0;
		if (!pause_for_fds(tries))
			break;
	}
	j->err = j->rc < 0 ? errno : 0;
	return 1;
}

/* Puts j's result, written ahead (fin, used up), in place; with
 * JS_RELAXED the caller syncs the directory. */
static void
put(struct js_spool *sp, struct commit_job *j, struct js_final *fin,
    int flags)
{
	int tries = 0;

	if (j->rc < 0)
		return;		/* (not written: j->err says why) */
	while ((j->rc = js_spool_finish_final(sp, &j->claim, fin, &j->pin,
	    flags)) < 0 && (errno == EMFILE || errno == ENFILE) &&
	    pause_for_fds(&tries)) {
		(void)write_ahead(sp, j, fin, &tries);	/* (fin was used up) */
		if (j->rc < 0)
			return;
	}
	j->err = j->rc < 0 ? errno : 0;
}

void
commit_now(struct js_spool *sp, struct commit_job *j)
{
	struct js_final fin;
	int tries = 0;

	(void)write_ahead(sp, j, &fin, &tries);
	put(sp, j, &fin, JS_DURABLE);
	js_spool_unpin(&j->pin);
}

/* Reports j to the loop: its address, one write (atomic on a pipe). */
static void
report(struct commit *c, struct commit_job *j)
{
	/* a pipe holding fewer addresses than the loop has runs cannot be
	 * full; a failed write leaves the run's slot in use, so that its
	 * job is never freed under us (and the loop's end waits) */
	(void)js_write_all(c->notify_fd, &j, sizeof j);
}

/* Records one batch: every result, one directory sync, the reports. */
static void
batch(struct commit *c, struct commit_job *b)
{
	struct js_final fin[AHEAD_MAX];
	struct commit_job *j, *from, *next;
	size_t i, n, ahead = c->ahead;
	int any = 0, e, tries, short_fds;

	/* ahead at a time: all written, their writes to the disk started
	 * together, then each synced and put in place.  Short of descriptors
	 * with some written (which only this thread frees, and a put needs
	 * one more, for the job's lock), those are dropped and the rest of
	 * the batch goes one at a time */
	for (from = b; from != NULL; from = j) {
		short_fds = 0;
		for (j = from, n = 0; j != NULL && n < ahead; j = j->next) {
			tries = 0;
			if (!write_ahead(c->sp, j, &fin[n], n > 0 ? NULL :
			    &tries)) {
				short_fds = 1;
				break;
			}
			n++;
		}
		if (short_fds) {
			for (i = 0; i < n; i++)
				js_spool_final_drop(c->sp, &fin[i]);
			ahead = 1;
			j = from;
			continue;
		}
		for (j = from, i = 0; i < n; j = j->next) {
			put(c->sp, j, &fin[i++], JS_RELAXED);
			any |= j->rc == 0;
		}
	}
	if (any && js_spool_sync(c->sp) < 0) {
		e = errno;
		for (j = b; j != NULL; j = j->next)
			if (j->rc == 0) {
				j->rc = -1;
				j->err = e;
			}
	}
	for (j = b; j != NULL; j = next) {
		next = j->next;
		/* durable now: the job stops being found running.  A .wip
		 * that cannot be removed (EIO, say) is lease recovery's, which
		 * removes a .wip beside a final file; the result stands */
		if (j->rc == 0)
			(void)js_spool_finish_done(c->sp, &j->claim, &j->pin);
		js_spool_unpin(&j->pin);
		report(c, j);
	}
}

/* With c->mu held and a result queued: waits, JS_GROUP_WAIT_NS at most,
 * while other runs are still going, for their results to join the batch
 * (a run that ends alone is recorded at once). */
static void
gather(struct commit *c)
{
	struct timespec until;

	if (c->others == 0 || c->stop ||
	    js_mono_deadline(&until, JS_GROUP_WAIT_NS) < 0)
		return;
	while (c->others > 0 && !c->stop && pthread_cond_clockwait(&c->cv,
	    &c->mu, CLOCK_MONOTONIC, &until) == 0)
		;
}

static void *
committer(void *arg)
{
	struct commit *c = arg;
	struct commit_job *b;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		while (c->head == NULL && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->head != NULL)
			gather(c);
		b = c->head;
		c->head = c->tail = NULL;
		pthread_mutex_unlock(&c->mu);
		if (b == NULL)
			return NULL;	/* stopped, nothing left */
		batch(c, b);
	}
}

struct commit *
commit_new(struct js_spool *sp, int notify_fd, size_t ahead)
{
	struct commit *c = calloc(1, sizeof *c);
	sigset_t all, old;
	int e;

	if (c == NULL)
		return NULL;
	c->sp = sp;
	c->notify_fd = notify_fd;
	c->ahead = ahead < 1 ? 1 : ahead > AHEAD_MAX ? AHEAD_MAX : ahead;
	if ((e = pthread_mutex_init(&c->mu, NULL)) != 0)
		goto fail;
	if ((e = pthread_cond_init(&c->cv, NULL)) != 0) {
		pthread_mutex_destroy(&c->mu);
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&c->thread, NULL, committer, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e == 0)
		return c;
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
fail:
	free(c);
	errno = e;
	return NULL;
}

void
commit_submit(struct commit *c, struct commit_job *j, size_t others)
{
	j->next = NULL;
	pthread_mutex_lock(&c->mu);
	c->others = others;
	if (c->tail != NULL)
		c->tail->next = j;
	else
		c->head = j;
	c->tail = j;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

struct commit_job *
commit_read(int readfd)
{
	return js_read_ptr(readfd);
}

void
commit_free(struct commit *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}
