/*
 * routes_workers.c - processors on other machines (remote workers) pull
 * jobs over HTTP: /api/v1/workers/claim, and .../jobs/{id}/log,
 * /heartbeat and /finish, for tokens with the worker role.
 *
 * The apiserver does for a remote worker what a local processor does for
 * itself, with the same spool calls: the claim is js_spool_claim's rename
 * (so local and remote processors share one spool), the lease is the
 * mtime of <id>.wip, and every later call carries the claim's generation
 * as its fencing token: when <id>.wip no longer holds that generation
 * (recovered, re-claimed, finished) the call gets 409 and changes nothing.
 *
 * A claim long-polls: it scans the pending jobs (index.c keeps their
 * priority, order, labels and not_before by id+mtime, so a scan costs a
 * readdir and an fstatat per pending job), claims the first the worker may
 * run, and otherwise sleeps until a .pending file appears (bus.c's
 * inotify thread), the earliest not_before passes, or a second passes
 * (expired leases are recovered at most once a second, before claims).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "digest.h"
#include "pause.h"
#include "sched.h"

#define WAIT_DEFAULT_S 30
#define WAIT_MAX_S 300
#define SAFETY_MS 1000		/* rescan (and recover) at least this often */

/* Current size of <id>.log (0 if none). */
static uint64_t
log_size(struct api *a, const char *id)
{
	struct stat st;
	uint64_t n = 0;
	int fd = js_spool_log_open(a->sp, id, 0);

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) == 0)
		n = (uint64_t)st.st_size;
	close(fd);
	return n;
}

/* Sets log_size and log_sha256 of a finished job from the server's own
 * <id>.log, the log clients read (all attempts, whoever ran them), as a
 * local processor does; the worker only knows the bytes it sent. */
static void
log_digest(struct api *a, const char *id, json_t *job)
{
	char hex[65];
	uint64_t size = 0;
	int fd = js_spool_log_open(a->sp, id, 0);

	if (fd < 0 && errno == ENOENT) {
		/* no output at all: the digest of nothing */
		struct js_sha256 s;
		unsigned char d[JS_SHA256_SIZE];
		js_sha256_init(&s);
		js_sha256_final(&s, d);
		js_sha256_hex(d, hex);
	} else if (fd < 0 || js_sha256_fd(fd, hex, &size) < 0) {
		js_warn("job %s: cannot read its log: %s", id, strerror(errno));
		if (fd >= 0)
			close(fd);
		json_object_set_new(job, "log_size", json_null());
		json_object_set_new(job, "log_sha256", json_null());
		return;
	}
	if (fd >= 0)
		close(fd);
	json_object_set_new(job, "log_size", json_integer((json_int_t)size));
	json_object_set_new(job, "log_sha256", json_string(hex));
}

static enum MHD_Result
no_content(struct MHD_Connection *c)
{
	return reply_queue_len(c, MHD_HTTP_NO_CONTENT,
	    MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT), 0);
}

/* 409 for a fencing token that no longer holds, with the log's size. */
static enum MHD_Result
stale(struct api *a, struct MHD_Connection *c, const char *id, long long gen,
    const char *what)
{
	char msg[300];

	snprintf(msg, sizeof msg, "%s: the lease of token %lld on job %s is "
	    "lost (the job was recovered, re-claimed, finished or cancelled)",
	    what, gen, id);
	return reply_json(c, MHD_HTTP_CONFLICT, json_pack("{s:s,s:I}", "error",
	    msg, "size", (json_int_t)log_size(a, id)));
}

/* A job a local processor runs (its <id>.wip has a "pid") holds no remote
 * worker's lease, whatever the token: the worker routes leave it alone,
 * as lease recovery does.  Without this a worker token with the right
 * generation (1 for a first run) could heartbeat, write the log of, or
 * finish a job that is running on this host. */
static int
has_local_run(const json_t *job)
{
	const json_t *pid = json_object_get(job, "pid");

	return json_is_integer(pid) && json_integer_value(pid) > 0;
}

static int
local_run(struct api *a, const char *id)
{
	json_t *job = js_spool_read_state(a->sp, id, JS_WIP);
	int local = has_local_run(job);

	json_decref(job);
	return local;
}

