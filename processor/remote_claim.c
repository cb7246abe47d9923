/*
 * remote_claim.c - the claimer thread of the link process (see
 * remote_link.h): while fewer than -j jobs run here (one whose local run
 * has ended does not count while its end is delivered) it long-polls
 * POST /api/v1/workers/claim, writes each job it gets into the local spool
 * as <id>.pending (with a "remote" object holding the lease) and starts
 * the job's thread (remote_mirror.c).  An unreachable or refusing server
 * is retried with backoff; so is a claimed job that cannot be kept here
 * (a full work directory): it is handed back, and claiming again at once
 * would only take it back from the server in a busy loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "remote_link.h"

char *
claim_body(const char *worker, json_t *labels, int exclusive, int slots,
    int64_t wait_ms)
{
	json_t *req = json_pack("{s:s,s:O}", "worker", worker, "labels", labels);
	char *body;

	if (req == NULL)
		return NULL;
	if (exclusive)	/* a dedicated processor (lib/sched) */
		json_object_set_new(req, "exclusive", json_true());
	if (slots > 0)	/* for the server's list of processors */
		json_object_set_new(req, "slots", json_integer(slots));
	if (wait_ms % 1000 == 0)
		json_object_set_new(req, "wait", json_integer(wait_ms / 1000));
	else
		json_object_set_new(req, "wait",
		    json_real((double)wait_ms / 1000.0));
	body = js_json_dumps(req, JSON_COMPACT, NULL, NULL);
	json_decref(req);
	return body;
}

int
claim_parse(const json_t *ans, struct claim *cl)
{
	const json_t *job = json_object_get(ans, "job");
	const json_t *lease = json_object_get(ans, "lease");

	cl->id = js_job_str(job, "id");
	cl->token = js_job_int(lease, "token", -1);
	cl->lease_ms = js_job_int(lease, "lease_ms", 60000);
	cl->hb_ms = js_job_int(lease, "heartbeat_ms", cl->lease_ms / 3);
	cl->offset = js_job_int(ans, "log_offset", 0);
	cl->attempts = js_job_int(job, "attempts", 1);
	if (cl->id == NULL || !js_id_valid(cl->id) || cl->token < 0 ||
	    cl->offset < 0)
		return -1;
	return 0;
}

json_t *
claim_local_copy(const json_t *job, const struct claim *cl)
{
	json_t *local = json_deep_copy(job);

	if (local == NULL)
		return NULL;
	json_object_set_new(local, "status", json_string("pending"));
	json_object_set_new(local, "attempts",
	    json_integer(cl->attempts > 0 ? cl->attempts - 1 : 0));
	json_object_set_new(local, "worker", json_null());
	json_object_set_new(local, "started_at", json_null());
	json_object_set_new(local, "pid", json_null());
	json_object_set_new(local, "pid_start", json_null());
	json_object_del(local, "not_before");
	json_object_del(local, "run_at");	/* the server's clock decided */
	json_object_del(local, "after");	/* and its spool's dependencies */
	json_object_del(local, "after_any");
	json_object_set_new(local, "remote", json_pack("{s:I,s:I,s:I,s:I,s:I}",
	    "token", (json_int_t)cl->token, "log_offset", (json_int_t)cl->offset,
	    "attempts", (json_int_t)cl->attempts,
	    "lease_ms", (json_int_t)cl->lease_ms,
	    "heartbeat_ms", (json_int_t)cl->hb_ms));
	return local;
}

/* Mirrors a claimed job into the local spool and starts its thread
 * (granted: when the claim was answered, mono ms).  Returns 0, or -1 when
 * the job could not be kept here (handed back, or left to its lease). */
static int
take(struct link *lk, CURL *c, const json_t *ans, int64_t granted)
{
	const json_t *job = json_object_get(ans, "job");
	json_t *local;
	struct claim cl;
	char dur[JS_DURATION_SIZE];

	if (claim_parse(ans, &cl) < 0) {
		js_err("claim: the server's answer is not a job with a lease; "
		    "ignored");
		return 0;
	}
	js_duration_format(cl.lease_ms, dur);
	js_info("job %s: claimed from the server (token %lld, lease %s, "
	    "log at byte %lld)", cl.id, cl.token, dur, cl.offset);
	if (mirror_running(lk, cl.id)) {
		js_warn("job %s: an earlier copy is still being dropped here; "
		    "handing the job back", cl.id);
		mirror_give_back(lk, c, cl.id, cl.token, job);
		return -1;
	}
	link_drop_local(lk->sp, cl.id);	/* a leftover of an earlier claim */
	local = claim_local_copy(job, &cl);
	if (local == NULL) {
		mirror_give_back(lk, c, cl.id, cl.token, job);
		return -1;
	}
	if (js_spool_submit(lk->sp, local) < 0) {
		js_err("job %s: cannot write it into %s: %s; handing it back",
		    cl.id, js_spool_path(lk->sp), strerror(errno));
		json_decref(local);
		mirror_give_back(lk, c, cl.id, cl.token, job);
		return -1;
	}
	json_decref(local);
	if (mirror_start(lk, cl.id, cl.token, (uint64_t)cl.offset, cl.attempts,
	    cl.lease_ms, cl.hb_ms, granted) < 0) {
		link_drop_local(lk->sp, cl.id);	/* its lease expires there */
		return -1;
	}
	return 0;
}

