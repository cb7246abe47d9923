/*
 * remote.c - the link process of remote mode (see remote.h and the REMOTE
 * MODE section of jobspool-processor(8)).
 *
 * Threads: the link's main thread (signals, inotify on the local spool,
 * joins finished job threads), one claimer, one thread per job.  Shared
 * state lives in struct link under its mutex; each thread has its own curl
 * easy handle and makes blocking requests with timeouts.  Any change in
 * the local spool (inotify) or in the link's state wakes the threads
 * through one condition variable.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "remote.h"
#include "sched.h"

#define RESP_MAX (16u << 20)		/* largest answer we read */
#define STREAM_MS 2000			/* one log upload stays open this long */
#define STREAM_IDLE_MS 1000		/* ... or until no new bytes this long */
#define SHUTDOWN_MS 15000		/* the link's own shutdown bound */
#define BACKOFF_MIN_MS 250

struct rjob;

struct link {
	struct proc_config *cfg;
	struct js_spool *sp;
	pid_t parent;
	char worker[320];
	struct curl_slist *json_hdrs, *log_hdrs;
	json_t *labels;			/* the processor's labels */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned long change;		/* bumped on every wake-up */
	struct rjob *jobs;		/* every job thread not yet joined */
	size_t active;			/* of them, still running */
	atomic_int no_claim;		/* the loop is shutting down */
	atomic_int shutdown;		/* hand back and exit */
	atomic_int give_up;		/* shutdown took too long: abort */
	int claimer_done;
};

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
};

/* ---- small helpers ---- */

static int64_t
backoff_ms(int fails, int64_t max)
{
	int64_t cap = BACKOFF_MIN_MS;
	uint32_t r;

	while (fails-- > 1 && cap < max)
		cap *= 2;
	if (cap > max)
		cap = max;
	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)js_now_ns();
	/* full jitter: anywhere in [0, cap], but not a busy loop */
	return 10 + (int64_t)(r % (uint32_t)(cap + 1));
}

static void
wake(struct link *lk)
{
	pthread_mutex_lock(&lk->mu);
	lk->change++;
	pthread_cond_broadcast(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
}

/* Waits until something changed or ms passed. */
static void
wait_change(struct link *lk, unsigned long *seen, int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lk->mu);
	while (lk->change == *seen && !atomic_load(&lk->give_up))
		if (pthread_cond_timedwait(&lk->cv, &lk->mu, &ts) == ETIMEDOUT)
			break;
	*seen = lk->change;
	pthread_mutex_unlock(&lk->mu);
}

/* Kills what is left of a local run recorded in a .wip whose processor
 * is gone (run_recorded_group). */
static void
kill_run_group(const json_t *job)
{
	pid_t pg = run_recorded_group(job, 0);

	if (pg > 0)
		kill(-pg, SIGKILL);
}

/* Removes every local trace of job id, whatever its state. */
static void
drop_local(struct js_spool *sp, const char *id)
{
	enum js_state st;
	int tries;

	for (tries = 0; tries < 10; tries++) {
		json_t *job = js_spool_read(sp, id, &st);
		if (job == NULL)
			return;
		if (st == JS_PENDING) {
			js_spool_cancel(sp, id, "dropped by the remote link", NULL);
		} else if (st == JS_WIP) {
			struct js_claim c;
			memcpy(c.id, id, JS_ID_SIZE);
			c.generation = js_job_int(job, "generation", 0);
			json_object_set_new(job, "error",
			    json_string("dropped by the remote link"));
			js_spool_finish(sp, &c, job, JS_CANCELLED);
		} else if (js_spool_remove(sp, id) == 0) {
			json_decref(job);
			return;
		}
		json_decref(job);
	}
	js_warn("job %s: cannot remove the local copy: %s", id, strerror(errno));
}

/* ---- HTTP ---- */

struct buf {
	char *p;
	size_t len;
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;
	char *p;

	if (b->len + len > RESP_MAX)
		return 0;
	p = realloc(b->p, b->len + len + 1);
	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, len);
	b->p = p;
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

struct xfer {
	struct link *lk;
	int abortable;			/* the claimer: stop on no_claim */
	int64_t stall_ms;		/* 0: no limit */
	curl_off_t dn, un;		/* bytes moved so far */
	int64_t moved;			/* when they last changed (mono) */
	int stalled;
};

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct xfer *x = arg;
	int64_t now = js_mono_ms();

	(void)dt; (void)ut;
	if (atomic_load(&x->lk->give_up))
		return 1;
	if (x->abortable && atomic_load(&x->lk->no_claim))
		return 1;
	if (dn != x->dn || un != x->un || x->moved == 0) {
		x->dn = dn;
		x->un = un;
		x->moved = now;
	} else if (x->stall_ms > 0 && now - x->moved > x->stall_ms) {
		x->stalled = 1;		/* a dead network or a hung server */
		return 1;
	}
	return 0;
}

