/*
 * idem.h - Idempotency-Key records for the apiserver (SPEC §4 POST).
 *
 * SPOOL/idem/<hash>   one small file per (token name, key): the job id the
 *                     key first created, then the token name and the key
 *                     (checked on read, so a hash collision is detected).
 * A record older than JS_IDEM_TTL_MS is stale and replaced by a new use of
 * the same key.  Records are written with the spool's atomic primitive
 * (js_spool_write_file, no replace), so of two concurrent requests with the
 * same key exactly one reserves it.
 */
#ifndef JS_IDEM_H
#define JS_IDEM_H

#include "spool.h"

#define JS_IDEM_TTL_MS (24LL * 3600 * 1000)

/*
 * Reserves key for owner (may be "" without tokens) and job id.  Returns 0
 * if this call reserved it.  -1/EEXIST: the key is taken; prev holds the
 * job id it was used for.  -1/EILSEQ: a record with the same hash belongs
 * to another (owner, key).  Other errno: the record could not be written.
 */
int js_idem_reserve(struct js_spool *sp, const char *owner, const char *key,
    const char id[JS_ID_SIZE], char prev[JS_ID_SIZE]);
/* Drops a reservation (the submission failed).  Returns 0 or -1. */
int js_idem_release(struct js_spool *sp, const char *owner, const char *key);

#endif
