/*
 * job.h - a job as JSON (jobspool(5)): validation of what clients submit,
 * the stored fields every state file holds, and the state names.
 *
 * A job is a jansson object.  Functions returning json_t * return a new
 * reference the caller must json_decref(); they return NULL and write a
 * message a person can act on into err (errlen bytes) when the input is
 * not a valid job.
 */
#ifndef JS_JOB_H
#define JS_JOB_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* A job's state is the extension of its file in the spool. */
enum js_state {
	JS_PENDING = 0,	/* <id>.pending:   waiting to be claimed */
	JS_WIP,		/* <id>.wip:       claimed, running (status "running") */
	JS_COMPLETED,	/* <id>.completed: ran and exited 0 */
	JS_FAILED,	/* <id>.failed:    non-zero exit, signal, timeout, error */
	JS_CANCELLED,	/* <id>.cancelled: cancelled before or while running */
	JS_RETRIEVED,	/* <id>.retrieved: final and fetched; status keeps outcome */
	JS_NSTATES
};

#define JS_STATE_BIT(s) (1u << (s))
#define JS_FINAL_MASK (JS_STATE_BIT(JS_COMPLETED) | JS_STATE_BIT(JS_FAILED) | \
	JS_STATE_BIT(JS_CANCELLED))

/* File extension of a state ("pending", "wip", ...). */
const char *js_state_ext(enum js_state s);
/* The "status" field for a state ("running" for JS_WIP; NULL for
 * JS_RETRIEVED, whose status keeps the outcome). */
const char *js_state_status(enum js_state s);
/* Parses a file extension; returns -1 if it is no state. */
int js_state_from_ext(const char *ext);
/* Parses a status as a client may write it, case-insensitively, including
 * the seed API's names (ENQUEUED, RUNNING, FINISHED, CANCELLED) and
 * "retrieved"; returns the state or -1. "running" -> JS_WIP. */
int js_state_from_status(const char *status);

/* Limits on what a job may hold. */
#define JS_NAME_MAX 256
#define JS_LABELS_MAX 32		/* words in "labels" */
#define JS_LABEL_MAX 64			/* bytes in one label */
#define JS_DESCRIPTION_MAX 65536
#define JS_ARGV_MAX 4096
#define JS_ENV_MAX 1024
#define JS_PRIORITY_MAX 1000000
#define JS_ATTEMPTS_MAX 100
/* stored "attempts" and "generation" of a job file (js_job_normalize) */
#define JS_COUNTER_MAX ((1LL << 53) - 1)
#define JS_TIMEOUT_MAX (10LL * 365 * 86400)
#define JS_DELAY_MAX_MS (10LL * 365 * 86400 * 1000)	/* "delay" */
#define JS_AFTER_MAX 64			/* ids in "after", "after_any" */

/* Whether s is a label word, as in a job's "labels" and a processor's
 * --label: 1 to JS_LABEL_MAX letters, digits, '-', '_' and '.'. */
int js_label_valid(const char *s);

/*
 * Validates a submitted job (jobspool(5)) and returns a new object holding
 * exactly the submitted fields, normalised: "docker" is stored as
 * "container", sizes in "limits" become integers of bytes, "timeout" a
 * number of seconds, "run_at" RFC 3339 UTC with milliseconds, and "delay"
 * (a duration from now) is stored as that "run_at".  Unknown fields and
 * fields the server sets ("id",
 * "status", ...) are refused.  Returns NULL with err filled when invalid
 * (errno EINVAL), or when memory ran out while checking (errno ENOMEM).
 */
json_t *js_job_validate(const json_t *submitted, char *err, size_t errlen);

/*
 * Builds the stored job for a validated submission: a fresh id (or the
 * given one), status "pending", created_at/updated_at now, attempts 0,
 * null result fields, owner and batch (either may be NULL), and "seq"
 * (nanoseconds, strictly increasing within the process) which orders jobs
 * of equal priority.  Returns a new object, or NULL on allocation failure.
 */
json_t *js_job_new(const json_t *validated, const char *id, const char *owner,
    const char *batch);

/*
 * Checks a job read from a state file, e.g. one an admin wrote by hand
 * into SPOOL/tmp and renamed to SPOOL/<id>.pending (jobspool(5)): the
 * submitted fields must be valid; stored fields are type-checked; missing
 * stored fields are filled in.  id is the id of the file name; a different
 * "id" inside is an error.  Returns a new, complete job or NULL with err.
 */