/* Every connection: a dead peer is noticed within about 25 s even while
 * we only wait (keep-alive probes), and unacknowledged data fails a
 * connection after 20 s. */
static int
on_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int cnt = 3;
	unsigned int uto = 20000;

	(void)arg;
	if (purpose == CURLSOCKTYPE_IPCXN) {
		/* best effort: not every socket is TCP */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto,
		    sizeof uto);
	}
	return CURL_SOCKOPT_OK;
}

struct upload {
	struct rjob *j;
	int fd;
	uint64_t pos;			/* next local byte to send */
	uint64_t limit;			/* stop streaming past this byte */
	int64_t t_end, idle_end;
	int stream;			/* wait for more bytes at EOF */
	unsigned long seen;		/* wake-ups seen (wait_change) */
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
			wait_change(lk, &u->seen, 50);
	}
}

/*
 * One POST to the server.  body (JSON, blen bytes) or up (a log upload)
 * is sent; the answer's status goes into *status and its body, if any, is
 * parsed into *out (NULL if not JSON).  Returns 0 when an HTTP answer came
 * back, -1 (err filled) when none did.
 */
static int
post(struct link *lk, CURL *c, const char *path, const char *body,
    struct upload *up, int abortable, int64_t timeout_ms, long stall_s,
    long *status, json_t **out, char *err, size_t errlen)
{
	char url[2048], cerr[CURL_ERROR_SIZE];
	struct buf b = { NULL, 0 };
	struct xfer x;
	struct proc_config *cfg = lk->cfg;
	CURLcode rc;

	*status = 0;
	if (out != NULL)
		*out = NULL;
	memset(&x, 0, sizeof x);
	x.lk = lk;
	x.abortable = abortable;
	x.stall_ms = stall_s * 1000;
	snprintf(url, sizeof url, "%s%s", cfg->server, path);
	curl_easy_reset(c);
	cerr[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (stall_s > 0 && stall_s < 5)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, stall_s * 1000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_socket);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PROG "/" JS_VERSION);
	if (cfg->token != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, cfg->token);
	}
	if (cfg->tls_ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->tls_ca);
	if (cfg->tls_cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->tls_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->tls_key);
	}
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (up != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, lk->log_hdrs);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, up);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, lk->json_hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		if (x.stalled)
			snprintf(err, errlen, "no answer for %ld s", stall_s);
		else
			snprintf(err, errlen, "%s", cerr[0] ? cerr :
			    curl_easy_strerror(rc));
		free(b.p);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (out != NULL && b.len > 0)
		*out = json_loadb(b.p, b.len, 0, NULL);
	snprintf(err, errlen, "%.200s", b.p ? b.p : "");
	/* (one line: the answer's error text for the log) */
	{
		char *nl = strpbrk(err, "\r\n");
		if (nl != NULL)
			*nl = '\0';
	}
	free(b.p);
	return 0;
}

/* The server's "error" in an answer, or what err holds. */
static const char *
why(const json_t *ans, const char *err)
{
	const char *e = js_job_str(ans, "error");

	return e != NULL ? e : err;
}

/* ---- one job ---- */

struct jstate {
	struct rjob *j;
	CURL *c;
	int logfd;
	uint64_t acked;			/* local log bytes the server has */
	int64_t last_ok;		/* last successful heartbeat (mono) */
	int64_t next_hb;
	int lost;			/* the server fenced us off (409/404) */
	int expired;			/* no heartbeat for a lease: the server
					 * may recover the job any moment */
	int cancelled;			/* the local copy was told to stop */
	int killed;			/* ... because the lease was lost */
	int paused;
	long long pgid;			/* paused process group */
	int fails;			/* network failures in a row */
	char lost_why[256];
};

/* How long a request may stall (no byte either way) before it counts as
 * a network failure: a third of the lease, 2 to 15 seconds. */
static long
stall_secs(const struct rjob *j)
{
	long s = (long)(j->lease_ms / 3000);

	return s < 2 ? 2 : s > 15 ? 15 : s;
}

/* Size of the local log (0 if it does not exist yet). */
static uint64_t
local_log_size(struct jstate *s)
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

static void
lose(struct jstate *s, const char *fmt, const char *detail)
{
	if (s->lost)
		return;
	s->lost = 1;
	snprintf(s->lost_why, sizeof s->lost_why, fmt, detail);
	js_info("job %s: lease lost: %s; stopping the local copy", s->j->id,
	    s->lost_why);
}

static void
net_failed(struct jstate *s, const char *what, const char *err)
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
net_ok(struct jstate *s)
{
	if (s->fails > 0)
		js_info("job %s: server reachable again after %d failed "
		    "attempt%s", s->j->id, s->fails, s->fails == 1 ? "" : "s");
	s->fails = 0;
}

