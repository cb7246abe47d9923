/* auth.c - bearer tokens (jobspool-apiserver(8)): "NAME:SECRET[:admin|:worker]",
 * compared in constant time; a token sees only the jobs it submitted unless
 * admin; only worker tokens may use /api/v1/workers/... (remote
 * processors). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"

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
auth_check(struct api *a, struct MHD_Connection *c, struct caller *who)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	struct api_conf *cf;
	size_t i, glen;
	int found = -1;

	memset(who, 0, sizeof *who);
	pthread_rwlock_rdlock(&a->lock);
	cf = a->conf;
	if (cf->ntokens == 0) {
		pthread_rwlock_unlock(&a->lock);
		who->admin = 1;
		who->worker = 1;
		return 0;
	}
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		pthread_rwlock_unlock(&a->lock);
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	glen = strlen(h);
	while (glen > 0 && h[glen - 1] == ' ')
		glen--;
	if (glen == 0) {
		pthread_rwlock_unlock(&a->lock);
		return -1;
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
	}
	pthread_rwlock_unlock(&a->lock);
	return found >= 0 ? 0 : -1;
}

int
auth_visible(const struct caller *who, const json_t *job)
{
	const char *owner;

	if (who->admin)
		return 1;
	owner = js_job_str(job, "owner");
	return owner != NULL && strcmp(owner, who->name) == 0;
}
