/*
 * deps.h - dependencies between jobs (jobspool(5)), the one home of the
 * rule every claimer applies.
 *
 *   after      ["<id>", ...]: the job starts once every listed job has
 *              completed (exit 0).  One that ends failed or cancelled, or
 *              is gone (removed, or never existed in a hand-written file),
 *              fails the job, with an error naming it; its own dependents
 *              then fail the same way, one after the other.
 *   after_any  ["<id>", ...]: the job starts once every listed job is final,
 *              whatever its outcome; only a job that is gone fails it.
 *   cycle      a job that waits (through pending jobs) for itself fails:
 *              only hand-written files can do that, a submission cannot.
 *
 * A batch (POST /api/v1/batches) may name an earlier job of the same batch
 * as "#N" (N counted from 0), replaced by that job's id before it is
 * validated (js_deps_batch_refs).
 *
 * The rule itself (js_deps_eval) asks the caller's lookup where each
 * dependency is, so it does no I/O; lib/spool's js_spool_deps looks in the
 * spool, under each dependency's lock.
 */
#ifndef JS_DEPS_H
#define JS_DEPS_H

#include <stddef.h>
#include <jansson.h>

#include "job.h"
#include "util.h"

/* What the dependencies of a job say. */
enum js_deps_verdict {
	JS_DEPS_READY = 0,	/* none, or all satisfied: it may start */
	JS_DEPS_WAIT,		/* one has not ended yet (id) */
	JS_DEPS_FAILED		/* it can never start: fail it with why */
};

struct js_deps_result {
	enum js_deps_verdict verdict;
	char id[JS_ID_SIZE];	/* WAIT, FAILED: the dependency that decided
				 * ("" for a malformed list) */
	int outcome;		/* its state (a retrieved job's outcome), or
				 * -1 if there is no such job */
	char why[320];		/* FAILED: the error for the dependent job */
};

/* Where a dependency is.  outcome: its state (enum js_state; a retrieved
 * job's outcome, e.g. JS_COMPLETED), -1 if there is no such job, -2 with
 * errno if it could not be looked up.  pending (may be NULL: no cycle
 * check): the job as a pending file (a new reference), or NULL if it is
 * not pending. */
struct js_deps_lookup {
	int (*outcome)(const char *id, void *arg);
	json_t *(*pending)(const char *id, void *arg);
	void *arg;
};

/* Whether job names any dependency (a non-empty "after" or "after_any"). */
int js_deps_has(const json_t *job);

/* The rule for one dependency in state outcome (as in js_deps_lookup):
 * any is set for after_any. */
enum js_deps_verdict js_deps_rule(int any, int outcome);

/* Decides for the job with id self (its file's name): the first failed
 * dependency in list order wins over any that is waited for.  0 with *r
 * set, -1 with errno if a lookup failed. */
int js_deps_eval(const char *self, const json_t *job,
    const struct js_deps_lookup *lk, struct js_deps_result *r);

/* The dependency ids of job, "after" then "after_any", each once: calls
 * fn(id, any, arg) for each string of the lists (ids not checked); stops
 * and returns fn's value when it is not 0. */
int js_deps_foreach(const json_t *job,
    int (*fn)(const char *id, int any, void *arg), void *arg);

/*
 * A batch job's references to earlier jobs of its batch: a copy of sub
 * (a new reference) in which each "#N" of "after" and "after_any" is the
 * "id" of earlier[N], for N < the size of earlier (the jobs of the batch
 * before this one, each an object holding its "id"); other values are
 * left for the validator.  NULL with err (errno EINVAL, or ENOMEM) when a
 * "#N" names no earlier job of the batch (itself, a later one: a cycle).
 */
json_t *js_deps_batch_refs(const json_t *sub, const json_t *earlier,
    char *err, size_t errlen);

#endif