/* The server refused a call about the job (409 or 404): its lease is
 * lost. */
static void
refused(struct jstate *s, const char *what, long st)
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
bad_answer(struct jstate *s, const char *what, long st, json_t *ans,
    const char *err)
{
	char msg[600];

	snprintf(msg, sizeof msg, "HTTP %ld: %s", st, why(ans, err));
	json_decref(ans);
	net_failed(s, what, msg);
	return -1;
}

/* Sends the local log from the acknowledged offset.  Returns 0 on an
 * answer (progress or lease lost), -1 on a network failure. */
static int
send_log(struct jstate *s, int final)
{
	struct rjob *j = s->j;
	struct upload u;
	char path[256], err[512];
	json_t *ans = NULL;
	long st;
	long long size;
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
	js_debug("job %s: log upload from byte %" PRIu64, j->id, s->acked);
	if (post(j->lk, s->c, path, NULL, &u, 0, 600000, stall_secs(j), &st,
	    &ans, err, sizeof err) < 0) {
		net_failed(s, "log upload", err);
		return -1;
	}
	size = js_job_int(ans, "size", -1);
	js_debug("job %s: log upload answered %ld, size %lld", j->id, st, size);
	if (st == 200 || st == 416) {
		net_ok(s);
		if (size < (long long)j->base) {
			lose(s, "the server's log is shorter than when the job "
			    "was claimed (%.100s)", why(ans, err));
		} else {
			uint64_t have = (uint64_t)size - j->base;
			s->acked = st == 200 && have > u.pos ? u.pos : have;
			if (st == 416)
				js_info("job %s: log resumes at byte %lld (the "
				    "server's size, 416)", j->id, size);
		}
	} else if (st == 409 || st == 404) {
		refused(s, "log upload", st);
	} else if (st == 400) {
		net_ok(s);
		js_err("job %s: log upload refused (400: %s)", j->id,
		    why(ans, err));
		lose(s, "the server refused its log (%s)", "400");
	} else {
		return bad_answer(s, "log upload", st, ans, err);
	}
	json_decref(ans);
	return 0;
}

static int
heartbeat(struct jstate *s)
{
	struct rjob *j = s->j;
	char path[256], body[64], err[512];
	json_t *ans = NULL, *cancel;
	long st;
	/* the server's lease runs from when it got the heartbeat, not from
	 * when its answer arrived here: count from the sending */
	int64_t sent = js_mono_ms();

	snprintf(path, sizeof path, "/api/v1/workers/jobs/%s/heartbeat", j->id);
	snprintf(body, sizeof body, "{\"token\":%lld}", j->token);
	/* a heartbeat is small: no answer within half a period is a
	 * failure, retried at once, so a short cut does not cost the lease */
	if (post(j->lk, s->c, path, body, NULL, 0, 30000, j->hb_ms / 2000 < 1 ? 1 :
	    j->hb_ms / 2000 < stall_secs(j) ? j->hb_ms / 2000 : stall_secs(j),
	    &st, &ans, err, sizeof err) < 0) {
		net_failed(s, "heartbeat", err);
		return -1;
	}
	if (st == 200) {
		net_ok(s);
		s->last_ok = sent;
		atomic_store(&j->last_ok, sent);
		if (js_job_int(ans, "lease_ms", 0) >= 1000)
			atomic_store(&j->lease_ms, js_job_int(ans, "lease_ms", 0));
		if (js_job_int(ans, "heartbeat_ms", 0) >= 100)
			j->hb_ms = js_job_int(ans, "heartbeat_ms", 0);
		cancel = json_object_get(ans, "cancel");
		if (json_is_true(cancel) && !s->cancelled) {
			js_info("job %s: cancel requested on the server", j->id);
			s->cancelled = 1;
			if (js_spool_cancel(j->lk->sp, j->id, "cancelled on the "
			    "server", NULL) < 0 && errno != EINPROGRESS &&
			    errno != EALREADY)
				js_warn("job %s: cannot cancel the local copy: %s",
				    j->id, strerror(errno));
		}
	} else if (st == 409 || st == 404) {
		refused(s, "heartbeat", st);
	} else {
		return bad_answer(s, "heartbeat", st, ans, err);
	}
	json_decref(ans);
	return 0;
}

/* Posts the job's end: its final state, or back to pending (give_back:
 * the attempt was not used).  Returns 1 when the server answered for good
 * (the local copy may go), 0 to try again, -1 on a network failure. */
