/*
 * idem.h - Idempotency-Key records for the apiserver (jobspool-apiserver(8), POST /api/v1/jobs).
 *
 * SPOOL/idem/<hash>   one small file per (token name, key), <hash> 32 hex
 *                     digits: four lines, the job id the key first
 *                     created, the token name, the key (both checked on
 *                     read, so a hash collision is detected) and the
 *                     SHA-256 of the request's job (a record without it,
 *                     from an older version, matches any body).
 * A record older than JS_IDEM_TTL_MS is stale and replaced by a new use of
 * the same key; jobspool-cleaner removes records older than its
 * --idem-age (js_idem_expire).  Records are written with the spool's
 * atomic primitive (js_spool_write_file, no replace), so of two concurrent
 * requests with the same key exactly one reserves it; a stale record is
 * only removed under the lock js_spool_lock() gives for "idem/<hash>", so
 * that the cleaner cannot remove a record written again meanwhile.
 */
#ifndef JS_IDEM_H
#define JS_IDEM_H

#include <sys/types.h>

#include "spool.h"

#define JS_IDEM_DIR "idem"
#define JS_IDEM_TTL_MS (24LL * 3600 * 1000)

/*
 * Reserves key for owner (may be "" without tokens), job id and the
 * request's digest (text, e.g. the hex SHA-256 of the job; NULL: none).
 * Returns 0 if this call reserved it.  -1/EEXIST: the key is taken; prev
 * holds the job id it was used for and *same is 1 if it was used with the
 * same digest (or either has none), 0 if with another.  -1/EILSEQ: a
 * record with the same hash belongs to another (owner, key).  Other
 * errno: the record could not be written.
 */
int js_idem_reserve(struct js_spool *sp, const char *owner, const char *key,
    const char *digest, const char id[JS_ID_SIZE], char prev[JS_ID_SIZE],
    int *same);
/* Drops a reservation (the submission failed).  Returns 0 or -1. */
int js_idem_release(struct js_spool *sp, const char *owner, const char *key);

/*
 * Removes the records of SPOOL/idem/ whose mtime is older than age_ms
 * (each checked again under its lock); with dry_run only counts them.
 * Calls fn (if not NULL) with each one's name ("idem/<hash>") and size.
 * Entries of idem/ that are not records are left alone.  Returns the
 * number (>= 0; 0 without idem/), or -1 with errno set.
 */
int js_idem_expire(struct js_spool *sp, int64_t age_ms, int dry_run,
    void (*fn)(const char *name, off_t size, void *arg), void *arg);

#endif
