/*
 * jobcache.c - the answer of GET /api/v1/jobs/{id} kept beside the bytes
 * of the job file it was made from.  A GET still opens and reads the file
 * (in the order js_spool_read probes the states), but when its bytes are
 * the ones an answer was made from, that answer is sent again without
 * parsing the JSON and dumping it back (a fifth of a GET's CPU).  The
 * answer is a function of the file's bytes and its state alone (the job
 * js_spool_read_state makes of them, without "seq", dumped compact), so
 * comparing the bytes is the whole validation: nothing is ever stale.
 *
 * What depends on more than the file is not cached: a pending job (why it
 * waits), a final one a GET marks retrieved, ?wait; files that do not parse
 * and every failure go the ordinary way (js_spool_read), which decides the
 * answer as before.  64 slots, direct-mapped by id, files up to 8 KiB: at
 * most about 1 MiB.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "idmap.h"
#include "sched.h"

#define JC_SLOTS 64
#define JC_FILE_MAX 8192

struct jc_entry {
	char id[JS_ID_SIZE];	/* "" if unused */
	enum js_state st;
	char *raw;		/* the file's bytes */
	size_t rawlen;
	char *out;		/* the answer's body */
	size_t outlen;
	char *owner;		/* the job's "owner" string, or NULL */
};

struct jcache {
	struct js_spool *sp;	/* the server's (not ours) */
	pthread_mutex_t mu[JC_SLOTS];
	struct jc_entry e[JC_SLOTS];
};

struct jcache *
jcache_new(struct js_spool *sp)
{
	struct jcache *jc = calloc(1, sizeof *jc);
	int i;

	if (jc == NULL)
		return NULL;
	jc->sp = sp;
	for (i = 0; i < JC_SLOTS; i++)
		pthread_mutex_init(&jc->mu[i], NULL);
	return jc;
}

static void
entry_clear(struct jc_entry *e)
{
	free(e->raw);
	free(e->out);
	free(e->owner);
	memset(e, 0, sizeof *e);
}

void
jcache_free(struct jcache *jc)
{
	int i;

	if (jc == NULL)
		return;
	for (i = 0; i < JC_SLOTS; i++) {
		entry_clear(&jc->e[i]);
		pthread_mutex_destroy(&jc->mu[i]);
	}
	free(jc);
}

static unsigned
slot_of(const char *id)
{
	return (unsigned)(js_hash(JS_HASH_INIT, id, strlen(id)) % JC_SLOTS);
}

/* The answer of a hit: a copy of the body, or NULL (*vis 0: the caller
 * may not see the job). */
static char *
lookup(struct jcache *jc, unsigned k, const char *id, enum js_state st,
    const char *raw, size_t rawlen, const struct caller *who, size_t *outlen,
    int *vis, int *hit)
{
	struct jc_entry *e = &jc->e[k];
	char *out = NULL;

	*hit = 0;
	pthread_mutex_lock(&jc->mu[k]);
	if (e->st == st && e->rawlen == rawlen && strcmp(e->id, id) == 0 &&
	    memcmp(e->raw, raw, rawlen) == 0) {
		*hit = 1;
		*vis = auth_visible_owner(who, e->owner);
		if (*vis && (out = malloc(e->outlen)) != NULL) {
			memcpy(out, e->out, e->outlen);
			*outlen = e->outlen;
		}
	}
	pthread_mutex_unlock(&jc->mu[k]);
	return out;
}

static void
store(struct jcache *jc, unsigned k, const char *id, enum js_state st,
    const char *raw, size_t rawlen, const char *out, size_t outlen,
    const char *owner)
{
	struct jc_entry n = { .st = st, .rawlen = rawlen, .outlen = outlen };

	n.raw = malloc(rawlen > 0 ? rawlen : 1);
	n.out = malloc(outlen);
	n.owner = owner != NULL ? strdup(owner) : NULL;
	if (n.raw == NULL || n.out == NULL || (owner != NULL && n.owner == NULL)) {
		entry_clear(&n);
		return;	/* not cached, no harm */
	}
	memcpy(n.raw, raw, rawlen);
	memcpy(n.out, out, outlen);
	snprintf(n.id, sizeof n.id, "%s", id);
	pthread_mutex_lock(&jc->mu[k]);
	entry_clear(&jc->e[k]);
	jc->e[k] = n;
	pthread_mutex_unlock(&jc->mu[k]);
}

static enum MHD_Result
answer(struct MHD_Connection *c, char *out, size_t len)
{
	struct MHD_Response *resp = reply_text_response(out, len);

	return resp != NULL ? reply_queue_len(c, MHD_HTTP_OK, resp, len) :
	    MHD_NO;
}

int
jcache_get(struct api *a, struct MHD_Connection *c, const struct req *r,
    const char *id, int keep, enum MHD_Result *rc)
{
	struct jcache *jc = a->jcache;
	char raw[JC_FILE_MAX], *out;
	const char *owner;
	size_t rawlen, outlen = 0;
	enum js_state st;
	int vis, hit;
	unsigned k;
	json_t *job;

	if (jc == NULL || !js_id_valid(id) ||
	    js_spool_read_bytes(jc->sp, id, raw, sizeof raw, &rawlen, &st) < 0)
		return 0;	/* the ordinary read decides */
	/* a pending job's answer says why it waits; a final one not yet
	 * retrieved is marked by a GET without peek (route_job_get) */
	if (st == JS_PENDING || (js_sched_final(st) && st != JS_RETRIEVED &&
	    !r->head && !keep))
		return 0;
	k = slot_of(id);
	out = lookup(jc, k, id, st, raw, rawlen, &r->who, &outlen, &vis, &hit);
	if (hit) {
		if (out == NULL)
			return 0;	/* the ordinary way answers (404, 503) */
		*rc = answer(c, out, outlen);
		return 1;
	}
	job = js_spool_job_from_bytes(raw, rawlen, id, st);
	if (job == NULL)
		return 0;
	if (!auth_visible(&r->who, job)) {
		json_decref(job);
		return 0;
	}
	out = reply_json_text(job, &outlen);	/* as reply_json makes it */
	if (out == NULL) {
		json_decref(job);
		return 0;
	}
	owner = js_job_str(job, "owner");
	store(jc, k, id, st, raw, rawlen, out, outlen, owner);
	json_decref(job);
	*rc = answer(c, out, outlen);
	return 1;
}