static int
post_finish(struct jstate *s, json_t *job, int pending, int give_back)
{
	struct rjob *j = s->j;
	char path[256], err[512];
	json_t *req, *ans = NULL, *copy;
	const char *status = js_job_str(job, "status");
	char *text;
	long st;
	int rc;

	copy = json_deep_copy(job);
	if (copy == NULL)
		return 0;
	json_object_del(copy, "remote");
	if (!pending && j->base > 0) {
		/* the server's log also holds the bytes of earlier runs,
		 * which the digest made here does not cover: the size is
		 * theirs plus ours, the digest unknown here */
		long long ls = js_job_int(copy, "log_size", -1);
		if (ls >= 0)
			json_object_set_new(copy, "log_size",
			    json_integer((json_int_t)(j->base + (uint64_t)ls)));
		json_object_set_new(copy, "log_sha256", json_null());
	}
	if (pending) {
		json_object_set_new(copy, "status", json_string("pending"));
		/* the server's count: give_back takes the claim's one back */
		if (give_back)
			json_object_set_new(copy, "attempts",
			    json_integer(j->attempts));
		status = "pending";
		if (s->killed) {
			char e[640];
			snprintf(e, sizeof e, "worker %s lost its lease: %s",
			    j->lk->worker, s->lost_why);
			json_object_set_new(copy, "error", json_string(e));
		}
	}
	req = json_pack("{s:I,s:o,s:b}", "token", (json_int_t)j->token,
	    "job", copy, "give_back", give_back);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (text == NULL)
		return 0;
	snprintf(path, sizeof path, "/api/v1/workers/jobs/%s/finish", j->id);
	rc = post(j->lk, s->c, path, text, NULL, 0, 60000, stall_secs(j), &st,
	    &ans, err, sizeof err);
	free(text);
	if (rc < 0) {
		net_failed(s, "finish", err);
		return -1;
	}
	if (st == 200) {
		net_ok(s);
		if (pending)
			js_info("job %s: handed back to the server%s", j->id,
			    give_back ? " (attempt given back)" : "");
		else
			js_info("job %s: %s (reported to the server)", j->id,
			    status ? status : "?");
		rc = 1;
	} else if (st == 409 || st == 404) {
		net_ok(s);
		js_info("job %s: finish refused by the server (%ld %s: %s): "
		    "the lease was lost, the local result (%s) is discarded",
		    j->id, st, st == 409 ? "Conflict" : "Not Found",
		    why(ans, err), status ? status : "?");
		rc = 1;
	} else if (st == 400) {
		net_ok(s);
		js_err("job %s: finish refused by the server (400: %s); "
		    "dropping the local copy", j->id, why(ans, err));
		rc = 1;
	} else {
		char msg[600];
		snprintf(msg, sizeof msg, "HTTP %ld: %s", st, why(ans, err));
		net_failed(s, "finish", msg);
		rc = -1;
	}
	json_decref(ans);
	return rc;
}

/* SIGSTOP / SIGCONT of the local run's process group (from <id>.wip's
 * pid, checked against its start time). */
static void
pause_run(struct jstate *s, const json_t *job, int stop)
{
	long long pid = stop ? run_recorded_group(job, 1) : s->pgid;

	if (stop) {
		if (pid <= 0)
			return;
		if (kill(-(pid_t)pid, SIGSTOP) == 0) {
			s->paused = 1;
			s->pgid = pid;
			js_info("job %s: paused (SIGSTOP): more than %" PRIu64
			    " log bytes not yet sent", s->j->id,
			    s->j->lk->cfg->log_buffer);
		}
		return;
	}
	if (s->paused && pid > 1)
		kill(-(pid_t)pid, SIGCONT);
	if (s->paused)
		js_info("job %s: resumed (SIGCONT)", s->j->id);
	s->paused = 0;
	s->pgid = 0;
}