/* 404 if the job does not exist at all, else the 409 of stale(). */
static enum MHD_Result
stale_or_gone(struct api *a, struct MHD_Connection *c, const char *id,
    long long gen, const char *what)
{
	enum js_state st;

	if (js_spool_find(a->sp, id, &st) < 0) {
		if (errno == ENOENT)
			return reply_error(c, MHD_HTTP_NOT_FOUND, "%s: no such job",
			    what);
		return reply_errno(c, errno, what);
	}
	return stale(a, c, id, gen, what);
}

/* Whether a fenced spool call failed with e because the generation no
 * longer holds the job (or its .wip is not a job: it holds no lease). */
static int
lease_lost(int e)
{
	return e == ESTALE || e == EBADMSG;
}

/* The answer to a fenced spool call of a worker route that failed with
 * errno: 409/404 for a lost lease, else the error. */
static enum MHD_Result
fence_failed(struct api *a, struct MHD_Connection *c, const char *id,
    long long gen, const char *what)
{
	if (lease_lost(errno))
		return stale_or_gone(a, c, id, gen, what);
	return reply_errno(c, errno, what);
}

/* Whether wip, the job in <id>.wip, is running under the remote lease of
 * generation gen. */
static int
holds_lease(const json_t *wip, long long gen)
{
	const char *cur = js_job_str(wip, "status");

	return wip != NULL && js_job_int(wip, "generation", 0) == gen &&
	    cur != NULL && strcmp(cur, "running") == 0 && !has_local_run(wip);
}

/* Whether pending job id asks for a label paused in ps (lib/pause's
 * rule; a job that cannot be read is left to the claim). */
static int
label_paused(struct api *a, const struct js_pause *ps, const char *id)
{
	json_t *job;
	int r;

	if (ps->nlabels == 0)
		return 0;
	if ((job = js_spool_read_state(a->sp, id, JS_PENDING)) == NULL)
		return 0;
	r = js_sched_paused(ps, job, NULL);
	json_decref(job);
	return r != 0;
}

/* Whether a claim that failed with e failed for the whole spool (it
 * cannot be written, memory or descriptors ran out), not for one job: the
 * worker hears the error instead of "no job" (204). */
static int
spool_wide(int e)
{
	return e == EROFS || e == EACCES || e == EPERM || e == ENOSPC ||
	    e == EDQUOT || e == ENOMEM || e == EMFILE || e == ENFILE ||
	    e == EIO;
}

/* How soon a claim looks again at a job that waits for another. */
#define DEPS_RECHECK_MS 1000

/* What the dependencies of pending job id say (lib/deps, the rule the
 * local processor applies too): 1 if it waits for a job that has not ended
 * (looked at again within DEPS_RECHECK_MS: *next_nb), 2 if one ended
 * without success (claimed at once, whatever its start time, so that the
 * claim fails it), else 0. */
static int
deps_gate(struct api *a, const char *id, int64_t now, int64_t *next_nb)
{
	struct js_deps_result dr;
	json_t *job = js_spool_read_state(a->sp, id, JS_PENDING);
	int rc;

	if (job == NULL)
		return 0;	/* gone or unreadable: left to the claim */
	rc = js_spool_deps(a->sp, id, job, &dr);
	json_decref(job);
	if (rc < 0 || dr.verdict == JS_DEPS_WAIT) {
		if (*next_nb == 0 || now + DEPS_RECHECK_MS < *next_nb)
			*next_nb = now + DEPS_RECHECK_MS;
		return 1;
	}
	return dr.verdict == JS_DEPS_FAILED ? 2 : 0;
}

/* Whether candidate i of cands may be claimed now (into *h): it passes
 * the worker's filter f, its file is still the one indexed, the jobs it
 * depends on have ended (lib/deps), its start time has come (else
 * *next_nb is lowered to it) and it is not paused (lib/pause). */
