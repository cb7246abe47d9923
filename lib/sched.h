/*
 * sched.h - the scheduling rules of jobspool, in one place.  The apiserver's
 * claim index (remote workers) and the processor's queue (local runs) hold
 * jobs in their own containers, but decide with these functions, so both
 * kinds of processor take the same job next.
 *
 *   claim order   a higher "priority" first; equal priorities in submission
 *                 order ("seq"); the id breaks a tie (never in practice).
 *   start time    a job is ready once its start time has passed: the later
 *                 of "run_at" (asked for at submission as run_at or delay,
 *                 or by a PUT) and "not_before" (retry backoff).  A
 *                 hand-written file may hold "delay" itself: it counts from
 *                 its "created_at", else from when the file was written.
 *   labels        a processor may take a job when it has every one of the
 *                 job's "labels"; an exclusive (dedicated) processor only
 *                 a job that asks for at least one of its labels.
 *   leases        a .wip whose heartbeat (mtime) is older than the lease
 *                 belongs to a dead processor and may be recovered.
 *   final         completed, failed, cancelled and retrieved are final: the
 *                 job will not run again and its outcome is recorded.
 *
 *   waiting       why a pending job is not claimed by any processor: its
 *                 start time, a pause (lib/pause), no live processor or
 *                 none with its labels (lib/registry), else next in line.
 *
 * Pure functions: no I/O, nothing printed; only js_sched_reason_json
 * allocates.
 */
#ifndef JS_SCHED_H
#define JS_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "job.h"
#include "pause.h"
#include "registry.h"

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

/* The same, and for an exclusive processor (--exclusive) also: the job
 * asks for at least one of the processor's labels, so a job without labels
 * never goes to a dedicated machine.  exclusive 0 is js_sched_labels_ok. */
int js_sched_takes(const char *const *jlabels, size_t nj,
    const char *const *plabels, size_t np, int exclusive);
int js_sched_job_takes(const json_t *job, const char *const *plabels,
    size_t np, int exclusive);

/* A job's start time (ms since the epoch; 0: none, it may start at once)
 * from its JSON as stored, or as written by hand: the later of "run_at"
 * and "not_before"; a "delay" of a hand-written file (no run_at) counts
 * from "created_at", else from written_ms (the file's mtime; pass 0 for
 * now).  Malformed values count as none: the claim then fails the job
 * with the validator's error instead of leaving it waiting. */
int64_t js_sched_start_ms(const json_t *job, int64_t written_ms);

/* Why a pending job is not (yet) claimed by a processor; JS_WAIT_NONE if
 * it may be claimed now.  The reasons the issue of scheduling adds
 * (dependencies, pause, processors alive) extend this list. */
enum js_sched_wait {
	JS_WAIT_NONE = 0,
	JS_WAIT_TIME,		/* its start time has not come (*until) */
	JS_WAIT_LABELS,		/* the processor lacks one of its labels */
	JS_WAIT_EXCLUSIVE,	/* a dedicated processor: not one of its labels */
	JS_WAIT_AFTER,		/* a job it depends on (after, after_any) has
				 * not ended (lib/deps; js_sched_reason.after) */
	/* why it waits for every processor (js_sched_why) */
	JS_WAIT_PAUSED,		/* claims of the whole spool are paused */
	JS_WAIT_LABEL_PAUSED,	/* claims of one of its labels are paused */
	JS_WAIT_NO_PROCESSOR,	/* no live processor at all */
	JS_WAIT_NO_LABEL,	/* no live processor has one of its labels */
	JS_WAIT_NO_MATCH,	/* each label is somewhere, but no live
				 * processor takes the job (not all its labels
				 * on one, or dedicated to others) */
	JS_WAIT_NEXT		/* nothing holds it: next in line for a slot */
};
/* The rule every claimer applies: the job as read (written_ms as for
 * js_sched_start_ms), a processor with labels plabels[0..np) and exclusive,
 * at now_ms.  *until (if not NULL) gets the start time for JS_WAIT_TIME. */
enum js_sched_wait js_sched_check(const json_t *job, int64_t written_ms,
    const char *const *plabels, size_t np, int exclusive, int64_t now_ms,
    int64_t *until);

/* Whether claims of job are paused in p (lib/pause): 0 if not; 1 if the
 * whole spool is paused; 2 if one of its labels is, that label then in
 * *label (if not NULL; pointing into job).  The rule the processor and the
 * apiserver's worker claim apply before a claim. */
int js_sched_paused(const struct js_pause *p, const json_t *job,
    const char **label);

/* What js_sched_why looks at besides the job: what is paused and who is
 * alive, at now_ms. */
struct js_sched_world {
	const struct js_pause *pause;	/* NULL: nothing paused */
	const struct js_proc_info *procs;	/* the live processors */
	size_t nprocs;
	int64_t now_ms;
};
/* Why a pending job waits, as js_sched_why found it. */
struct js_sched_reason {
	enum js_sched_wait code;
	int64_t until;		/* JS_WAIT_TIME: its start time (ms) */
	const char *label;	/* JS_WAIT_LABEL_PAUSED, JS_WAIT_NO_LABEL: the
				 * label (points into the job) */
	const char *after;	/* JS_WAIT_AFTER: the job it waits for (set by
				 * the caller from js_spool_deps) */
	int after_state;	/* JS_WAIT_AFTER: that job's state */
};
/* Why the pending job (written_ms as for js_sched_start_ms) waits, for
 * every processor of w, the first that holds: its start time has not come
 * (JS_WAIT_TIME), the spool is paused, one of its labels is paused, no
 * live processor, no live processor has one of its labels, none takes it
 * (JS_WAIT_NO_MATCH), else JS_WAIT_NEXT: next in line.  r may be NULL. */
enum js_sched_wait js_sched_why(const json_t *job, int64_t written_ms,
    const struct js_sched_world *w, struct js_sched_reason *r);
/* The machine-readable word of a reason ("start_time", "paused",
 * "label_paused", "no_processor", "no_label", "no_match", "next",
 * "after" (a dependency has not ended), and
 * for a processor's own check "labels", "exclusive"; "" for
 * JS_WAIT_NONE). */
const char *js_sched_wait_code(enum js_sched_wait code);
/* r as the "waiting" member of a pending job in the API: {"reason": word,
 * "message": a sentence, "until": RFC 3339 (JS_WAIT_TIME), "label": L
 * (if any), "after": the id it waits for (JS_WAIT_AFTER)}.  NULL/ENOMEM. */
json_t *js_sched_reason_json(const struct js_sched_reason *r);

/* Whether a lease whose last heartbeat was at heartbeat_ms has expired at
 * now_ms (both wall clock, ms) for a lease of lease_ms. */
int js_sched_lease_expired(int64_t heartbeat_ms, int64_t lease_ms,
    int64_t now_ms);

/* Whether a job in state st is final (see above); JS_FINAL_MASK is the
 * same set without JS_RETRIEVED (the files that still await a client). */
int js_sched_final(enum js_state st);

#endif
