/*
 * cleaner.h - one cleaning pass over a spool (pass.c), driven by main.c.
 */
#ifndef JS_CLEANER_H
#define JS_CLEANER_H

#include <stdint.h>
#include <stdio.h>

#include "spool.h"

struct cleaner_opts {
	int64_t retrieved_age_ms;	/* .retrieved older than this go */
	int64_t max_age_ms;		/* final, never retrieved; orphans */
	int64_t tmp_age_ms;		/* leftovers in tmp/ */
	int64_t idem_age_ms;		/* Idempotency-Key records in idem/ */
	long long max_rate;		/* jobs removed per second, 0: no limit */
	int dry_run;			/* list (on out), remove nothing */
	FILE *out;			/* where --dry-run lists paths */
};

struct cleaner_stats {
	long long retrieved;	/* retrieved jobs removed */
	long long expired;	/* never retrieved final jobs removed */
	long long orphans;	/* .log/.cancel files without a job removed */
	long long tmp;		/* files removed from tmp/ */
	long long idem;		/* Idempotency-Key records removed */
	long long bytes;	/* bytes freed */
	long long unexpected;	/* entries that are not ours, left alone */
	long long errors;	/* files we failed to remove, and a tmp/ or
				 * idem/ that could not be cleaned */
};

/* Runs one pass.  Returns 0 (errors on single files are counted in
 * st->errors and logged), or -1 if the spool could not be read. */
int cleaner_pass(struct js_spool *sp, const struct cleaner_opts *o,
    struct cleaner_stats *st);

/* Formats the one-line summary into buf. */
void cleaner_summary(char *buf, size_t len, const struct cleaner_stats *st,
    int dry_run);

#endif