static int
claim_eligible(struct api *a, const struct idx_filter *f,
    const struct js_pause *ps, struct idx_cand *cands, size_t i,
    int64_t now, int64_t *next_nb, struct idx_hit *h)
{
	int dep;

	if (!idx_candidate(a->idx, cands, i, f, h))
		return 0;
	/* the cache's copy may predate a requeue with a backoff, or a PUT
	 * of the start time (lib/sched): look at the file */
	switch (idx_recheck(a->idx, f, h)) {
	case 0:
		return 0;	/* gone (forgotten) or changed */
	case -1:
		js_warn("job %s: %s", h->id, strerror(errno));
		return 0;
	}
	dep = h->after && !h->bad ? deps_gate(a, h->id, now, next_nb) : 0;
	if (dep == 1)
		return 0;	/* a job it depends on has not ended */
	if (dep == 0 && !h->bad && h->not_before_ms > now) {
		if (*next_nb == 0 || h->not_before_ms < *next_nb)
			*next_nb = h->not_before_ms;
		return 0;
	}
	return h->bad || !label_paused(a, ps, h->id);
}

/*
 * One pass: claims the first pending job the worker may run.  1 with *out
 * the answer, 0 if none (*next_nb: earliest not_before in the future, or
 * 0), -1 with errno (a claim that failed for the whole spool, spool_wide).
 */
static int
claim_once(struct api *a, const struct idx_filter *f,
    const struct js_pause *ps, uint64_t pgen, const char *worker,
    int64_t lease, int64_t *next_nb, json_t **out)
{
	struct idx_cand *cands;
	struct idx_hit h;
	size_t i;
	int64_t now = js_now_ms();
	int rc = 0;

	*next_nb = 0;
	*out = NULL;
	if (ps->all)
		return 0;	/* the whole spool is paused (lib/pause) */
	cands = idx_candidates(a->idx, pgen);
	if (cands == NULL)
		return -1;
	for (i = 0; i < cands->n; i++) {
		struct js_claim cl;
		struct js_pin pin = { -1 };
		json_t *job = NULL;
		int started;

		if (!claim_eligible(a, f, ps, cands, i, now, next_nb, &h))
			continue;
		if (js_spool_claim_pin(a->sp, h.id, worker, &cl, &job,
		    &pin) < 0) {
			if (spool_wide(errno)) {
				json_decref(job);
				rc = -1;
				break;
			}
			/* EAGAIN: its file holds a later start time than the
			 * index read; it is pending again, to be read again */
			if (errno == ENOENT || errno == EBADMSG ||
			    errno == EAGAIN || errno == ENOLINK)
				idx_forget(a->idx, h.id);
			if (errno == EBADMSG)
				js_warn("job %s: not a valid job file; failed it",
				    h.id);
			else if (errno == ENOLINK)
				js_warn("job %s: failed: %s", h.id,
				    job ? js_job_str(job, "error") : "?");
			else if (errno != ENOENT && errno != EAGAIN)
				js_warn("job %s: cannot claim it: %s", h.id,
				    strerror(errno));
			json_decref(job);
			continue;
		}
		idx_forget(a->idx, h.id);
		/* (the claimed file held: not read back to check the claim) */
		started = js_spool_start_pin(a->sp, &cl, job, &pin) < 0 ?
		    errno : 0;
		js_spool_unpin(&pin);
		if (started != 0) {
			errno = started;
			/* the lease expires and recovery requeues it */
			js_warn("job %s: cannot record its claim: %s", h.id,
			    strerror(errno));
			json_decref(job);
			continue;
		}
		leases_claimed(a->leases);
		js_info("job %s claimed by remote worker %s (token %lld)",
		    h.id, worker, cl.generation);
		*out = json_pack("{s:o,s:{s:I,s:I,s:I},s:I}", "job", job,
		    "lease", "token", (json_int_t)cl.generation,
		    "lease_ms", (json_int_t)lease,
		    "heartbeat_ms", (json_int_t)(lease / 3),
		    "log_offset", (json_int_t)log_size(a, h.id));
		if (*out == NULL) {
			errno = ENOMEM;
			rc = -1;
		} else {
			rc = 1;
		}
		break;
	}
	idx_candidates_free(a->idx, cands);
	return rc;
}

