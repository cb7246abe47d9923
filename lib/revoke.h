/*
 * revoke.h - revoked JSON Web Tokens, kept in the spool so that a
 * revocation survives a restart and holds for every apiserver of the
 * spool (jobspool(5), REVOKED TOKENS; jobspool-apiserver(8), JWT).
 *
 * SPOOL/revoked/<hash>  one small JSON file per revoked token id (jti):
 *                       {"jti": ..., "until": SECONDS, "revoked_at": ...,
 *                       "by": ...}; <hash> is 32 hex digits of the
 *                       SHA-256 of the jti, so any jti makes a safe name.
 * "until" is when no token with that jti can be valid any more (the
 * apiserver writes now + its longest token lifetime + clock skew); the
 * record is removed after it (js_revoke_prune: the apiserver at start and
 * at each revocation).  Written with the spool's atomic primitive.
 */
#ifndef JS_REVOKE_H
#define JS_REVOKE_H

#include <stdint.h>

#include "spool.h"

#define JS_REVOKE_DIR "revoked"

/* Records jti as revoked until until_s (seconds since the epoch); by
 * names who did it (may be NULL).  0, or -1 with errno (EINVAL: empty
 * jti). */
int js_revoke_add(struct js_spool *sp, const char *jti, int64_t until_s,
    const char *by);
/* 1 if jti is revoked, 0 if not, -1 with errno (the check failed). */
int js_revoke_has(struct js_spool *sp, const char *jti);
/* Removes the records whose "until" is before now_s (and files of
 * revoked/ that are records but cannot be read as one are kept).  The
 * number removed, or -1 with errno. */
int js_revoke_prune(struct js_spool *sp, int64_t now_s);

#endif
