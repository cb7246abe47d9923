/*
 * sched.h - the scheduling rules of jobspool, in one place.  The apiserver's
 * claim index (remote workers) and the processor's queue (local runs) hold
 * jobs in their own containers, but decide with these functions, so both
 * kinds of processor take the same job next.
 *
 *   claim order   a higher "priority" first; equal priorities in submission
 *                 order ("seq"); the id breaks a tie (never in practice).
 *   eligibility   a job is ready once its "not_before" (retry backoff) has
 *                 passed, and a processor may take it when it has every one
 *                 of the job's "labels".
 *   leases        a .wip whose heartbeat (mtime) is older than the lease
 *                 belongs to a dead processor and may be recovered.
 *   final         completed, failed, cancelled and retrieved are final: the
 *                 job will not run again and its outcome is recorded.
 *
 * Pure functions: no allocation, no I/O, nothing printed.
 */
#ifndef JS_SCHED_H
#define JS_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "job.h"

/* What the claim order looks at of one pending job. */
struct js_sched_key {
	long long priority;
	long long seq;		/* submission order */
	const char *id;		/* tie-break; may be NULL */
};

/* <0 if a is claimed before b, >0 if after, 0 if they are the same job. */
int js_sched_cmp(const struct js_sched_key *a, const struct js_sched_key *b);

/* Whether a job with not_before_ms (0: none) may start at now_ms. */
int js_sched_ready(int64_t not_before_ms, int64_t now_ms);

/* Whether a processor with the labels plabels[0..np) may take a job that
 * asks for the labels jlabels[0..nj): every job label must be among the
 * processor's (a job with no labels runs anywhere). */
int js_sched_labels_ok(const char *const *jlabels, size_t nj,
    const char *const *plabels, size_t np);

/* The same for a job's JSON "labels" member (absent or null: none).  A
 * value that is not an array of label words (js_label_valid) matches: the
 * claim then fails the job with the validator's error instead of leaving
 * it waiting for a processor that cannot exist. */
int js_sched_job_labels_ok(const json_t *job, const char *const *plabels,
    size_t np);

/* Whether a lease whose last heartbeat was at heartbeat_ms has expired at
 * now_ms (both wall clock, ms) for a lease of lease_ms. */
int js_sched_lease_expired(int64_t heartbeat_ms, int64_t lease_ms,
    int64_t now_ms);

/* Whether a job in state st is final (see above); JS_FINAL_MASK is the
 * same set without JS_RETRIEVED (the files that still await a client). */
int js_sched_final(enum js_state st);

#endif