/* What a claim asks for; labels and worker point into its body. */
struct claim_ask {
	char worker[256];
	const char *labels[JS_LABELS_MAX];
	struct idx_filter f;
	double wait;		/* seconds */
	int slots;		/* the worker's -j; -1 if not said */
};

/* The worker's name: "worker" of the body, else token@peer.  0, or -1
 * after queueing a 400 as *rc. */
static int
claim_worker(struct MHD_Connection *c, struct req *r, const json_t *body,
    char *worker, size_t size, enum MHD_Result *rc)
{
	char peer[INET6_ADDRSTRLEN + 8];
	const json_t *v = json_object_get(body, "worker");
	const char *s;
	size_t k;

	reply_peer(c, peer, sizeof peer, "unknown");
	snprintf(worker, size, "%s@%s",
	    r->who.name[0] ? r->who.name : "anonymous", peer);
	if (v == NULL || json_is_null(v))
		return 0;
	s = json_string_value(v);
	if (s == NULL || *s == '\0' || strlen(s) > 255 ||
	    strlen(s) != json_string_length(v))
		goto bad_worker;
	for (k = 0; s[k] != '\0'; k++)
		if ((unsigned char)s[k] < 0x20 || (unsigned char)s[k] > 0x7e)
			goto bad_worker;
	snprintf(worker, size, "%s", s);
	return 0;
bad_worker:
	*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "worker must be 1 to 255 "
	    "printable ASCII characters");
	return -1;
}

/* The "labels" of the body into labels[*nl].  0, or -1 after queueing a
 * 400 as *rc. */
static int
claim_labels(struct MHD_Connection *c, const json_t *body,
    const char *labels[JS_LABELS_MAX], size_t *nl, enum MHD_Result *rc)
{
	const json_t *v = json_object_get(body, "labels");
	json_t *l;
	size_t i;

	*nl = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > JS_LABELS_MAX) {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "labels must be "
		    "an array of at most %d words", JS_LABELS_MAX);
		return -1;
	}
	json_array_foreach(v, i, l) {
		const char *s = json_string_value(l);
		if (s == NULL || strlen(s) != json_string_length(l) ||
		    !js_label_valid(s)) {
			*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "labels[%zu] "
			    "must be a word of 1 to 64 letters, digits, '-', "
			    "'_' or '.'", i);
			return -1;
		}
		labels[(*nl)++] = s;
	}
	return 0;
}

/* Reads a claim's body (NULL: an empty one) into q.  0, or -1 after
 * queueing a 400 as *rc. */
static int
claim_ask_parse(struct MHD_Connection *c, struct req *r, const json_t *body,
    struct claim_ask *q, enum MHD_Result *rc)
{
	const json_t *v;

	memset(q, 0, sizeof *q);
	q->wait = WAIT_DEFAULT_S;
	if (claim_worker(c, r, body, q->worker, sizeof q->worker, rc) < 0 ||
	    claim_labels(c, body, q->labels, &q->f.nlabels, rc) < 0)
		return -1;
	if ((v = json_object_get(body, "wait")) != NULL && !json_is_null(v)) {
		if (!json_is_number(v) || !isfinite(json_number_value(v)) ||
		    json_number_value(v) < 0 || json_number_value(v) > WAIT_MAX_S) {
			*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "wait must be a "
			    "number of seconds from 0 to %d", WAIT_MAX_S);
			return -1;
		}
		q->wait = json_number_value(v);
	}
	if ((v = json_object_get(body, "exclusive")) != NULL && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "exclusive must "
			    "be true (a dedicated worker: only jobs that ask for "
			    "one of its labels) or false");
			return -1;
		}
		q->f.exclusive = json_is_true(v);
	}
	q->slots = -1;
	if ((v = json_object_get(body, "slots")) != NULL && !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000000) {
			*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "slots must be "
			    "the worker's number of concurrent jobs (-j), an "
			    "integer from 1 to 1000000");
			return -1;
		}
		q->slots = (int)json_integer_value(v);
	}
	q->f.mask = JS_STATE_BIT(JS_PENDING);
	q->f.by_labels = 1;
	q->f.labels = q->labels;
	q->f.want_bad = 1;
	return 0;
}

