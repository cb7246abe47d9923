/* routes_tokens.c - JWTs over the API (jobspool-apiserver(8), JWT):
 * POST /api/v1/tokens mints one (an admin for any name, role and
 * lifetime; any other caller only for itself, never a higher role, never
 * outliving its own token), DELETE /api/v1/tokens/{jti} revokes one
 * (admin; kept in SPOOL/revoked/ by lib/revoke). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "revoke.h"
#include "util.h"

#ifndef MHD_HTTP_CONFLICT
#define MHD_HTTP_CONFLICT 409
#endif

/* A caller's role as a JWT role. */
static enum js_jwt_role
caller_role(const struct caller *who)
{
	return who->admin ? JS_JWT_ADMIN : who->worker ? JS_JWT_WORKER :
	    JS_JWT_USER;
}

/* What a mint request asks for. */
struct mint_ask {
	struct js_jwt_claims cl;
	int64_t ttl;		/* seconds; 0: the default */
};

/* The body {"sub", "role", "ttl"} into m (defaults: the caller's name
 * and role); -1 with a 400 message in msg. */
static int
mint_parse(const json_t *body, const struct caller *who, struct mint_ask *m,
    char *msg, size_t msglen)
{
	const json_t *sub = json_object_get(body, "sub");
	const json_t *role = json_object_get(body, "role");
	const json_t *ttl = json_object_get(body, "ttl");
	const char *k;
	json_t *v;
	int64_t ms;
	int rl;

	memset(m, 0, sizeof *m);
	json_object_foreach((json_t *)body, k, v)
		if (strcmp(k, "sub") != 0 && strcmp(k, "role") != 0 &&
		    strcmp(k, "ttl") != 0) {
			snprintf(msg, msglen, "unknown field '%.40s': a token "
			    "request takes sub, role and ttl", k);
			return -1;
		}
	if (sub != NULL && (!json_is_string(sub) ||
	    !js_jwt_sub_valid(json_string_value(sub), json_string_length(sub)))) {
		snprintf(msg, msglen, "\"sub\" must be a name of 1 to %d letters, "
		    "digits, '-', '_' or '.'", JS_JWT_SUB_MAX);
		return -1;
	}
	snprintf(m->cl.sub, sizeof m->cl.sub, "%.*s", JS_JWT_SUB_MAX,
	    sub != NULL ? json_string_value(sub) : who->name);
	if (m->cl.sub[0] == '\0') {
		snprintf(msg, msglen, "give \"sub\": the name the token is for");
		return -1;
	}
	rl = sub != NULL && strcmp(m->cl.sub, who->name) != 0 ? JS_JWT_USER :
	    (int)caller_role(who);
	if (role != NULL && !json_is_null(role) && (!json_is_string(role) ||
	    (rl = js_jwt_role_parse(json_string_value(role))) < 0)) {
		snprintf(msg, msglen, "\"role\" must be \"admin\", \"worker\", "
		    "\"user\" or null");
		return -1;
	}
	m->cl.role = (enum js_jwt_role)rl;
	if (ttl == NULL || json_is_null(ttl))
		return 0;
	if (json_is_integer(ttl) && json_integer_value(ttl) > 0 &&
	    json_integer_value(ttl) < 100LL * 365 * 86400)
		m->ttl = json_integer_value(ttl);
	else if (json_is_string(ttl) &&
	    js_parse_duration_ms(json_string_value(ttl), &ms) == 0 && ms >= 1000)
		m->ttl = ms / 1000;
	else {
		snprintf(msg, msglen, "\"ttl\" must be a duration of a second or "
		    "more: seconds, or \"90s\", \"15m\", \"1h\", \"7d\"");
		return -1;
	}
	return 0;
}

/* Whether who may have m: 0, or -1 with the status and message. */
static int
mint_allowed(const struct caller *who, const struct api_conf *cf,
    struct mint_ask *m, int64_t now, unsigned *status, char *msg,
    size_t msglen)
{
	int64_t left = who->jwt ? who->exp - now : cf->jwt_max_s;

	*status = MHD_HTTP_FORBIDDEN;
	if (!who->admin && strcmp(m->cl.sub, who->name) != 0) {
		snprintf(msg, msglen, "a token mints tokens only for itself "
		    "('%s'), not for '%s': ask an admin", who->name, m->cl.sub);
		return -1;
	}
	if (m->cl.role > caller_role(who) ||
	    (m->cl.role == JS_JWT_WORKER && !who->worker && !who->admin)) {
		snprintf(msg, msglen, "a token of role %s cannot mint one of role "
		    "%s",
		    js_jwt_role_name(caller_role(who)),
		    js_jwt_role_name(m->cl.role));
		return -1;
	}
	if (m->ttl == 0)
		m->ttl = cf->jwt_ttl_s < left || who->admin ? cf->jwt_ttl_s : left;
	if (!who->admin && m->ttl > left) {
		snprintf(msg, msglen, "a token cannot mint one that outlives it: "
		    "yours has %lld s left, %lld s asked", (long long)left,
		    (long long)m->ttl);
		return -1;
	}
	if (m->ttl > cf->jwt_max_s) {
		*status = MHD_HTTP_BAD_REQUEST;
		snprintf(msg, msglen, "\"ttl\" is longer than this server's "
		    "--jwt-max-ttl (%lld s)", (long long)cf->jwt_max_s);
		return -1;
	}
	return 0;
}