json_t *js_job_normalize(const json_t *stored, const char *id, char *err,
    size_t errlen);

/*
 * Checks the body of an update (PUT): an object whose keys are among
 * "name", "description", "metadata", "priority", "run_at" and "delay",
 * each valid by the rule of a submission (js_job_validate's, the same code:
 * a name is a string, never null; "delay" becomes "run_at", now plus the
 * delay; run_at and delay not both).  A new start time also drops the
 * retry backoff "not_before": the time given is the job's start time.
 * Returns 0, or -1 with err and errno EINVAL (ENOMEM: memory ran out).
 */
int js_job_check_update(const json_t *changes, char *err, size_t errlen);
/* The first key of changes that may only change while the job is pending
 * (the scheduling fields "priority", "run_at" and "delay"; changing them
 * later would mean nothing), or NULL if there is none.  A caller refuses
 * such a change of a job in any other state (the apiserver: 409). */
const char *js_job_pending_only(const json_t *changes);
/* Checks changes as js_job_check_update does and, if all are valid, sets
 * them (normalised as a submission's) and "updated_at" in job.  Returns 0,
 * or -1 with err and job unchanged (errno EINVAL; ENOMEM after a failed
 * allocation, when job may be partly changed: discard it). */
int js_job_update(json_t *job, const json_t *changes, char *err,
    size_t errlen);

/*
 * A re-run of a final job (POST /api/v1/jobs/{id}/rerun): a new stored job
 * (js_job_new: fresh id, status pending, attempts 0) with the submitted
 * fields of old (its specification: what runs, how, limits, labels,
 * priority, name, metadata, "run_at"), the same "owner", no batch, and
 * "rerun_of" the old id.  NULL with err and errno EINVAL if old does not
 * hold a valid specification, ENOMEM if memory ran out.
 */
json_t *js_job_rerun(const json_t *old, char *err, size_t errlen);

/* Parses an RFC 3339 time with a time zone: "2026-12-05T15:00:00Z",
 * "2026-12-05T16:00:00.5+01:00" ('t', 'z' and a space for 'T' too; a
 * fraction beyond milliseconds is cut).  Years 1970 to 9999.  Returns 0
 * and sets *ms (milliseconds since the epoch, UTC), or -1. */
int js_rfc3339_parse(const char *s, int64_t *ms);

/* Parses a "delay" value: seconds as a JSON number (90, 1.5) or a
 * duration string ("90", "90s", "15m", "1h30m"), 0 to JS_DELAY_MAX_MS.
 * Returns 0 and sets *ms, or -1. */
int js_job_delay_ms(const json_t *v, int64_t *ms);

/* Sets a string field to the RFC 3339 form of ms (0 for now). */
int js_job_set_time(json_t *job, const char *field, int64_t ms);
/* Returns a string field or NULL; an integer field or dflt. */
const char *js_job_str(const json_t *job, const char *field);
long long js_job_int(const json_t *job, const char *field, long long dflt);

/* Serialises a job for a state file: compact key order as stored, one
 * trailing newline (so `cat` and `jq` are happy).  Caller frees. */
char *js_job_dump(const json_t *job, size_t *len);
/* json_dumps(j, flags) followed by end (NULL: nothing), its length in *len
 * (may be NULL); NULL/ENOMEM when memory runs out.  Use it instead of
 * json_dumps: jansson 2.14's json_dumps ignores a failed append of an
 * object's key and returns the text with that key left out. */
char *js_json_dumps(const json_t *j, size_t flags, const char *end,
    size_t *len);

/* Whether an allocation of jansson failed in the calling thread since the
 * last call (1, or 0); clears the note.  Call it once before a jansson
 * call to start afresh and once after: jansson 2.14 ignores some of its
 * failed allocations (a string loses a character, json_copy a member) and
 * succeeds. */
int js_json_nomem(void);

/* json_deep_copy(v) that fails (NULL/ENOMEM) whenever one of its
 * allocations failed.  Caller decrefs. */
json_t *js_json_deep_copy(const json_t *v);

/* Reads a job from a JSON text (at most len bytes).  Returns NULL with err
 * and errno EBADMSG when it is not a JSON object, ENOMEM (err "out of
 * memory") when memory ran out while reading it. */
json_t *js_job_parse(const char *text, size_t len, char *err, size_t errlen);

#endif