/* The long poll: claims a job for q as soon as there is one it may run,
 * recovering expired leases first, for at most q->wait seconds (204). */
static enum MHD_Result
claim_wait(struct api *a, struct MHD_Connection *c, const struct claim_ask *q)
{
	const union MHD_ConnectionInfo *ci;
	int64_t lease = leases_ms(a), deadline, now, next_nb;
	json_t *out;
	int sock = -1, rc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		sock = ci->connect_fd;
	deadline = js_mono_ms() + (int64_t)(q->wait * 1000);
	for (;;) {
		struct js_pause ps;
		uint64_t pg;
		int64_t t;

		if (atomic_load(&a->stopping))
			break;
		if (follow_peer_gone(sock))
			return MHD_NO;	/* nobody to hand a job to */
		leases_recover(a->leases, lease);
		js_workers_touch(a->workers, q->worker, js_now_ms());
		pg = bus_pending_gen(a->bus);
		if (js_pause_read(a->sp, &ps) < 0) {
			js_warn("cannot read what is paused: %s; claiming as "
			    "if nothing were", strerror(errno));
			memset(&ps, 0, sizeof ps);
		}
		rc = claim_once(a, &q->f, &ps, pg, q->worker, lease, &next_nb,
		    &out);
		js_pause_free(&ps);
		if (rc > 0)
			return reply_json(c, MHD_HTTP_OK, out);
		if (rc < 0)
			return reply_store_errno(a, c, errno, "cannot claim a job");
		now = js_mono_ms();
		if (now >= deadline)
			break;
		t = deadline - now;
		if (t > SAFETY_MS)
			t = SAFETY_MS;
		if (next_nb > 0 && next_nb - js_now_ms() + 1 < t)
			t = next_nb - js_now_ms() + 1;
		bus_wait_pending(a->bus, pg, (int)(t > 0 ? t : 1));
	}
	return no_content(c);
}

/* The worker of a claim is alive (the js_workers table of lib/registry):
 * its name, address, labels, exclusive and slots. */
static void
worker_seen(struct api *a, struct MHD_Connection *c, const struct claim_ask *q)
{
	struct js_proc_info p;
	size_t i;

	memset(&p, 0, sizeof p);
	snprintf(p.id, sizeof p.id, "%s", q->worker);
	reply_peer(c, p.host, sizeof p.host, "unknown");
	for (i = 0; i < q->f.nlabels && i < JS_LABELS_MAX; i++)
		snprintf(p.labels[p.nlabels++], JS_LABEL_SIZE, "%.64s",
		    q->labels[i]);
	p.exclusive = q->f.exclusive;
	p.slots = q->slots;
	p.running = -1;
	p.seen_ms = js_now_ms();
	p.lease_ms = leases_ms(a);
	p.remote = 1;
	if (js_workers_seen(a->workers, &p) < 0)
		js_warn("worker %s: cannot record it: %s", q->worker,
		    strerror(errno));
}

enum MHD_Result
route_worker_claim(struct api *a, struct MHD_Connection *c, struct req *r)
{
	struct claim_ask q;
	json_t *body = NULL;
	enum MHD_Result rc;

	if (r->len > 0 && (body = reply_body_json(c, r)) == NULL)
		return MHD_YES;
	if (claim_ask_parse(c, r, body, &q, &rc) == 0) {
		worker_seen(a, c, &q);
		rc = claim_wait(a, c, &q);
	}
	json_decref(body);	/* q's labels pointed into it */
	return rc;
}

/* The id of a worker route and the "token" of its JSON body; 0, or -1
 * after queueing a 400. */
static int
worker_args(struct MHD_Connection *c, struct req *r, const char *id,
    json_t **body, long long *gen)
{
	json_t *t;

	*body = NULL;
	if (!js_id_valid(id)) {
		reply_error(c, MHD_HTTP_BAD_REQUEST, "bad job id '%.40s'", id);
		return -1;
	}
	if ((*body = reply_body_json(c, r)) == NULL)
		return -1;
	t = json_object_get(*body, "token");
	if (!json_is_integer(t) || json_integer_value(t) < 1) {
		json_decref(*body);
		*body = NULL;
		reply_error(c, MHD_HTTP_BAD_REQUEST, "the body needs \"token\": the "
		    "lease's token (a positive integer) from the claim");
		return -1;
	}
	*gen = (long long)json_integer_value(t);
	return 0;
}

