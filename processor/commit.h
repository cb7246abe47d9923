/*
 * commit.h - writing the final results of jobs off the event loop, with
 * one directory sync for the results that end close together (group
 * commit; jobspool(5), "Atomicity and durability").
 *
 * The loop hands a finished run's result (struct commit_job: the job, its
 * claim and pin, which the loop no longer touches) to the committer's
 * thread, and its slot takes the next job at once.  The thread takes
 * everything queued at once (having waited a few milliseconds at most,
 * while other runs go on, for their results to join).  It writes up to
 * eight of their final files into tmp/, starting their writes to the disk
 * together (js_spool_final_ahead; one at a time where descriptors are
 * scarce, as each holds one meanwhile, and for the rest of the batch once
 * it runs short of them), then puts each in place (js_spool_finish_final
 * with JS_RELAXED, under the job's lock: the claim checked by its pin, the
 * file's data synced, the file renamed into place; <id>.wip stays, so
 * that every lookup still finds the job running); then one js_spool_sync
 * of the spool directory for all of them, and js_spool_finish_done
 * removes each <id>.wip, <id>.held and <id>.cancel.  Only then does it
 * write each job's address into a pipe the loop watches, and only then
 * does the loop tell anyone (log line, notify command): neither the
 * processor nor a reader of the spool is told of a result a power loss
 * could take back.  Results queued while the thread syncs wait for that
 * sync and the next one, no longer.
 *
 * The thread uses lib/spool and jansson on the jobs handed to it only; it
 * blocks every signal, so the loop's signalfd keeps receiving them.
 */
#ifndef JS_COMMIT_H
#define JS_COMMIT_H

#include <jansson.h>

#include "spool.h"

/* One result to record (allocated by the loop, which fills claim, pin,
 * job and state, and frees its run's slot at once); the committer sets rc
 * and err (0, or -1 and the errno of js_spool_final_ahead,
 * js_spool_finish_final or the directory sync) and closes pin. */
struct commit_job {
	struct js_claim claim;
	struct js_pin pin;	/* the run's, handed over */
	json_t *job;		/* the run's job, handed over: the committer's
				 * until it reports */
	enum js_state state;
	int rc, err;
	struct commit_job *next;	/* the committer's */
};

struct commit;

/* The most results written ahead at once, each holding a descriptor
 * until it is put in place. */
#define COMMIT_AHEAD	8

/* Starts the committer's thread; finished jobs are reported on
 * notify_fd, a pipe's write end; ahead: how many results it writes ahead
 * at once (1 to COMMIT_AHEAD; 1 where descriptors are scarce).  NULL with
 * errno (ENOMEM, EAGAIN: no thread now; the caller then records results
 * itself, commit_now). */
struct commit *commit_new(struct js_spool *sp, int notify_fd, size_t ahead);
/* Queues j; others: the runs still going besides j's.  While some are,
 * the thread waits up to JS_GROUP_WAIT_NS (lib/spool.h) for their results
 * to share the batch's sync; with none, it records at once.  Always
 * succeeds. */
void commit_submit(struct commit *c, struct commit_job *j, size_t others);
/* Reads the next recorded job from readfd, the pipe's non-blocking read
 * end.  NULL when none is waiting (errno EAGAIN) or on a read error. */
struct commit_job *commit_read(int readfd);
/* Records j here and now, durably (without a committer). */
void commit_now(struct js_spool *sp, struct commit_job *j);
/* Stops the thread once the queue is empty, and frees c (NULL: nothing).
 * The loop reads the pipe before it relies on the jobs it handed over. */
void commit_free(struct commit *c);

#endif
