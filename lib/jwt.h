/*
 * jwt.h - JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (HS256, RFC
 * 7515), the only algorithm jobspool takes: verifying a bearer token,
 * signing a new one, and reading the secrets from their file
 * (jobspool-apiserver(8), JWT).  HMAC-SHA256 is nettle's (digest.h says
 * why nettle); base64url and the claims are here.  Nothing prints.
 *
 * A token is BASE64URL(header) "." BASE64URL(claims) "." BASE64URL(mac),
 * without padding; the header must say {"alg": "HS256"} (any other alg,
 * "none" included, is refused before any signature is computed) and may
 * say "typ": "JWT"; a "crit" header is refused.  The signature is checked
 * against every secret given, each in constant time and all of them
 * whatever matched.  The claims: "sub" (the owner name, required: letters,
 * digits, '-', '_', '.'), "exp" (required, seconds since the epoch),
 * "nbf" and "iat" (optional), "role" ("admin" or "worker"; absent: an
 * ordinary user), "jti" (optional; what a revocation names).
 */
#ifndef JS_JWT_H
#define JS_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JS_JWT_SECRET_MIN 32	/* bytes of a secret, at least */
#define JS_JWT_SECRETS_MAX 16	/* lines of a secret file */
#define JS_JWT_MAX 8192		/* a longer token is malformed */
#define JS_JWT_SUB_MAX 100	/* as a static token's name */
#define JS_JWT_JTI_MAX 128

/* Why a token was refused; js_jwt_reason names each for /metrics and the
 * WWW-Authenticate header. */
enum js_jwt_status {
	JS_JWT_OK = 0,
	JS_JWT_MALFORMED,	/* not three base64url parts of JSON objects,
				 * or a claim missing or of the wrong type */
	JS_JWT_ALG,		/* alg is not HS256 (none, HS512, RS256...) */
	JS_JWT_SIGNATURE,	/* no secret gives its signature */
	JS_JWT_EXPIRED,		/* now >= exp + skew */
	JS_JWT_NOT_YET,		/* now + skew < nbf, or iat in the future */
	JS_JWT_TOO_LONG,	/* exp further away than the longest lifetime */
	JS_JWT_REVOKED,		/* its jti was revoked (set by the caller) */
	JS_JWT_NSTATUS
};
/* "ok", "malformed", "unknown_algorithm", "bad_signature", "expired",
 * "not_yet_valid", "too_long_lived", "revoked". */
const char *js_jwt_reason(enum js_jwt_status s);

enum js_jwt_role { JS_JWT_USER = 0, JS_JWT_WORKER, JS_JWT_ADMIN };
/* "user", "worker", "admin"; and back (-1 for another word). */
const char *js_jwt_role_name(enum js_jwt_role r);
int js_jwt_role_parse(const char *s);

struct js_jwt_claims {
	char sub[JS_JWT_SUB_MAX + 1];
	enum js_jwt_role role;
	char jti[JS_JWT_JTI_MAX + 1];	/* "" if none */
	int64_t exp;			/* seconds since the epoch */
	int64_t nbf, iat;		/* 0 if absent */
};

struct js_jwt_key {
	unsigned char *key;
	size_t len;
};
struct js_jwt_keys {
	struct js_jwt_key *k;		/* k[0] signs, all verify */
	size_t n;
};

/* Whether s (len bytes) is a valid subject: 1 to JS_JWT_SUB_MAX letters,
 * digits, '-', '_', '.'. */
int js_jwt_sub_valid(const char *s, size_t len);

/* Verifies the token tok (len bytes) at time now (seconds) allowing skew
 * seconds of clock difference, and max_life seconds as the furthest exp
 * may be from now (0: any); fills *c (JS_JWT_OK) and says why not in why
 * otherwise, never quoting a secret. */
enum js_jwt_status js_jwt_verify(const char *tok, size_t len,
    const struct js_jwt_keys *keys, int64_t now, int64_t skew,
    int64_t max_life, struct js_jwt_claims *c, char *why, size_t whylen);

/* A new token of claims c signed with key (nbf and iat written when not
 * 0, jti when not ""): malloc'ed, NULL with errno (ENOMEM). */
char *js_jwt_sign(const struct js_jwt_key *key, const struct js_jwt_claims *c);

/* Reads the secrets of path: one per line, blank lines and lines starting
 * with '#' skipped, trailing spaces and CR dropped; each at least
 * JS_JWT_SECRET_MIN bytes, at most JS_JWT_SECRETS_MAX of them.  A file
 * that others may read or write is refused.  0, or -1 with the reason in
 * err (never quoting a secret). */
int js_jwt_keys_load(const char *path, struct js_jwt_keys *keys, char *err,
    size_t errlen);
/* Wipes and frees the secrets (keys itself is not freed). */
void js_jwt_keys_free(struct js_jwt_keys *keys);

/* base64url without padding: encode len bytes into out (which must hold
 * JS_B64URL_SIZE(len) bytes, NUL-terminated); decode in (inlen chars)
 * into out (at most outcap bytes): its length, or -1 if in is not strict
 * base64url (padding, another character, non-zero trailing bits). */
#define JS_B64URL_SIZE(len) ((4 * (len) + 2) / 3 + 1)
void js_b64url_encode(const unsigned char *in, size_t len, char *out);
long js_b64url_decode(const char *in, size_t inlen, unsigned char *out,
    size_t outcap);

#endif