/* A heartbeat of job id: its worker (the job's "worker") is alive. */
static void
worker_touch(struct api *a, const char *id)
{
	json_t *job = js_spool_read_state(a->sp, id, JS_WIP);
	const char *w = js_job_str(job, "worker");

	if (w != NULL)
		js_workers_touch(a->workers, w, js_now_ms());
	json_decref(job);
}

enum MHD_Result
route_worker_heartbeat(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id)
{
	int64_t lease = leases_ms(a);
	json_t *body;
	long long gen;
	int cancel;

	if (worker_args(c, r, id, &body, &gen) < 0)
		return MHD_YES;
	json_decref(body);
	if (local_run(a, id))
		return stale(a, c, id, gen, "heartbeat");
	if (js_spool_heartbeat_gen(a->sp, id, gen) < 0)
		return fence_failed(a, c, id, gen, "heartbeat");
	worker_touch(a, id);
	cancel = js_spool_cancel_requested(a->sp, id);
	return reply_json(c, MHD_HTTP_OK, json_pack("{s:b,s:I,s:I,s:I}",
	    "cancel", cancel == 1, "lease_ms", (json_int_t)lease,
	    "heartbeat_ms", (json_int_t)(lease / 3),
	    "log_size", (json_int_t)log_size(a, id)));
}

/* Copies the result fields a worker may set from its job w into the
 * stored job; -1 with err if one has the wrong type. */