/* Blocks while -j jobs run here (a job whose local run has ended, its end
 * still being delivered, no longer counts).  Returns whether to go on
 * claiming. */
static int
wait_for_room(struct link *lk)
{
	pthread_mutex_lock(&lk->mu);
	while (!atomic_load(&lk->no_claim) &&
	    lk->active >= (size_t)lk->cfg->jobs)
		pthread_cond_wait(&lk->cv, &lk->mu);
	pthread_mutex_unlock(&lk->mu);
	return !atomic_load(&lk->no_claim);
}

/* One claim.  Returns how long to wait before the next (0: at once); *fails
 * and *refused count the failures in a row, *handed the claimed jobs in a
 * row that could not be kept here. */
static int64_t
claim_once(struct link *lk, CURL *c, const char *body, int *fails,
    int *refused, int *handed)
{
	struct proc_config *cfg = lk->cfg;
	struct rhttp_req rq;
	json_t *ans = NULL;
	char err[512];
	long st;
	int64_t delay = 0;

	memset(&rq, 0, sizeof rq);
	rq.path = "/api/v1/workers/claim";
	rq.body = body;
	rq.abort1 = &lk->give_up;
	rq.abort2 = &lk->no_claim;
	rq.timeout_ms = cfg->claim_wait_ms + 30000;
	if (rhttp_post(&lk->http, c, &rq, &st, &ans, err, sizeof err) < 0) {
		if (atomic_load(&lk->no_claim))
			return 0;
		++*fails;
		if (*fails == 1)
			js_warn("claim: server %s unreachable (%s); "
			    "retrying with backoff", cfg->server, err);
		else
			js_debug("claim: %s (failure %d)", err, *fails);
		return rhttp_backoff_ms(*fails, cfg->retry_max_ms);
	}
	if (st == 200 || st == 204) {
		if (*fails > 0 || *refused)
			js_info("claim: connected to %s again", cfg->server);
		*fails = *refused = 0;
		/* (granted: not from the sending, a long poll may have
		 * waited long before the claim) */
		if (st == 200 && take(lk, c, ans, js_mono_ms()) < 0)
			delay = rhttp_backoff_ms(++*handed, cfg->retry_max_ms);
		else if (st == 200)
			*handed = 0;
	} else {
		++*fails;
		if (st == 401 || st == 403) {
			if (!*refused || *fails == 1)
				js_err("claim refused by the server (%ld: %s); "
				    "retrying with backoff", st,
				    rhttp_why(ans, err));
			*refused = 1;
		} else if (*fails == 1) {
			js_warn("claim: server answered %ld (%s); retrying "
			    "with backoff", st, rhttp_why(ans, err));
		}
		delay = rhttp_backoff_ms(*fails, cfg->retry_max_ms);
	}
	json_decref(ans);
	return delay;
}

void *
claim_main(void *arg)
{
	struct link *lk = arg;
	CURL *c = curl_easy_init();
	char *body = claim_body(lk->worker, lk->labels, lk->cfg->exclusive,
	    lk->cfg->jobs, lk->cfg->claim_wait_ms);
	int fails = 0, refused = 0, handed = 0;
	unsigned long seen = 0;

	if (c == NULL || body == NULL)
		js_err("claimer: out of memory; claiming nothing");
	while (c != NULL && body != NULL && wait_for_room(lk)) {
		int64_t delay = claim_once(lk, c, body, &fails, &refused,
		    &handed);
		int64_t end = js_mono_ms() + delay;

		while (delay > 0 && !atomic_load(&lk->no_claim) &&
		    js_mono_ms() < end)
			link_wait(lk, &lk->freed, &seen, end - js_mono_ms());
	}
	free(body);
	if (c != NULL)
		curl_easy_cleanup(c);
	pthread_mutex_lock(&lk->mu);
	lk->claimer_done = 1;
	lk->change++;
	pthread_cond_broadcast(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
	return NULL;
}
