/* auth.c - bearer tokens (jobspool-apiserver(8)): "NAME:SECRET[:admin|:worker]",
 * compared in constant time, and JWTs signed with one of the
 * --jwt-secret-file secrets (lib/jwt) whose jti is not revoked
 * (lib/revoke); a refusal says why (auth_refuse).  A token sees only the
 * jobs it submitted unless admin; only worker tokens may use
 * /api/v1/workers/... (remote processors). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "log.h"
#include "revoke.h"
#include "util.h"

void
auth_free_tokens(struct api_token *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(t[i].name);
		if (t[i].secret != NULL) {
			explicit_bzero(t[i].secret, t[i].secret_len);
			free(t[i].secret);
		}
	}
	free(t);
}

int
auth_parse_token(const char *spec, struct api_token *t, char *err,
    size_t errlen)
{
	const char *c1 = strchr(spec, ':'), *c2;
	size_t nl, sl, i;

	memset(t, 0, sizeof *t);
	if (c1 == NULL)
		goto bad;
	c2 = strchr(c1 + 1, ':');
	nl = (size_t)(c1 - spec);
	sl = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (nl == 0 || nl > 100 || sl == 0 || sl > 4096)
		goto bad;
	if (c2 != NULL && strcmp(c2 + 1, "admin") != 0 &&
	    strcmp(c2 + 1, "worker") != 0)
		goto bad;
	for (i = 0; i < nl; i++) {
		char ch = spec[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			goto bad;
	}
	for (i = 0; i < sl; i++)
		if ((unsigned char)c1[1 + i] <= ' ' || c1[1 + i] == ',')
			goto bad;
	t->name = strndup(spec, nl);
	t->secret = strndup(c1 + 1, sl);
	t->secret_len = sl;
	t->admin = c2 != NULL && strcmp(c2 + 1, "admin") == 0;
	t->worker = c2 != NULL && strcmp(c2 + 1, "worker") == 0;
	if (t->name == NULL || t->secret == NULL) {
		free(t->name);
		free(t->secret);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "bad token '%.40s...': expected NAME:SECRET, "
	    "NAME:SECRET:admin or NAME:SECRET:worker (NAME of letters, digits, "
	    "'-', '_', '.'; SECRET without spaces or commas)", spec);
	return -1;
}

/* Compares in time that depends only on the lengths of the secrets the
 * server holds, never on where the first difference is. */
static int
ct_equal(const char *given, size_t glen, const char *secret, size_t slen)
{
	unsigned char diff = (unsigned char)(glen != slen);
	size_t i;

	for (i = 0; i < slen; i++)
		diff |= (unsigned char)(secret[i] ^ given[i < glen ? i : 0]);
	return diff == 0;
}

int
auth_configured(const struct api_conf *cf)
{
	return cf->ntokens > 0 || cf->jwt.n > 0;
}

static const char *const extra_names[] = { "missing", "unknown_token",
    "error" };

const char *
auth_reason_name(int reason)
{
	if (reason >= AUTH_MISSING && reason < AUTH_NREASONS)
		return extra_names[reason - AUTH_MISSING];
	return js_jwt_reason((enum js_jwt_status)reason);
}

/* Whether the bearer h (glen bytes) looks like a JWT: two dots. */
static int
jwt_shaped(const char *h, size_t glen)
{
	const char *d = memchr(h, '.', glen);

	return d != NULL && memchr(d + 1, '.', glen - (size_t)(d + 1 - h)) != NULL;
}

/* The JWT h (glen bytes) against cf's secrets and the spool's
 * revocations: AUTH_OK with who filled, or the reason. */