static int
copy_results(json_t *stored, const json_t *w, int requeue, char *err,
    size_t errlen)
{
	static const struct { const char *name; char type; int requeue; } f[] = {
		/* i integer, a attempts, s string, t timestamp, o object,
		 * b boolean, j any JSON */
		{ "exit_code", 'i', 0 }, { "signal", 'i', 0 },
		{ "error", 's', 1 }, { "started_at", 't', 0 },
		{ "finished_at", 't', 0 }, { "duration_ms", 'i', 0 },
		{ "attempts", 'a', 1 }, { "result", 'j', 0 },
		{ "slurm", 'o', 0 }, { "not_before", 'i', 2 },
		{ "log_truncated", 'b', 0 },
	};
	size_t i;
	int64_t ms;

	for (i = 0; i < sizeof f / sizeof f[0]; i++) {
		json_t *v = json_object_get(w, f[i].name);
		int good;

		if (v == NULL || (requeue ? f[i].requeue == 0 : f[i].requeue == 2))
			continue;
		switch (f[i].type) {
		case 'i':
			good = json_is_integer(v) || json_is_null(v);
			break;
		case 'a':
			good = json_is_integer(v) && json_integer_value(v) >= 0 &&
			    json_integer_value(v) <= 1000000;
			break;
		case 's':
			good = json_is_string(v) || json_is_null(v);
			break;
		case 't':
			good = json_is_null(v) || (json_is_string(v) &&
			    js_time_parse(json_string_value(v), &ms) == 0);
			break;
		case 'o':
			good = json_is_object(v) || json_is_null(v);
			break;
		case 'b':
			good = json_is_boolean(v) || json_is_null(v);
			break;
		default:
			good = 1;
		}
		if (!good) {
			snprintf(err, errlen, "job.%s has the wrong type", f[i].name);
			return -1;
		}
		if (json_object_set(stored, f[i].name, v) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* A finish whose token no longer holds: 200 with the stored job if it is
 * final with that generation (our own earlier finish, whose answer was
 * lost), else 409 (404 if there is no such job). */
static enum MHD_Result
finish_stale(struct api *a, struct MHD_Connection *c, const char *id,
    long long gen)
{
	enum js_state st;
	json_t *cur = js_spool_read(a->sp, id, &st);

	if (cur == NULL) {
		if (errno == ENOENT)
			return reply_error(c, MHD_HTTP_NOT_FOUND, "finish: no such "
			    "job");
		if (errno == EBADMSG)	/* not a job: holds no lease */
			return stale(a, c, id, gen, "finish");
		return reply_errno(c, errno, "finish");
	}
	if (st >= JS_COMPLETED && js_job_int(cur, "generation", 0) == gen)
		return reply_json(c, MHD_HTTP_OK, cur);
	json_decref(cur);
	return stale(a, c, id, gen, "finish");
}

/* The "job" of a finish's body, its status as a state (JS_PENDING: given
 * back) and "give_back".  0, or -1 after queueing a 400 as *rc. */
static int
finish_ask_parse(struct MHD_Connection *c, json_t *body, json_t **wjob,
    int *state, int *give_back, enum MHD_Result *rc)
{
	const char *status;
	json_t *gb;

	*wjob = json_object_get(body, "job");
	status = js_job_str(*wjob, "status");
	gb = json_object_get(body, "give_back");
	if (!json_is_object(*wjob) || status == NULL) {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "the body needs "
		    "\"job\": the job as the worker ended it, with its "
		    "\"status\"");
		return -1;
	}
	if (gb != NULL && !json_is_boolean(gb) && !json_is_null(gb)) {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "give_back must be "
		    "true or false");
		return -1;
	}
	*give_back = json_is_true(gb);
	if (strcmp(status, "completed") == 0)
		*state = JS_COMPLETED;
	else if (strcmp(status, "failed") == 0)
		*state = JS_FAILED;
	else if (strcmp(status, "cancelled") == 0)
		*state = JS_CANCELLED;
	else if (strcmp(status, "pending") == 0)
		*state = JS_PENDING;
	else {
		*rc = reply_error(c, MHD_HTTP_BAD_REQUEST, "job.status must be "
		    "completed, failed, cancelled or pending");
		return -1;
	}
	return 0;
}

/* Stores the finished (or given back: state JS_PENDING) job under the
 * lease of generation gen and answers with it; takes stored. */
static enum MHD_Result
finish_store(struct api *a, struct MHD_Connection *c, const char *id,
    long long gen, json_t *stored, int state, int give_back,
    const struct js_pin *pin)
{
	struct js_claim cl;
	char err[300];
	json_t *check;
	int64_t nb = state == JS_PENDING ? js_job_int(stored, "not_before", 0) :
	    0;

	/* what gets stored must read back as a valid job */
	check = js_job_normalize(stored, id, err, sizeof err);
	if (check == NULL) {
		json_decref(stored);
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "job: %s", err);
	}
	json_decref(check);
	memcpy(cl.id, id, JS_ID_SIZE);
	cl.generation = gen;
	if ((state == JS_PENDING ?
	    js_spool_requeue_pin(a->sp, &cl, stored, give_back, nb, pin) :
	    js_spool_finish_pin(a->sp, &cl, stored, (enum js_state)state, pin,
	    JS_DURABLE)) < 0) {
		int e = errno;
		json_decref(stored);
		if (e == ESTALE)
			return finish_stale(a, c, id, gen);
		return reply_store_errno(a, c, e, "finish");
	}
	if (state == JS_PENDING)
		bus_pending_kick(a->bus);
	js_info("job %s %s by its remote worker (token %lld)", id,
	    state == JS_PENDING ? "given back" : js_state_status(
	    (enum js_state)state), gen);
	return reply_json(c, MHD_HTTP_OK, stored);
}

enum MHD_Result
route_worker_finish(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id)
{
	json_t *body, *wjob, *stored;
	struct js_pin pin;
	enum MHD_Result rc;
	long long gen;
	char err[300];
	int state, give_back;

	if (worker_args(c, r, id, &body, &gen) < 0)
		return MHD_YES;
	if (finish_ask_parse(c, body, &wjob, &state, &give_back, &rc) < 0) {
		json_decref(body);
		return rc;
	}
	/* the file read is held: the store checks the lease by it */
	stored = js_spool_read_wip_pin(a->sp, id, &pin);
	if (stored == NULL && errno != ENOENT && errno != EBADMSG) {
		json_decref(body);
		return reply_errno(c, errno, "finish");
	}
	if (!holds_lease(stored, gen)) {
		js_spool_unpin(&pin);
		json_decref(stored);
		json_decref(body);
		return finish_stale(a, c, id, gen);
	}
	if (copy_results(stored, wjob, state == JS_PENDING, err,
	    sizeof err) < 0) {
		js_spool_unpin(&pin);
		json_decref(stored);
		json_decref(body);
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", err);
	}
	json_decref(body);
	if (state != JS_PENDING)
		log_digest(a, id, stored);
	rc = finish_store(a, c, id, gen, stored, state, give_back, &pin);
	js_spool_unpin(&pin);
	return rc;
}

