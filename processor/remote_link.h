/*
 * remote_link.h - inside the link process of remote mode (remote.h says
 * what it does for the processor).  Its files, each using only those
 * below it:
 *
 *   remote_link.c    the process: start and stop, signals, inotify on the
 *                    local spool, the lease watchdog's clock, joining the
 *                    job threads, the jobs a crash left final
 *   remote_claim.c   the claimer thread: long-polls the server for jobs
 *                    and writes each into the local spool
 *   remote_mirror.c  one thread per claimed job: mirrors its log and end
 *                    to the server, keeps its lease, forwards cancels,
 *                    paces its output; the lease watchdog
 *   remote_job.c     the per-job rules those threads follow: a pure state
 *                    machine (remote_job.h)
 *   remote_spool.c   the local work spool as the threads share it:
 *                    wake-ups on a change, dropping a job's local copy,
 *                    leftovers of an earlier run (remote_prepare)
 *   remote_http.c    the HTTP transport (remote_http.h)
 *
 * Threads: the link's main thread (signals, inotify, the watchdog, joins),
 * one claimer, one thread per job.  Shared state lives in struct link under
 * its mutex; each thread has its own curl easy handle and makes blocking
 * requests with timeouts.  Any change in the local spool (inotify) or in
 * the link's state wakes the threads through one condition variable.
 */
#ifndef JS_REMOTE_LINK_H
#define JS_REMOTE_LINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include "curlfn.h"
#include <jansson.h>

#include "proc.h"
#include "remote_http.h"
#include "spool.h"

struct rjob;

struct link {
	struct proc_config *cfg;
	struct js_spool *sp;
	pid_t parent;
	char worker[320];
	struct rhttp http;
	json_t *labels;			/* the processor's labels */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long change;		/* bumped to wake every thread */
	unsigned long freed;		/* bumped when a -j place frees */
	struct rjob *jobs;		/* every job thread not yet joined */
	size_t active;			/* of them, still running */
	atomic_int no_claim;		/* the loop is shutting down */
	atomic_int shutdown;		/* hand back and exit */
	atomic_int give_up;		/* shutdown took too long: abort */
	int claimer_done;
};

/* ---- remote_spool.c ---- */
/* Wakes every thread waiting for a change. */
void link_wake(struct link *lk);
/* Waits until something changed since *seen (then updated) or ms passed:
 * a link_wake, or a bump of *own (a counter of the caller's own events,
 * under lk->mu; NULL: none). */
void link_wait(struct link *lk, const unsigned long *own,
    unsigned long *seen, int64_t ms);
/* Removes every local trace of job id, whatever its state. */
void link_drop_local(struct js_spool *sp, const char *id);
/* Kills what is left of a local run recorded in a .wip whose processor
 * is gone (run_recorded_group). */
void link_kill_run_group(const json_t *job);

/* ---- remote_mirror.c ---- */
/* Starts the thread of a job claimed with the lease token, the server's
 * log size base and attempts count, lease_ms and hb_ms, asked for at
 * granted (mono ms).  Returns 0, or -1 (nothing started). */
int mirror_start(struct link *lk, const char *id, long long token,
    uint64_t base, long long attempts, int64_t lease_ms, int64_t hb_ms,
    int64_t granted);
/* Wakes the thread of job id, if any (a change of its files here). */
void mirror_poke(struct link *lk, const char *id);
/* Whether a job thread for id is still running. */
int mirror_running(struct link *lk, const char *id);
/* Gives a claimed job straight back to the server (it cannot be run here
 * now), with curl handle c; tries three times. */
void mirror_give_back(struct link *lk, CURL *c, const char *id,
    long long token, const json_t *job);
/* The lease watchdog (see remote_mirror.c); the link's main thread calls
 * it at every turn. */
void mirror_watch_leases(struct link *lk);
/* Joins the job threads that ended.  Returns how many are left. */
size_t mirror_reap(struct link *lk);
/* The body of POST .../finish for a job: its final state (its log_size
 * counted from the server's log size at the claim, base), or pending,
 * back to the server (give_back: with the server's attempts count, the
 * claim's attempt given back; error, if not NULL: why the local copy was
 * killed).  Returns a string to free, or NULL when out of memory. */
char *mirror_finish_body(const json_t *job, long long token, uint64_t base,
    int pending, int give_back, long long attempts, const char *error);

/* ---- remote_claim.c ---- */
/* The claimer thread (its argument: the link). */
void *claim_main(void *arg);
/* The body of POST /api/v1/workers/claim (slots: -j, which the server
 * lists among its processors).  Returns a string to free, or NULL when
 * out of memory. */
char *claim_body(const char *worker, json_t *labels, int exclusive,
    int slots, int64_t wait_ms);
/* A claim's answer: the job and its lease. */
struct claim {
	const char *id;			/* points into the answer */
	long long token, attempts, offset;
	int64_t lease_ms, hb_ms;
};
/* Reads a 200 answer of a claim.  Returns 0, or -1 if it is not a job
 * with a lease. */
int claim_parse(const json_t *ans, struct claim *cl);
/* The local copy of a claimed job: pending, not yet run here, with a
 * "remote" object recording the lease.  NULL when out of memory. */
json_t *claim_local_copy(const json_t *job, const struct claim *cl);

#endif