static int
jwt_check(struct api *a, const struct api_conf *cf, const char *h,
    size_t glen, struct caller *who, char *why, size_t whylen)
{
	struct js_jwt_claims cl;
	int st, rv;

	st = js_jwt_verify(h, glen, &cf->jwt, js_now_ms() / 1000,
	    cf->jwt_skew_s, cf->jwt_max_s, &cl, why, whylen);
	if (st != JS_JWT_OK)
		return st;
	if ((rv = js_revoke_has(a->sp, cl.jti)) != 0) {
		if (rv < 0) {
			snprintf(why, whylen, "cannot read the spool's revoked "
			    "tokens: %s", strerror(errno));
			return AUTH_ERROR;
		}
		snprintf(why, whylen, "the token (jti %.64s) was revoked", cl.jti);
		return JS_JWT_REVOKED;
	}
	who->authed = 1;
	who->jwt = 1;
	who->admin = cl.role == JS_JWT_ADMIN;
	who->worker = cl.role == JS_JWT_WORKER;
	who->exp = cl.exp;
	snprintf(who->name, sizeof who->name, "%s", cl.sub);
	snprintf(who->jti, sizeof who->jti, "%s", cl.jti);
	js_debug("JWT of %s (role %s, jti %s) accepted", cl.sub,
	    js_jwt_role_name(cl.role), cl.jti[0] ? cl.jti : "none");
	return AUTH_OK;
}

/* The bearer of the Authorization header h (NULL: none) into *glen;
 * NULL if there is none. */
static const char *
bearer(const char *h, size_t *glen)
{
	size_t n;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n > 0 && h[n - 1] == ' ')
		n--;
	*glen = n;
	return n > 0 ? h : NULL;
}

int
auth_check(struct api *a, struct MHD_Connection *c, struct caller *who,
    char *why, size_t whylen)
{
	const char *h;
	struct api_conf *cf;
	size_t i, glen = 0;
	int found = -1, rc;

	memset(who, 0, sizeof *who);
	h = bearer(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION), &glen);
	pthread_rwlock_rdlock(&a->lock);
	cf = a->conf;
	if (!auth_configured(cf)) {
		pthread_rwlock_unlock(&a->lock);
		who->admin = 1;
		who->worker = 1;
		return AUTH_OK;
	}
	if (h == NULL) {
		pthread_rwlock_unlock(&a->lock);
		snprintf(why, whylen, "missing token: send 'Authorization: "
		    "Bearer TOKEN'");
		return AUTH_MISSING;
	}
	/* every token is compared, whatever matched */
	for (i = 0; i < cf->ntokens; i++)
		if (ct_equal(h, glen, cf->tokens[i].secret, cf->tokens[i].secret_len))
			found = (int)i;
	if (found >= 0) {
		who->authed = 1;
		who->admin = cf->tokens[found].admin;
		who->worker = cf->tokens[found].worker;
		snprintf(who->name, sizeof who->name, "%s", cf->tokens[found].name);
		rc = AUTH_OK;
	} else if (cf->jwt.n > 0 && jwt_shaped(h, glen)) {
		rc = jwt_check(a, cf, h, glen, who, why, whylen);
	} else {
		snprintf(why, whylen, "wrong token: it is none of this server's "
		    "tokens%s", cf->jwt.n > 0 ? ", nor a JWT" : "");
		rc = AUTH_UNKNOWN;
	}
	pthread_rwlock_unlock(&a->lock);
	return rc;
}

enum MHD_Result
auth_refuse(struct api *a, struct MHD_Connection *c, int reason,
    const char *why)
{
	struct MHD_Response *resp;
	char hdr[160];
	size_t len;
	json_t *j;

	(void)a;	/* counted by the caller (http.c): auth.c names no metrics */
	if (reason == AUTH_ERROR)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", why);
	j = json_pack("{s:s,s:s}", "error", why, "reason",
	    auth_reason_name(reason));
	resp = j != NULL ? reply_json_response_len(j, &len) : NULL;
	if (resp == NULL)
		return MHD_NO;
	/* RFC 6750 section 3: no error code when no credentials were sent */
	if (reason == AUTH_MISSING)
		snprintf(hdr, sizeof hdr, "Bearer realm=\"jobspool\"");
	else
		snprintf(hdr, sizeof hdr, "Bearer realm=\"jobspool\", "
		    "error=\"invalid_token\", error_description=\"%s\"",
		    auth_reason_name(reason));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, hdr);
	return reply_queue_len(c, MHD_HTTP_UNAUTHORIZED, resp, len);
}

int
auth_visible(const struct caller *who, const json_t *job)
{
	return auth_visible_owner(who, js_job_str(job, "owner"));
}

int
auth_visible_owner(const struct caller *who, const char *owner)
{
	return who->admin || (owner != NULL && strcmp(owner, who->name) == 0);
}
