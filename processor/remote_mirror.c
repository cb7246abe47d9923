/*
 * remote_mirror.c - one thread per claimed job in the link process (see
 * remote_link.h): streams the local <id>.log to the server from the
 * acknowledged offset, heartbeats the lease, forwards cancel requests,
 * pauses the run while too many log bytes are unsent, stops the local copy
 * when the lease is lost, and posts the job's end (then drops the local
 * files).  What to do when is decided by the job's state machine
 * (remote_job.c); this file does the I/O.  Also the lease watchdog and
 * the joining of ended threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "remote_job.h"
#include "remote_link.h"
#include "sched.h"

#define STREAM_MS 2000			/* one log upload stays open this long */
#define STREAM_IDLE_MS 1000		/* ... or until no new bytes this long */

/* A job as the link's threads share it (under the link's mutex, or
 * atomic). */
struct rjob {
	struct rjob *next;
	struct link *lk;
	char id[JS_ID_SIZE];
	long long token;		/* the server lease's fencing token */
	uint64_t base;			/* server log size when claimed */
	long long attempts;		/* the server's attempts after its claim */
	_Atomic int64_t lease_ms;
	int64_t hb_ms;
	int64_t granted;		/* when the lease was asked for (mono) */
	/* the lease watchdog (the link's main thread): */
	_Atomic int64_t last_ok;	/* last heartbeat the server took */
	atomic_int expired;		/* none for (almost) a lease */
	atomic_int killed;		/* ... and the local copy was stopped */
	char lost_why[128];		/* written before expired is set */
	pthread_t th;
	int done;			/* the thread has ended */
	int counted;			/* counts in lk->active: until its
					 * local run has ended (the job's
					 * thread's, under lk->mu) */
	unsigned long change;		/* its files changed (mirror_poke;
					 * under lk->mu) */
};

/* What the job's own thread keeps. */
struct mirror {
	struct rjob *j;
	CURL *c;
	struct rj m;			/* the rules' state (remote_job.h) */
	int logfd;
	uint64_t acked;			/* local log bytes the server has */
	int64_t next_hb;
	long long pgid;			/* paused process group */
	int fails;			/* network failures in a row */
	char lost_why[256];
};

/* ---- answers ---- */

/* Size of the local log (0 if it does not exist yet). */
static uint64_t
local_log_size(struct mirror *s)
{
	struct stat st;

	if (s->logfd < 0) {
		s->logfd = js_spool_log_open(s->j->lk->sp, s->j->id, 0);
		if (s->logfd < 0)
			return 0;
	}
	if (fstat(s->logfd, &st) < 0)
		return 0;
	return (uint64_t)st.st_size;
}

/* The server fenced us off: the lease is lost (said once). */
static void
lose(struct mirror *s, const char *fmt, const char *detail)
{
	if (rj_on(&s->m, RJ_EV_REFUSED) != RJ_SAY_LOST)
		return;
	snprintf(s->lost_why, sizeof s->lost_why, fmt, detail);
	js_info("job %s: lease lost: %s; stopping the local copy", s->j->id,
	    s->lost_why);
}

static void
net_failed(struct mirror *s, const char *what, const char *err)
{
	s->fails++;
	if (s->fails == 1)
		js_warn("job %s: %s: server unreachable (%s); retrying with "
		    "backoff, the job keeps running", s->j->id, what, err);
	else
		js_debug("job %s: %s: %s (failure %d)", s->j->id, what, err,
		    s->fails);
}

static void
net_ok(struct mirror *s)
{
	if (s->fails > 0)
		js_info("job %s: server reachable again after %d failed "
		    "attempt%s", s->j->id, s->fails, s->fails == 1 ? "" : "s");
	s->fails = 0;
}

/* The server refused a call about the job (409 or 404): its lease is
 * lost. */
static void
refused(struct mirror *s, const char *what, long st)
{
	char d[128];

	net_ok(s);
	snprintf(d, sizeof d, "%s refused (%s)", what, st == 409 ?
	    "409 Conflict" : "404 Not Found");
	lose(s, "%s", d);
}

/* Any other unexpected answer counts as a network failure (retried with
 * backoff).  Returns -1; ans is released. */
