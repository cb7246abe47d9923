/*
 * pause.h - pausing claims of the whole spool or of one label
 * (jobspool(5), PAUSE).
 *
 * SPOOL/paused               claims of every job are paused
 * SPOOL/paused.d/<label>     claims of jobs that ask for <label> are paused
 *
 * Any regular file counts, whatever it holds (`touch` is enough; the API
 * writes {"paused_at": ..., "by": ...}); removing it resumes.  Processors,
 * local and remote (through the apiserver's claim route), look before
 * each claim and at least once a second while something is paused;
 * running jobs go on.  The rule "are claims of this job paused" is
 * lib/sched's js_sched_paused, the one both programs apply.
 */
#ifndef JS_PAUSE_H
#define JS_PAUSE_H

#include <stddef.h>
#include <jansson.h>

#include "job.h"
#include "spool.h"

#define JS_PAUSE_FILE "paused"
#define JS_PAUSE_DIR "paused.d"
#define JS_PAUSE_RECHECK_MS 500	/* how often a processor looks again */

/* What is paused at one moment. */
struct js_pause {
	int all;			/* SPOOL/paused exists */
	char (*labels)[JS_LABEL_MAX + 1];	/* paused labels, sorted */
	size_t nlabels;
};

/* Reads what is paused into p (free with js_pause_free).  Names in
 * paused.d/ that are not label words are ignored.  0, or -1 with errno
 * (p is then empty). */
int js_pause_read(struct js_spool *sp, struct js_pause *p);
void js_pause_free(struct js_pause *p);
/* Whether anything is paused. */
int js_pause_any(const struct js_pause *p);
/* Whether label (NULL: the whole spool) is paused in p. */
int js_pause_has(const struct js_pause *p, const char *label);

/* Pauses (on 1) or resumes (on 0) label, or the whole spool if label is
 * NULL; by names who did it (may be NULL).  Returns 1 if that changed
 * something, 0 if it was already so, -1 with errno (EINVAL: not a label
 * word). */
int js_pause_set(struct js_spool *sp, const char *label, int on,
    const char *by);

/* p as JSON: {"spool": bool, "labels": [...]}; NULL/ENOMEM. */
json_t *js_pause_json(const struct js_pause *p);

#endif