/* ---- the log upload ---- */

struct wlog {
	char id[JS_ID_SIZE];
	long long gen;
	uint64_t off;		/* where the next byte of the body belongs */
	uint64_t size;		/* the log's size after the last append */
	int err;		/* 0, or why the upload stopped */
};

enum MHD_Result
worker_log_begin(struct api *a, struct MHD_Connection *c, struct req *r,
    const char *id)
{
	const char *ts = reply_arg(c, "token"), *os = reply_arg(c, "offset");
	long long gen, off;
	uint64_t size = 0;
	struct wlog *w;

	r->failed = 1;	/* until the upload is set up */
	if (!js_id_valid(id))
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "bad job id '%.40s'", id);
	if (ts == NULL || js_parse_int(ts, 1, LLONG_MAX, &gen) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "the query needs "
		    "token=G: the lease's token from the claim");
	if (os == NULL || js_parse_int(os, 0, LLONG_MAX, &off) < 0)
		return reply_error(c, MHD_HTTP_BAD_REQUEST, "the query needs "
		    "offset=N: the byte of the log the body starts at");
	if (local_run(a, id))
		return stale(a, c, id, gen, "log");
	if (js_spool_log_append(a->sp, id, gen, (uint64_t)off, "", 0,
	    &size) < 0) {
		if (errno == ERANGE)
			return reply_json(c, MHD_HTTP_RANGE_NOT_SATISFIABLE,
			    json_pack("{s:s,s:I}", "error", "log: offset is past "
			    "the end of the log; resend from size", "size",
			    (json_int_t)size));
		return fence_failed(a, c, id, gen, "log");
	}
	w = calloc(1, sizeof *w);
	if (w == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	memcpy(w->id, id, JS_ID_SIZE);
	w->gen = gen;
	w->off = (uint64_t)off;
	w->size = size;
	r->wlog = w;
	r->failed = 0;
	return MHD_YES;
}

void
worker_log_feed(struct api *a, struct req *r, const char *data, size_t len)
{
	struct wlog *w = r->wlog;
	uint64_t size;

	if (w == NULL || w->err != 0 || len == 0)
		return;
	/* fenced again before every write; bytes already stored are
	 * skipped, so a resumed upload never duplicates */
	if (js_spool_log_append(a->sp, w->id, w->gen, w->off, data, len,
	    &size) < 0) {
		w->err = errno;
		if (errno == ERANGE)
			w->size = size;
		return;
	}
	w->off += len;
	w->size = size;
}

enum MHD_Result
worker_log_end(struct api *a, struct MHD_Connection *c, struct req *r)
{
	struct wlog *w = r->wlog;

	/* http.c calls this only after worker_log_begin succeeded, which set
	 * r->wlog; without it there is no upload to answer for */
	if (w == NULL)
		return MHD_NO;
	if (lease_lost(w->err))
		return stale_or_gone(a, c, w->id, w->gen, "log");
	if (w->err == ERANGE)
		return reply_json(c, MHD_HTTP_RANGE_NOT_SATISFIABLE,
		    json_pack("{s:s,s:I}", "error", "log: the log changed under "
		    "the upload; resend from size", "size", (json_int_t)w->size));
	if (w->err != 0)
		return reply_store_errno(a, c, w->err, "log");
	return reply_json(c, MHD_HTTP_OK, json_pack("{s:I}", "size",
	    (json_int_t)w->size));
}

void
worker_log_free(struct req *r)
{
	free(r->wlog);
	r->wlog = NULL;
}