static int
bad_answer(struct mirror *s, const char *what, long st, json_t *ans,
    const char *err)
{
	char msg[600];

	snprintf(msg, sizeof msg, "HTTP %ld: %s", st, rhttp_why(ans, err));
	json_decref(ans);
	net_failed(s, what, msg);
	return -1;
}

/* A request about the job: aborted only when the link gives up. */
static int
job_post(struct mirror *s, struct rhttp_req *rq, long *st, json_t **ans,
    char *err, size_t errlen)
{
	rq->abort1 = &s->j->lk->give_up;
	rq->abort2 = NULL;
	return rhttp_post(&s->j->lk->http, s->c, rq, st, ans, err, errlen);
}

/* ---- the log ---- */

struct upload {
	struct rjob *j;
	int fd;
	uint64_t pos;			/* next local byte to send */
	uint64_t limit;			/* stop streaming past this byte */
	int64_t t_end, idle_end;
	int stream;			/* wait for more bytes at EOF */
	unsigned long seen;		/* wake-ups seen (link_wait) */
};

static size_t
on_read(char *out, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	struct link *lk = u->j->lk;
	enum js_state st;
	ssize_t r;

	for (;;) {
		r = pread(u->fd, out, size * n, (off_t)u->pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return CURL_READFUNC_ABORT;
		if (r > 0) {
			u->pos += (uint64_t)r;
			u->idle_end = js_mono_ms() + STREAM_IDLE_MS;
			return (size_t)r;
		}
		if (!u->stream || u->pos >= u->limit ||
		    atomic_load(&lk->shutdown) ||
		    atomic_load(&lk->give_up) || js_mono_ms() >= u->t_end ||
		    js_mono_ms() >= u->idle_end)
			return 0;
		if (js_spool_find(lk->sp, u->j->id, &st) < 0 ||
		    js_sched_final(st))
			u->stream = 0;	/* one last read, then the end */
		else	/* woken by the next write to a log (inotify) */
			link_wait(lk, &u->j->change, &u->seen, 50);
	}
}

/* What the server said to a log upload (u: what was sent). */
static void
log_answered(struct mirror *s, const struct upload *u, long st,
    json_t *ans, const char *err)
{
	struct rjob *j = s->j;
	long long size = js_job_int(ans, "size", -1);

	if (st == 409 || st == 404) {
		refused(s, "log upload", st);
		return;
	}
	net_ok(s);
	if (st == 400) {
		js_err("job %s: log upload refused (400: %s)", j->id,
		    rhttp_why(ans, err));
		lose(s, "the server refused its log (%s)", "400");
	} else if (size < (long long)j->base) {
		lose(s, "the server's log is shorter than when the job "
		    "was claimed (%.100s)", rhttp_why(ans, err));
	} else {
		uint64_t have = (uint64_t)size - j->base;
		s->acked = st == 200 && have > u->pos ? u->pos : have;
		if (st == 416)
			js_info("job %s: log resumes at byte %lld (the "
			    "server's size, 416)", j->id, size);
	}
}

/* Sends the local log from the acknowledged offset.  Returns 0 on an
 * answer (progress or lease lost), -1 on a network failure. */
static int
send_log(struct mirror *s, int final)
{
	struct rjob *j = s->j;
	struct upload u;
	struct rhttp_req rq;
	char path[256], err[512];
	json_t *ans = NULL;
	long st;
	int64_t now = js_mono_ms();

	snprintf(path, sizeof path, "/api/v1/workers/jobs/%s/log?token=%lld"
	    "&offset=%" PRIu64, j->id, j->token, j->base + s->acked);
	u.j = j;
	u.fd = s->logfd;
	u.pos = s->acked;
	u.t_end = now + STREAM_MS;
	/* the stream ends when the next heartbeat is due (short leases) */
	if (s->next_hb > now && s->next_hb < u.t_end)
		u.t_end = s->next_hb;
	u.idle_end = now + STREAM_IDLE_MS;
	u.stream = !final;
	u.seen = 0;
	u.limit = s->acked + j->lk->cfg->log_buffer / 2;
	memset(&rq, 0, sizeof rq);
	rq.path = path;
	rq.read = on_read;
	rq.read_arg = &u;
	rq.timeout_ms = 600000;
	rq.stall_s = rj_stall_secs(atomic_load(&j->lease_ms));
	js_debug("job %s: log upload from byte %" PRIu64, j->id, s->acked);
	if (job_post(s, &rq, &st, &ans, err, sizeof err) < 0) {
		net_failed(s, "log upload", err);
		return -1;
	}
	js_debug("job %s: log upload answered %ld, size %lld", j->id, st,
	    js_job_int(ans, "size", -1));
	if (st != 200 && st != 416 && st != 409 && st != 404 && st != 400)
		return bad_answer(s, "log upload", st, ans, err);
	log_answered(s, &u, st, ans, err);
	json_decref(ans);
	return 0;
}

/* ---- the lease ---- */

/* A heartbeat the server took: the lease's new terms, a cancel. */
static void
heartbeat_taken(struct mirror *s, const json_t *ans, int64_t sent)
{
	struct rjob *j = s->j;

	net_ok(s);
	atomic_store(&j->last_ok, sent);
	if (js_job_int(ans, "lease_ms", 0) >= 1000)
		atomic_store(&j->lease_ms, js_job_int(ans, "lease_ms", 0));
	if (js_job_int(ans, "heartbeat_ms", 0) >= 100)
		j->hb_ms = js_job_int(ans, "heartbeat_ms", 0);
	if (!json_is_true(json_object_get(ans, "cancel")) ||
	    rj_on(&s->m, RJ_EV_CANCEL) != RJ_CANCEL_LOCAL)
		return;
	js_info("job %s: cancel requested on the server", j->id);
	if (js_spool_cancel(j->lk->sp, j->id, "cancelled on the server",
	    NULL) < 0 && errno != EINPROGRESS && errno != EALREADY)
		js_warn("job %s: cannot cancel the local copy: %s", j->id,
		    strerror(errno));
}

static int
heartbeat(struct mirror *s)
{
	struct rjob *j = s->j;
	struct rhttp_req rq;
	char path[256], body[64], err[512];
	json_t *ans = NULL;
	long st;
	/* the server's lease runs from when it got the heartbeat, not from
	 * when its answer arrived here: count from the sending */
	int64_t sent = js_mono_ms();

	snprintf(path, sizeof path, "/api/v1/workers/jobs/%s/heartbeat", j->id);
	snprintf(body, sizeof body, "{\"token\":%lld}", j->token);
	memset(&rq, 0, sizeof rq);
	rq.path = path;
	rq.body = body;
	rq.timeout_ms = 30000;
	/* a heartbeat is small: no answer within half a period is a
	 * failure, retried at once, so a short cut does not cost the lease */
	rq.stall_s = rj_heartbeat_stall_secs(j->hb_ms,
	    atomic_load(&j->lease_ms));
	if (job_post(s, &rq, &st, &ans, err, sizeof err) < 0) {
		net_failed(s, "heartbeat", err);
		return -1;
	}
	if (st == 200)
		heartbeat_taken(s, ans, sent);
	else if (st == 409 || st == 404)
		refused(s, "heartbeat", st);
	else
		return bad_answer(s, "heartbeat", st, ans, err);
	json_decref(ans);
	return 0;
}

/* ---- the end ---- */

char *
mirror_finish_body(const json_t *job, long long token, uint64_t base,
    int pending, int give_back, long long attempts, const char *error)
{
	json_t *req, *copy;
	char *text;

	copy = json_deep_copy(job);
	if (copy == NULL)
		return NULL;
	json_object_del(copy, "remote");
	if (!pending && base > 0) {
		/* the server's log also holds the bytes of earlier runs,
		 * which the digest made here does not cover: the size is
		 * theirs plus ours, the digest unknown here */
		long long ls = js_job_int(copy, "log_size", -1);
		if (ls >= 0)
			json_object_set_new(copy, "log_size",
			    json_integer((json_int_t)(base + (uint64_t)ls)));
		json_object_set_new(copy, "log_sha256", json_null());
	}
	if (pending) {
		json_object_set_new(copy, "status", json_string("pending"));
		/* the server's count: give_back takes the claim's one back */
		if (give_back)
			json_object_set_new(copy, "attempts",
			    json_integer(attempts));
		if (error != NULL)
			json_object_set_new(copy, "error", json_string(error));
	}
	req = json_pack("{s:I,s:o,s:b}", "token", (json_int_t)token,
	    "job", copy, "give_back", give_back);
	text = req ? js_json_dumps(req, JSON_COMPACT, NULL, NULL) : NULL;
	json_decref(req);
	return text;
}

/* What the server said to a finish.  Returns post_finish's answer. */
static int
finish_answered(struct mirror *s, long st, const json_t *ans,
    const char *err, const char *status, int pending, int give_back)
{
	const char *id = s->j->id;
	char msg[600];

	if (st != 200 && st != 409 && st != 404 && st != 400) {
		snprintf(msg, sizeof msg, "HTTP %ld: %s", st,
		    rhttp_why(ans, err));
		net_failed(s, "finish", msg);
		return -1;
	}
	net_ok(s);
	if (st == 200 && pending)
		js_info("job %s: handed back to the server%s", id,
		    give_back ? " (attempt given back)" : "");
	else if (st == 200)
		js_info("job %s: %s (reported to the server)", id,
		    status ? status : "?");
	else if (st == 400)
		js_err("job %s: finish refused by the server (400: %s); "
		    "dropping the local copy", id, rhttp_why(ans, err));
	else
		js_info("job %s: finish refused by the server (%ld %s: %s): "
		    "the lease was lost, the local result (%s) is discarded",
		    id, st, st == 409 ? "Conflict" : "Not Found",
		    rhttp_why(ans, err), status ? status : "?");
	return 1;
}

/* Posts the job's end: its final state, or back to pending (give_back:
 * the attempt was not used).  Returns 1 when the server answered for good
 * (the local copy may go), 0 to try again, -1 on a network failure. */
static int
post_finish(struct mirror *s, const json_t *job, int pending, int give_back)
{
	struct rjob *j = s->j;
	struct rhttp_req rq;
	char path[256], err[512], e[640];
	json_t *ans = NULL;
	const char *status = pending ? "pending" : js_job_str(job, "status");
	char *text;
	long st;
	int rc;

	if (pending && s->m.copy == RJ_KILLED)
		snprintf(e, sizeof e, "worker %s lost its lease: %s",
		    j->lk->worker, s->lost_why);
	text = mirror_finish_body(job, j->token, j->base, pending, give_back,
	    j->attempts, pending && s->m.copy == RJ_KILLED ? e : NULL);
	if (text == NULL)
		return 0;
	snprintf(path, sizeof path, "/api/v1/workers/jobs/%s/finish", j->id);
	memset(&rq, 0, sizeof rq);
	rq.path = path;
	rq.body = text;
	rq.timeout_ms = 60000;
	rq.stall_s = rj_stall_secs(atomic_load(&j->lease_ms));
	rc = job_post(s, &rq, &st, &ans, err, sizeof err);
	free(text);
	if (rc < 0) {
		net_failed(s, "finish", err);
		return -1;
	}
	rc = finish_answered(s, st, ans, err, status, pending, give_back);
	json_decref(ans);
	return rc;
}

/* ---- the local run ---- */

/* SIGSTOP of the local run's process group (from <id>.wip's pid, checked
 * against its start time). */
static void
pause_run(struct mirror *s, const json_t *job)
{
	long long pid = run_recorded_group(job, 1);

	if (pid <= 0 || kill(-(pid_t)pid, SIGSTOP) != 0)
		return;
	rj_on(&s->m, RJ_EV_PAUSED);
	s->pgid = pid;
	js_info("job %s: paused (SIGSTOP): more than %" PRIu64 " log bytes "
	    "not yet sent", s->j->id, s->j->lk->cfg->log_buffer);
}

/* SIGCONT of the paused process group. */
static void
resume_run(struct mirror *s)
{
	if (s->m.paused && s->pgid > 1)
		kill(-(pid_t)s->pgid, SIGCONT);
	if (s->m.paused)
		js_info("job %s: resumed (SIGCONT)", s->j->id);
	rj_on(&s->m, RJ_EV_RESUMED);
	s->pgid = 0;
}

/* The lease is lost: stop the local copy. */
static void
kill_local(struct mirror *s)
{
	if (js_spool_cancel(s->j->lk->sp, s->j->id, "lease lost", NULL) < 0 &&
	    errno != EINPROGRESS && errno != EALREADY)
		js_warn("job %s: cannot stop the local copy: %s", s->j->id,
		    strerror(errno));
}

/* ---- the job's thread ---- */

/* What the thread sees now (remote_job.h), after telling the rules what
 * the watchdog did. */
static void
look(struct mirror *s, const json_t *job, enum js_state st, int64_t next_net,
    struct rj_view *v)
{
	struct rjob *j = s->j;
	struct link *lk = j->lk;
	int64_t now;

	memset(v, 0, sizeof *v);
	v->local = st;
	v->log_size = local_log_size(s);
	now = js_mono_ms();
	v->gone = getppid() != lk->parent;
	/* the watchdog stopped the run (mirror_watch_leases); the log and
	 * the end are still offered: the server takes them while it has not
	 * recovered the job, else refuses them (409) */
	if (atomic_load(&j->expired) && rj_on(&s->m, atomic_load(&j->killed) ?
	    RJ_EV_EXPIRED_KILLED : RJ_EV_EXPIRED) == RJ_TAKE_WHY)
		snprintf(s->lost_why, sizeof s->lost_why, "%s", j->lost_why);
	v->acked = s->acked;
	v->log_buffer = lk->cfg->log_buffer;
	v->has_log = s->logfd >= 0;
	v->net_due = now >= next_net;
	v->hb_due = now >= s->next_hb;
	v->shutdown = atomic_load(&lk->shutdown);
	v->give_up = atomic_load(&lk->give_up);
	v->attempt_unused = js_job_int(job, "attempts", 0) < j->attempts;
}

/* Makes a turn's request.  Returns 1 when the job's end was answered for
 * good, 0 on an answer, -1 on a network failure. */
static int
request(struct mirror *s, enum rj_action a, const json_t *job,
    enum js_state st)
{
	int r;

	switch (a) {
	case RJ_HEARTBEAT:
		r = heartbeat(s);
		/* (a failed one is due again after the backoff) */
		s->next_hb = r < 0 ? 0 : js_mono_ms() + s->j->hb_ms;
		return r;
	case RJ_SEND_LOG:
		return send_log(s, js_sched_final(st));
	case RJ_FINISH:
	case RJ_OFFER_BACK:
		return post_finish(s, job, a == RJ_OFFER_BACK, 0);
	case RJ_KILL_HAND_BACK:
	case RJ_HAND_BACK:
	case RJ_GIVE_BACK:
		if (a == RJ_KILL_HAND_BACK)
			link_kill_run_group(job);
		return post_finish(s, job, 1, a == RJ_GIVE_BACK);
	default:
		return 0;
	}
}

/* One turn of the job's thread: look, decide (rj_turn), act.  Returns the
 * request's result (0 if none); *end is set when the thread should end. */
static int
turn(struct mirror *s, const json_t *job, enum js_state st,
    int64_t *next_net, int *end)
{
	struct rjob *j = s->j;
	struct link *lk = j->lk;
	struct rj_view v;
	struct rj_turn t;
	int r;

	look(s, job, st, *next_net, &v);
	rj_turn(&s->m, &v, &t);
	if (t.local == RJ_KILL_LOCAL)
		kill_local(s);
	if (t.pace == RJ_PAUSE)
		pause_run(s, job);
	else if (t.pace == RJ_RESUME)
		resume_run(s);
	if (t.net == RJ_END || t.net == RJ_DROP) {
		if (t.net == RJ_DROP)
			link_drop_local(lk->sp, j->id);
		*end = 1;
		return 0;
	}
	if (t.net == RJ_WAIT)
		return 0;
	r = request(s, t.net, job, st);
	if (r == 1 && rj_on(&s->m, RJ_EV_DELIVERED) == RJ_DROP) {
		link_drop_local(lk->sp, j->id);
		*end = 1;
		return r;
	}
	*next_net = r < 0 ? js_mono_ms() + rhttp_backoff_ms(s->fails,
	    rj_retry_max_ms(lk->cfg->retry_max_ms, j->hb_ms)) : 0;
	return r;
}

/* Until something changes, the backoff ends or the next heartbeat is due
 * (never a busy loop). */
static void
idle(struct mirror *s, unsigned long *seen, int64_t next_net)
{
	int64_t w = 200, now = js_mono_ms();

	if (next_net > now) {
		if (next_net - now < w)
			w = next_net - now;
	} else if (!rj_lost(&s->m) && s->next_hb > now &&
	    s->next_hb - now < w) {
		w = s->next_hb - now;
	}
	link_wait(s->j->lk, &s->j->change, seen, w < 5 ? 5 : w);
}

/* The job no longer takes one of the -j places (its local run has ended:
 * the claimer may bring the next job while this one's end is delivered);
 * with done, its thread has ended too. */
static void
job_release(struct rjob *j, int done)
{
	struct link *lk = j->lk;

	pthread_mutex_lock(&lk->mu);
	if (done)
		j->done = 1;
	if (j->counted) {
		j->counted = 0;
		lk->active--;
	}
	lk->freed++;	/* for the claimer (and the link's reaper, polling) */
	pthread_cond_broadcast(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
}

static void *
job_main(void *arg)
{
	struct rjob *j = arg;
	struct mirror s;
	unsigned long seen = 0;
	int64_t next_net = 0;
	int missing = 0, end = 0;
	json_t *last = NULL;	/* the last local copy read (its run's pid) */

	memset(&s, 0, sizeof s);
	s.j = j;
	s.logfd = -1;
	rj_init(&s.m);
	s.next_hb = j->granted + j->hb_ms;
	s.c = rhttp_handle(&j->lk->http);
	if (s.c == NULL)
		js_err("job %s: cannot make an HTTP handle", j->id);
	while (s.c != NULL && !end) {
		enum js_state st;
		json_t *job = js_spool_read(j->lk->sp, j->id, &st);
		int r;

		if (job == NULL) {
			if (errno == ENOENT && ++missing >= 3) {
				js_warn("job %s: the local copy vanished; the "
				    "server's lease will expire", j->id);
				/* nothing watches the run any more: it must
				 * not outlive the lease (the server may then
				 * start the job again elsewhere) */
				if (last != NULL)
					link_kill_run_group(last);
				break;
			}
			link_wait(j->lk, &j->change, &seen, 100);
			continue;
		}
		missing = 0;
		json_decref(last);
		last = json_incref(job);
		if (js_sched_final(st) && j->counted)
			job_release(j, 0);
		r = turn(&s, job, st, &next_net, &end);
		json_decref(job);
		if (r == 0 && !end)
			idle(&s, &seen, next_net);
	}
	json_decref(last);
	if (s.m.paused)
		resume_run(&s);
	if (s.logfd >= 0)
		close(s.logfd);
	rhttp_handle_done(&j->lk->http, s.c);
	job_release(j, 1);
	return NULL;
}

/* ---- the job threads, for the claimer and the link ---- */

int
mirror_start(struct link *lk, const char *id, long long token, uint64_t base,
    long long attempts, int64_t lease_ms, int64_t hb_ms, int64_t granted)
{
	struct rjob *j = calloc(1, sizeof *j);
	int e;

	if (j == NULL)
		return -1;
	j->lk = lk;
	memcpy(j->id, id, JS_ID_SIZE);
	j->token = token;
	j->base = base;
	j->attempts = attempts;
	j->granted = granted;
	atomic_store(&j->last_ok, granted);
	j->lease_ms = lease_ms >= 1000 ? lease_ms : 60000;
	j->hb_ms = hb_ms >= 100 && hb_ms < j->lease_ms ? hb_ms : j->lease_ms / 3;
	/* (set before the thread starts: only the thread changes it then) */
	j->counted = 1;
	pthread_mutex_lock(&lk->mu);
	e = pthread_create(&j->th, NULL, job_main, j);
	if (e == 0) {
		j->next = lk->jobs;
		lk->jobs = j;
		lk->active++;
	}
	pthread_mutex_unlock(&lk->mu);
	if (e != 0) {
		js_err("job %s: cannot start its thread: %s", id, strerror(e));
		free(j);
		return -1;
	}
	return 0;
}

void
mirror_poke(struct link *lk, const char *id)
{
	struct rjob *j;

	pthread_mutex_lock(&lk->mu);
	for (j = lk->jobs; j != NULL; j = j->next)
		if (strcmp(j->id, id) == 0) {
			j->change++;
			pthread_cond_broadcast(&lk->cv);
		}
	pthread_mutex_unlock(&lk->mu);
}

int
mirror_running(struct link *lk, const char *id)
{
	struct rjob *j;
	int found = 0;

	pthread_mutex_lock(&lk->mu);
	for (j = lk->jobs; j != NULL; j = j->next)
		if (!j->done && strcmp(j->id, id) == 0)
			found = 1;
	pthread_mutex_unlock(&lk->mu);
	return found;
}

void
mirror_give_back(struct link *lk, CURL *c, const char *id, long long token,
    const json_t *job)
{
	struct rjob j;
	struct mirror s;
	int tries;

	memset(&j, 0, sizeof j);
	memset(&s, 0, sizeof s);
	j.lk = lk;
	memcpy(j.id, id, JS_ID_SIZE);
	j.token = token;
	j.attempts = js_job_int(job, "attempts", 1);
	s.j = &j;
	s.c = c;
	rj_init(&s.m);
	for (tries = 0; tries < 3; tries++)
		if (post_finish(&s, job, 1, 1) >= 0)
			return;
}

/*
 * The lease watchdog, in the link's main thread so that a job thread
 * blocked in a request cannot delay it: a job whose last heartbeat the
 * server took (counted from its sending) is almost a lease old has its
 * local copy cancelled a little before the server may recover it (the
 * cancel's SIGKILL comes within a second), so that no second run starts
 * while this one still runs.
 */
void
mirror_watch_leases(struct link *lk)
{
	struct rjob *j;
	int64_t now = js_mono_ms();
	int any = 0;

	pthread_mutex_lock(&lk->mu);
	for (j = lk->jobs; j != NULL; j = j->next) {
		int64_t lease = atomic_load(&j->lease_ms);
		int64_t margin = lease / 4 < 1000 ? lease / 4 : 1000;
		int64_t age = now - atomic_load(&j->last_ok);
		char d_age[JS_DURATION_SIZE], d_lease[JS_DURATION_SIZE];
		int r, killed;

		if (j->done || atomic_load(&j->expired) || age <= lease - margin)
			continue;
		js_duration_format(age, d_age);
		js_duration_format(lease, d_lease);
		snprintf(j->lost_why, sizeof j->lost_why, "no successful "
		    "heartbeat for %s (lease %s)", d_age, d_lease);
		r = js_spool_cancel(lk->sp, j->id, "lease lost", NULL);
		killed = r == 0 || errno == EINPROGRESS;
		if (r < 0 && errno != EINPROGRESS && errno != EALREADY &&
		    errno != ENOENT)
			js_warn("job %s: cannot stop the local copy: %s", j->id,
			    strerror(errno));
		js_info("job %s: lease lost: %s%s", j->id, j->lost_why,
		    killed ? "; stopping the local copy" : "");
		atomic_store(&j->killed, killed);
		atomic_store(&j->expired, 1);
		any = 1;
	}
	if (any) {
		lk->change++;
		pthread_cond_broadcast(&lk->cv);
	}
	pthread_mutex_unlock(&lk->mu);
}

size_t
mirror_reap(struct link *lk)
{
	struct rjob **pp, *j, *done = NULL;
	size_t left = 0;

	pthread_mutex_lock(&lk->mu);
	for (pp = &lk->jobs; (j = *pp) != NULL; ) {
		if (j->done) {
			*pp = j->next;
			j->next = done;
			done = j;
		} else {
			left++;
			pp = &j->next;
		}
	}
	pthread_mutex_unlock(&lk->mu);
	while ((j = done) != NULL) {
		done = j->next;
		pthread_join(j->th, NULL);
		free(j);
	}
	return left;
}