static void
job_done(struct rjob *j)
{
	struct link *lk = j->lk;

	pthread_mutex_lock(&lk->mu);
	j->done = 1;
	lk->active--;
	lk->change++;
	pthread_cond_broadcast(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
}

static void *
job_main(void *arg)
{
	struct rjob *j = arg;
	struct link *lk = j->lk;
	struct jstate s;
	unsigned long seen = 0;
	int64_t now, next_net = 0;
	int missing = 0;

	memset(&s, 0, sizeof s);
	s.j = j;
	s.logfd = -1;
	s.c = curl_easy_init();
	s.last_ok = j->granted;
	s.next_hb = s.last_ok + j->hb_ms;
	if (s.c == NULL) {
		js_err("job %s: cannot make an HTTP handle", j->id);
		goto out;
	}
	for (;;) {
		enum js_state st;
		json_t *job = js_spool_read(lk->sp, j->id, &st);
		uint64_t size;
		int final, r = 0, gone;

		if (job == NULL) {
			if (errno == ENOENT && ++missing >= 3) {
				js_warn("job %s: the local copy vanished; the "
				    "server's lease will expire", j->id);
				break;
			}
			wait_change(lk, &seen, 100);
			continue;
		}
		missing = 0;
		final = js_sched_final(st);
		size = local_log_size(&s);
		now = js_mono_ms();
		gone = getppid() != lk->parent;
		if (!s.expired && atomic_load(&j->expired)) {
			/* the watchdog stopped the run (watch_leases); the
			 * log and the end are still offered: the server takes
			 * them while it has not recovered the job, else
			 * refuses them (409) */
			s.expired = 1;
			snprintf(s.lost_why, sizeof s.lost_why, "%s", j->lost_why);
			if (atomic_load(&j->killed))
				s.cancelled = s.killed = 1;
		}
		if (s.lost && !s.cancelled && !final) {
			s.cancelled = 1;
			s.killed = 1;
			if (js_spool_cancel(lk->sp, j->id, "lease lost", NULL) < 0 &&
			    errno != EINPROGRESS && errno != EALREADY)
				js_warn("job %s: cannot stop the local copy: %s",
				    j->id, strerror(errno));
		}
		if (!s.paused && !s.lost && !s.expired && st == JS_WIP &&
		    size > s.acked &&
		    size - s.acked > lk->cfg->log_buffer &&
		    !atomic_load(&lk->give_up))
			pause_run(&s, job, 1);
		else if (s.paused && (s.lost || s.expired || st != JS_WIP ||
		    size - s.acked <= lk->cfg->log_buffer / 2 ||
		    atomic_load(&lk->give_up) || atomic_load(&lk->shutdown)))
			pause_run(&s, job, 0);
		if (atomic_load(&lk->give_up)) {
			json_decref(job);
			break;
		}
		if (now >= next_net) {
			if (!s.lost && now >= s.next_hb) {
				r = heartbeat(&s);
				/* (a failed one is due again after the
				 * backoff) */
				s.next_hb = r < 0 ? 0 : js_mono_ms() + j->hb_ms;
			} else if (!s.lost && size > s.acked && s.logfd >= 0) {
				r = send_log(&s, final);
			} else if (final) {
				/* a copy killed for a lost lease is offered
				 * back, not as cancelled: if the server has
				 * not recovered it yet, it runs again */
				r = post_finish(&s, job, s.killed, 0);
				if (r == 1) {
					json_decref(job);
					drop_local(lk->sp, j->id);
					break;
				}
			} else if ((atomic_load(&lk->shutdown) && st == JS_PENDING)
			    || (gone && !s.lost)) {
				/* not run, or the processor is gone: back to
				 * the server for someone else */
				long long a = js_job_int(job, "attempts", 0);
				if (gone && st == JS_WIP)
					kill_run_group(job);
				r = post_finish(&s, job, 1, st == JS_PENDING &&
				    a < j->attempts);
				if (r == 1) {
					json_decref(job);
					drop_local(lk->sp, j->id);
					break;
				}
			} else if (gone && s.lost) {
				json_decref(job);
				drop_local(lk->sp, j->id);
				break;
			}
			if (r < 0)
				/* retried at least twice a heartbeat period,
				 * so a short outage does not cost the lease */
				next_net = js_mono_ms() + backoff_ms(s.fails,
				    lk->cfg->retry_max_ms < j->hb_ms / 2 ?
				    lk->cfg->retry_max_ms : j->hb_ms / 2 > 250 ?
				    j->hb_ms / 2 : 250);
			else
				next_net = 0;
		}
		json_decref(job);
		if (r == 0) {
			/* until something changes, the backoff ends or the
			 * next heartbeat is due (never a busy loop) */
			int64_t w = 200;
			now = js_mono_ms();
			if (next_net > now) {
				if (next_net - now < w)
					w = next_net - now;
			} else if (!s.lost && s.next_hb > now &&
			    s.next_hb - now < w) {
				w = s.next_hb - now;
			}
			wait_change(lk, &seen, w < 5 ? 5 : w);
		}
	}
out:
	if (s.paused)
		pause_run(&s, NULL, 0);
	if (s.logfd >= 0)
		close(s.logfd);
	if (s.c != NULL)
		curl_easy_cleanup(s.c);
	job_done(j);
	return NULL;
}

/* Starts the thread of a job.  Returns 0, or -1 (nothing started). */
static int
add_job(struct link *lk, const char *id, long long token, uint64_t base,
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

/* Whether a job thread for id is still running. */
static int
have_job(struct link *lk, const char *id)
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

/* ---- the claimer ---- */

/* Gives a claimed job straight back (it cannot be run here now). */
static void
give_back_now(struct link *lk, CURL *c, const char *id, long long token,
    json_t *job)
{
	struct rjob j;
	struct jstate s;
	int tries;

	memset(&j, 0, sizeof j);
	memset(&s, 0, sizeof s);
	j.lk = lk;
	memcpy(j.id, id, JS_ID_SIZE);
	j.token = token;
	j.attempts = js_job_int(job, "attempts", 1);
	s.j = &j;
	s.c = c;
	for (tries = 0; tries < 3; tries++)
		if (post_finish(&s, job, 1, 1) >= 0)
			return;
}

/* Mirrors a claimed job into the local spool and starts its thread. */
static void
take(struct link *lk, CURL *c, json_t *ans, int64_t sent)
{
	json_t *job = json_object_get(ans, "job"), *lease, *local;
	const char *id = js_job_str(job, "id");
	long long token, attempts, offset;
	int64_t lease_ms, hb_ms;
	char dur[JS_DURATION_SIZE];

	lease = json_object_get(ans, "lease");
	token = js_job_int(lease, "token", -1);
	lease_ms = js_job_int(lease, "lease_ms", 60000);
	hb_ms = js_job_int(lease, "heartbeat_ms", lease_ms / 3);
	offset = js_job_int(ans, "log_offset", 0);
	attempts = js_job_int(job, "attempts", 1);
	if (id == NULL || !js_id_valid(id) || token < 0 || offset < 0) {
		js_err("claim: the server's answer is not a job with a lease; "
		    "ignored");
		return;
	}
	js_duration_format(lease_ms, dur);
	js_info("job %s: claimed from the server (token %lld, lease %s, "
	    "log at byte %lld)", id, token, dur, offset);
	if (have_job(lk, id)) {
		js_warn("job %s: an earlier copy is still being dropped here; "
		    "handing the job back", id);
		give_back_now(lk, c, id, token, job);
		return;
	}
	drop_local(lk->sp, id);		/* a leftover of an earlier claim */
	local = json_deep_copy(job);
	if (local == NULL) {
		give_back_now(lk, c, id, token, job);
		return;
	}
	json_object_set_new(local, "status", json_string("pending"));
	json_object_set_new(local, "attempts",
	    json_integer(attempts > 0 ? attempts - 1 : 0));
	json_object_set_new(local, "worker", json_null());
	json_object_set_new(local, "started_at", json_null());
	json_object_set_new(local, "pid", json_null());
	json_object_set_new(local, "pid_start", json_null());
	json_object_del(local, "not_before");
	json_object_set_new(local, "remote", json_pack("{s:I,s:I,s:I,s:I,s:I}",
	    "token", (json_int_t)token, "log_offset", (json_int_t)offset,
	    "attempts", (json_int_t)attempts, "lease_ms", (json_int_t)lease_ms,
	    "heartbeat_ms", (json_int_t)hb_ms));
	if (js_spool_submit(lk->sp, local) < 0) {
		js_err("job %s: cannot write it into %s: %s; handing it back",
		    id, js_spool_path(lk->sp), strerror(errno));
		json_decref(local);
		give_back_now(lk, c, id, token, job);
		return;
	}
	json_decref(local);
	if (add_job(lk, id, token, (uint64_t)offset, attempts, lease_ms,
	    hb_ms, sent) < 0)
		drop_local(lk->sp, id);	/* its lease expires on the server */
}

static void *
claimer_main(void *arg)
{
	struct link *lk = arg;
	struct proc_config *cfg = lk->cfg;
	CURL *c = curl_easy_init();
	json_t *req;
	char *body = NULL, err[512];
	int fails = 0, refused = 0;
	unsigned long seen = 0;

	req = json_pack("{s:s,s:O}", "worker", lk->worker, "labels", lk->labels);
	if (req != NULL) {
		if (cfg->claim_wait_ms % 1000 == 0)
			json_object_set_new(req, "wait",
			    json_integer(cfg->claim_wait_ms / 1000));
		else
			json_object_set_new(req, "wait",
			    json_real((double)cfg->claim_wait_ms / 1000.0));
		body = json_dumps(req, JSON_COMPACT);
		json_decref(req);
	}
	if (c == NULL || body == NULL) {
		js_err("claimer: out of memory; claiming nothing");
		goto out;
	}
	while (!atomic_load(&lk->no_claim)) {
		json_t *ans = NULL;
		long st;
		int64_t delay = 0;

		pthread_mutex_lock(&lk->mu);
		while (!atomic_load(&lk->no_claim) &&
		    lk->active >= (size_t)cfg->jobs)
			pthread_cond_wait(&lk->cv, &lk->mu);
		pthread_mutex_unlock(&lk->mu);
		if (atomic_load(&lk->no_claim))
			break;
		if (post(lk, c, "/api/v1/workers/claim", body, NULL, 1,
		    cfg->claim_wait_ms + 30000, 0, &st, &ans, err,
		    sizeof err) < 0) {
			if (atomic_load(&lk->no_claim))
				break;
			fails++;
			if (fails == 1)
				js_warn("claim: server %s unreachable (%s); "
				    "retrying with backoff", cfg->server, err);
			else
				js_debug("claim: %s (failure %d)", err, fails);
			delay = backoff_ms(fails, cfg->retry_max_ms);
		} else if (st == 200 || st == 204) {
			if (fails > 0 || refused)
				js_info("claim: connected to %s again",
				    cfg->server);
			fails = refused = 0;
			if (st == 200)
				/* (not from the sending: a long poll may
				 * have waited long before the claim) */
				take(lk, c, ans, js_mono_ms());
		} else {
			fails++;
			if (st == 401 || st == 403) {
				if (!refused || fails == 1)
					js_err("claim refused by the server "
					    "(%ld: %s); retrying with backoff",
					    st, why(ans, err));
				refused = 1;
			} else if (fails == 1) {
				js_warn("claim: server answered %ld (%s); "
				    "retrying with backoff", st, why(ans, err));
			}
			delay = backoff_ms(fails, cfg->retry_max_ms);
		}
		json_decref(ans);
		if (delay > 0) {
			int64_t end = js_mono_ms() + delay;
			while (!atomic_load(&lk->no_claim) && js_mono_ms() < end)
				wait_change(lk, &seen, end - js_mono_ms());
		}
	}
out:
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

/* ---- the link process ---- */

/*
 * The lease watchdog, in the link's main thread so that a job thread
 * blocked in a request cannot delay it: a job whose last heartbeat the
 * server took (counted from its sending) is almost a lease old has its
 * local copy cancelled a little before the server may recover it (the
 * cancel's SIGKILL comes within a second), so that no second run starts
 * while this one still runs.
 */
static void
watch_leases(struct link *lk)
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

/* Joins the job threads that ended.  Returns how many are left. */
static size_t
reap_jobs(struct link *lk)
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

/* The jobs a crash left final here: deliver them. */
static void
deliver_leftovers(struct link *lk)
{
	struct js_entry *v;
	size_t n, i;

	if (js_spool_list(lk->sp, JS_FINAL_MASK, 0, &v, &n) < 0) {
		js_warn("cannot list %s: %s", js_spool_path(lk->sp),
		    strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		json_t *job = js_spool_read(lk->sp, v[i].id, NULL);
		json_t *rem = json_object_get(job, "remote");
		if (job == NULL)
			continue;
		if (!json_is_object(rem)) {
			js_warn("job %s: not from a server; removed from the "
			    "work directory", v[i].id);
			drop_local(lk->sp, v[i].id);
		} else {
			js_info("job %s: %s here before a restart; delivering it",
			    v[i].id, js_job_str(job, "status"));
			add_job(lk, v[i].id, js_job_int(rem, "token", 0),
			    (uint64_t)js_job_int(rem, "log_offset", 0),
			    js_job_int(rem, "attempts", 1),
			    js_job_int(rem, "lease_ms", 60000),
			    js_job_int(rem, "heartbeat_ms", 20000),
			    js_mono_ms());
		}
		json_decref(job);
	}
	free(v);
}

static int
link_main(struct link *lk)
{
	sigset_t set;
	struct sigaction sa;
	struct pollfd pfd[2];
	pthread_t claimer;
	int64_t deadline = 0, give_up_at = 0;
	int sigfd, infd, rc = 0, claimer_ok;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return 1;
	sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	infd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sigfd < 0 || infd < 0 || inotify_add_watch(infd,
	    js_spool_path(lk->sp), IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE |
	    IN_DELETE | IN_MODIFY | IN_ONLYDIR) < 0) {
		js_err("remote link: cannot watch %s: %s", js_spool_path(lk->sp),
		    strerror(errno));
		return 1;
	}
	{
		char *ls = json_dumps(lk->labels, JSON_COMPACT);
		js_info("remote mode: claiming from %s as %s (-j %d, labels %s)",
		    lk->cfg->server, lk->worker, lk->cfg->jobs,
		    ls != NULL ? ls : "?");
		free(ls);
	}
	deliver_leftovers(lk);
	claimer_ok = pthread_create(&claimer, NULL, claimer_main, lk) == 0;
	if (!claimer_ok) {
		js_err("remote link: cannot start the claimer");
		rc = 1;
		atomic_store(&lk->no_claim, 1);
		atomic_store(&lk->shutdown, 1);
		deadline = js_mono_ms() + SHUTDOWN_MS;
	}
	pfd[0].fd = sigfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = infd;
	pfd[1].events = POLLIN;
	for (;;) {
		struct signalfd_siginfo si;
		char ev[4096];
		size_t left;
		int changed = 0;

		if (poll(pfd, 2, 100) < 0 && errno != EINTR)
			break;
		while (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
			if (si.ssi_signo == SIGTERM && !atomic_load(&lk->shutdown)) {
				js_debug("remote link: handing back what is "
				    "left");
				atomic_store(&lk->no_claim, 1);
				atomic_store(&lk->shutdown, 1);
				deadline = js_mono_ms() + SHUTDOWN_MS;
			} else if (si.ssi_signo != SIGTERM) {
				atomic_store(&lk->no_claim, 1);
			}
			changed = 1;
		}
		while (read(infd, ev, sizeof ev) > 0)
			changed = 1;
		if (getppid() != lk->parent && !atomic_load(&lk->shutdown)) {
			js_warn("remote link: the processor is gone; handing "
			    "its jobs back");
			atomic_store(&lk->no_claim, 1);
			atomic_store(&lk->shutdown, 1);
			deadline = js_mono_ms() + SHUTDOWN_MS;
		}
		if (changed)
			wake(lk);
		watch_leases(lk);
		left = reap_jobs(lk);
		if (atomic_load(&lk->shutdown)) {
			int cd;
			pthread_mutex_lock(&lk->mu);
			cd = lk->claimer_done || !claimer_ok;
			pthread_mutex_unlock(&lk->mu);
			if (left == 0 && cd)
				break;
			if (give_up_at == 0 && js_mono_ms() >= deadline) {
				js_warn("remote link: %zu job%s not handed back "
				    "in time; their leases will expire", left,
				    left == 1 ? "" : "s");
				atomic_store(&lk->give_up, 1);
				wake(lk);
				give_up_at = js_mono_ms() + 3000;
				rc = 1;
			}
			if (give_up_at != 0 && js_mono_ms() >= give_up_at)
				_exit(1);	/* stuck threads: leave them */
		}
	}
	if (claimer_ok)
		pthread_join(claimer, NULL);
	reap_jobs(lk);
	close(sigfd);
	close(infd);
	return rc;
}

pid_t
remote_start(struct proc_config *cfg, struct js_spool *sp)
{
	struct link lk;
	char host[256];
	size_t i;
	pid_t parent = getpid(), pid;
	int rc = 1;

	pid = fork();
	if (pid != 0)
		return pid;
	/* the link process */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1);
	memset(&lk, 0, sizeof lk);
	lk.cfg = cfg;
	lk.sp = sp;
	lk.parent = parent;
	js_hostname(host, sizeof host);
	snprintf(lk.worker, sizeof lk.worker, "%s:%d", host, (int)parent);
	if (curl_global_init(CURL_GLOBAL_ALL) != 0) {
		js_err("remote link: cannot initialise libcurl");
		_exit(1);
	}
	/* the labels sent with claims: the processor's whole label list */
	lk.labels = json_array();
	for (i = 0; lk.labels != NULL && i < cfg->nall_labels; i++)
		json_array_append_new(lk.labels,
		    json_string(cfg->all_labels[i]));
	lk.json_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	lk.json_hdrs = curl_slist_append(lk.json_hdrs, "Expect:");
	lk.log_hdrs = curl_slist_append(NULL,
	    "Content-Type: application/octet-stream");
	lk.log_hdrs = curl_slist_append(lk.log_hdrs, "Transfer-Encoding: chunked");
	lk.log_hdrs = curl_slist_append(lk.log_hdrs, "Expect:");
	if (lk.labels == NULL || lk.json_hdrs == NULL || lk.log_hdrs == NULL ||
	    pthread_mutex_init(&lk.mu, NULL) != 0 ||
	    pthread_cond_init(&lk.cv, NULL) != 0) {
		js_err("remote link: out of memory");
		_exit(1);
	}
	rc = link_main(&lk);
	json_decref(lk.labels);
	curl_slist_free_all(lk.json_hdrs);
	curl_slist_free_all(lk.log_hdrs);
	curl_global_cleanup();
	pthread_cond_destroy(&lk.cv);
	pthread_mutex_destroy(&lk.mu);
	js_spool_close(sp);
	proc_config_free(cfg);
	exit(rc);
}

int
remote_stop(pid_t pid, int64_t wait_ms)
{
	int64_t end = js_mono_ms() + wait_ms;
	int status;
	pid_t r;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (js_mono_ms() >= end) {
			js_warn("the remote link did not exit in time; killing it");
			kill(pid, SIGKILL);
			if (waitpid(pid, &status, 0) < 0)
				return -1;
			return -1;
		}
		usleep(20000);
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int
remote_prepare(struct js_spool *sp)
{
	struct js_entry *v;
	size_t n, i;
	int dropped = 0;

	if (js_spool_list(sp, JS_STATE_BIT(JS_PENDING) | JS_STATE_BIT(JS_WIP), 0,
	    &v, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *job = js_spool_read(sp, v[i].id, NULL);

		if (v[i].state == JS_WIP && job != NULL)
			kill_run_group(job);	/* what is left of our run */
		json_decref(job);
		js_info("job %s: left %s by an earlier run; dropped here (the "
		    "server recovers it when its lease expires)", v[i].id,
		    v[i].state == JS_WIP ? "running" : "pending");
		drop_local(sp, v[i].id);
		dropped++;
	}
	free(v);
	return dropped;
}