/* 201 with the token and what it says; Location names its revocation. */
static enum MHD_Result
minted(struct MHD_Connection *c, const struct js_jwt_claims *cl,
    const char *tok)
{
	char loc[200], exp[JS_TIME_SIZE];
	struct MHD_Response *resp;
	size_t len;
	json_t *j;

	js_time_format(cl->exp * 1000, exp);
	j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s}", "token", tok, "sub",
	    cl->sub, "role", js_jwt_role_name(cl->role), "jti", cl->jti, "iat",
	    (json_int_t)cl->iat, "exp", (json_int_t)cl->exp, "expires_at", exp);
	resp = j != NULL ? reply_json_response_len(j, &len) : NULL;
	if (resp == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	snprintf(loc, sizeof loc, "/api/v1/tokens/%s", cl->jti);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
	return reply_queue_len(c, MHD_HTTP_CREATED, resp, len);
}

enum MHD_Result
route_tokens_post(struct api *a, struct MHD_Connection *c, struct req *r)
{
	json_t *body = reply_body_json(c, r);
	int64_t now = js_now_ms() / 1000;
	char msg[300], id[JS_ID_SIZE], *tok = NULL;
	struct mint_ask m;
	unsigned status = MHD_HTTP_BAD_REQUEST;
	int rc = -1;

	if (body == NULL)
		return MHD_YES;
	if (!json_is_object(body))
		snprintf(msg, sizeof msg, "the body must be a JSON object: "
		    "{\"sub\": NAME, \"role\": ROLE, \"ttl\": DURATION}");
	else
		rc = mint_parse(body, &r->who, &m, msg, sizeof msg);
	json_decref(body);
	if (rc < 0)
		return reply_error(c, status, "%s", msg);
	js_id_new(id);
	snprintf(m.cl.jti, sizeof m.cl.jti, "%s", id);
	m.cl.iat = now;
	pthread_rwlock_rdlock(&a->lock);
	if (a->conf->jwt.n == 0) {
		status = MHD_HTTP_CONFLICT;
		snprintf(msg, sizeof msg, "this server mints no tokens: it was "
		    "started without --jwt-secret-file");
	} else if ((rc = mint_allowed(&r->who, a->conf, &m, now, &status, msg,
	    sizeof msg)) == 0) {
		m.cl.exp = now + m.ttl;
		if ((tok = js_jwt_sign(&a->conf->jwt.k[0], &m.cl)) == NULL) {
			status = MHD_HTTP_SERVICE_UNAVAILABLE;
			snprintf(msg, sizeof msg, "out of memory");
		}
	}
	pthread_rwlock_unlock(&a->lock);
	if (tok == NULL)
		return reply_error(c, status, "%s", msg);
	js_info("token minted for %s (role %s, jti %s, %lld s) by %s", m.cl.sub,
	    js_jwt_role_name(m.cl.role), m.cl.jti, (long long)m.ttl,
	    r->who.name[0] ? r->who.name : "anonymous");
	rc = minted(c, &m.cl, tok);
	explicit_bzero(tok, strlen(tok));
	free(tok);
	return rc;
}

/* A jti as this server's revocations take it: 1 to JS_JWT_JTI_MAX
 * printable ASCII characters. */
static int
jti_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > JS_JWT_JTI_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > '~')
			return 0;
	return 1;
}

enum MHD_Result
route_token_delete(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *jti)
{
	char until[JS_TIME_SIZE];
	int64_t until_s;

	if (!r->who.admin)
		return reply_error(c, MHD_HTTP_FORBIDDEN, "revoking a token needs "
		    "an admin token");
	if (!jti_valid(jti))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "bad token id: a jti "
		    "is 1 to %d printable characters", JS_JWT_JTI_MAX);
	pthread_rwlock_rdlock(&a->lock);
	until_s = js_now_ms() / 1000 + a->conf->jwt_max_s + a->conf->jwt_skew_s;
	pthread_rwlock_unlock(&a->lock);
	if (js_revoke_add(a->sp, jti, until_s, r->who.name[0] ? r->who.name :
	    NULL) < 0)
		return reply_store_errno(a, c, errno, "cannot record the "
		    "revocation");
	js_info("token %s revoked by %s", jti, r->who.name[0] ? r->who.name :
	    "anonymous");
	if (js_revoke_prune(a->sp, js_now_ms() / 1000) < 0)
		js_warn("cannot prune revoked tokens: %s", strerror(errno));
	js_time_format(until_s * 1000, until);
	return reply_json(c, MHD_HTTP_OK, json_pack("{s:s,s:b,s:s}", "jti", jti,
	    "revoked", 1, "kept_until", until));
}
