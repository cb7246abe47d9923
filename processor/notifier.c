/*
 * notifier.c - the built-in notifiers: the records of SPOOL/notify and the
 * thread that sends them (see notifier.h, lib/notify.h).
 *
 * The sender's turn: read notify/ (a record queued by the loop wakes it;
 * it also looks every RESCAN_MS, for records left by a processor that
 * died), send every record that is due, then sleep until the next one is.
 * A record's fate by the answer:
 *   2xx                     sent: removed
 *   4xx but 408 and 429     refused for good (a wrong URL, chat or token):
 *                           removed, with a warning
 *   anything else, or none  tried again after 1s, 2s, 4s ... at most
 *                           --notify-retry-max (for a 429, at least the
 *                           Bot API's "retry_after"), until the record is
 *                           --notify-give-up old: then removed, with a
 *                           warning; until that next try the destination
 *                           counts as down: its other records wait too
 *                           (one request per wait, not one per record)
 * A crash after a success and before the removal sends the record again
 * at the next start: at least once.  The bot token is only ever in the
 * request's URL: never in a record, a log line or an error message.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "notifier.h"
#include "notify.h"
#include "remote_http.h"

#define TRY_MIN_MS 1000		/* the first wait after a failure */
#define RESCAN_MS 60000		/* look for records left by others */
#define BUSY_MS 5000		/* a record another sender holds */
#define REQ_TIMEOUT_MS 30000
#define REQ_STALL_S 20

/* A record the sender knows of. */
struct entry {
	char name[JS_NOTIFY_NAME_SIZE];
	int sink;			/* SINK_URL or SINK_TELEGRAM */
	int fails;			/* tries that failed so far */
	int64_t due;			/* next try (monotonic ms) */
	int64_t queued_at;		/* the record's (wall ms); 0: not read */
	int seen;			/* found by the last scan */
};
enum { SINK_URL, SINK_TELEGRAM, NSINKS };

struct notifier {
	struct js_spool *sp;
	DIR *dir;			/* notify/ */
	/* the settings the notifier was started with (its own copies) */
	char *url, *chat, *token, *api, *status_url;
	int64_t retry_max_ms, give_up_ms;
	/* a destination that failed is left alone until its record's next
	 * try: one request (and one log line) per wait, not one per record */
	int64_t down_until[NSINKS];	/* monotonic ms; 0: up */
	/* the sender thread's own */
	struct rhttp http;
	CURL *curl;
	struct entry *v;
	size_t n, cap;
	/* shared with the loop */
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* on CLOCK_MONOTONIC */
	int wake;			/* under mu: a record was queued */
	atomic_int stop;		/* also aborts a request under way */
	pthread_t th;
	int started;
};

/* One try's outcome. */
enum tried { T_SENT, T_REFUSED, T_AGAIN };

int
notifier_wanted(const struct proc_config *cfg, const json_t *job)
{
	const char *st = js_job_str(job, "status");
	int s = st != NULL ? js_state_from_ext(st) : -1;

	return s >= 0 && (cfg->notify_on & JS_STATE_BIT(s)) != 0;
}

/* Whether this notifier sends to sink. */
static int
has_sink(const struct notifier *n, const char *sink)
{
	return (strcmp(sink, "url") == 0 && n->url != NULL) ||
	    (strcmp(sink, "telegram") == 0 && n->chat != NULL);
}

char *
notifier_message(const json_t *job, const char *status_url)
{
	const char *id = js_job_str(job, "id"), *name = js_job_str(job, "name");
	const char *st = js_job_str(job, "status"), *why = js_job_str(job, "error");
	const json_t *ec = json_object_get(job, "exit_code");
	const json_t *sig = json_object_get(job, "signal");
	char how[96] = "", dur[JS_DURATION_SIZE] = "", *out;
	const char *abbrev;
	int len;

	if (json_is_integer(sig)) {
		abbrev = sigabbrev_np((int)json_integer_value(sig));
		snprintf(how, sizeof how, " (killed by signal %lld%s%s)",
		    (long long)json_integer_value(sig), abbrev ? ", SIG" : "",
		    abbrev ? abbrev : "");
	} else if (json_is_integer(ec)) {
		snprintf(how, sizeof how, " (exit code %lld)",
		    (long long)json_integer_value(ec));
	}
	if (json_is_integer(json_object_get(job, "duration_ms")))
		js_duration_format(js_job_int(job, "duration_ms", 0), dur);
	if (why == NULL || how[0] != '\0' || (st != NULL &&
	    strcmp(st, "completed") == 0))
		why = "";
#define MSG_FMT "job %s: %s%s%s%s%s%.200s%s%s%s%s"
#define MSG_ARGS name != NULL && name[0] != '\0' ? name : id ? id : "?", \
	st ? st : "?", how, dur[0] ? " after " : "", dur, why[0] ? ": " : "", \
	why, status_url ? "\n" : "", status_url ? status_url : "", \
	status_url ? "/#job=" : "", status_url && id ? id : ""
	len = snprintf(NULL, 0, MSG_FMT, MSG_ARGS);
	if (len < 0 || (out = malloc((size_t)len + 1)) == NULL)
		return NULL;
	snprintf(out, (size_t)len + 1, MSG_FMT, MSG_ARGS);
#undef MSG_FMT
#undef MSG_ARGS
	return out;
}

/* Replaces every occurrence of the bot token in s (a curl error or an
 * answer's line, which should never hold it) by "<token>". */
static void
redact(char *s, const char *token)
{
	size_t tl = token != NULL ? strlen(token) : 0, k = tl < 7 ? tl : 7;
	char *p = s;

	while (tl > 0 && (p = strstr(p, token)) != NULL) {
		memcpy(p, "<token>", k);
		memmove(p + k, p + tl, strlen(p + tl) + 1);
		p += k;
	}
}

/* The body and path of a record's request into *body and path.  0, or -1
 * when out of memory. */
static int
build_request(const struct notifier *n, const char *sink, const json_t *job,
    char **body, char *path, size_t pathlen)
{
	size_t len;
	char *text;
	json_t *o;

	if (strcmp(sink, "url") == 0) {
		path[0] = '\0';
		*body = js_job_dump(job, &len);
		return *body != NULL ? 0 : -1;
	}
	snprintf(path, pathlen, "/bot%s/sendMessage", n->token);
	if ((text = notifier_message(job, n->status_url)) == NULL)
		return -1;
	o = json_pack("{s:s, s:s}", "chat_id", n->chat, "text", text);
	free(text);
	*body = o != NULL ? js_json_dumps(o, JSON_COMPACT, NULL, &len) : NULL;
	json_decref(o);
	return *body != NULL ? 0 : -1;
}

/* Sends one record.  T_SENT, T_REFUSED (why in err) or T_AGAIN (why in
 * err; *retry_after_ms: the server's wish, or 0). */
static enum tried
deliver(struct notifier *n, const char *sink, const json_t *job,
    long *status, int64_t *retry_after_ms, char *err, size_t errlen)
{
	char path[512], *body = NULL, line[256];
	struct rhttp_req rq;
	json_t *ans = NULL;
	int rc;

	*status = 0;
	*retry_after_ms = 0;
	if (build_request(n, sink, job, &body, path, sizeof path) < 0) {
		snprintf(err, errlen, "out of memory");
		return T_AGAIN;
	}
	memset(&rq, 0, sizeof rq);
	rq.path = path;
	rq.body = body;
	rq.abort1 = &n->stop;
	rq.timeout_ms = REQ_TIMEOUT_MS;
	rq.stall_s = REQ_STALL_S;
	n->http.server = strcmp(sink, "url") == 0 ? n->url : n->api;
	rc = rhttp_post(&n->http, n->curl, &rq, status, &ans, line, sizeof line);
	explicit_bzero(path, sizeof path);
	free(body);
	redact(line, n->token);
	snprintf(err, errlen, "%s", line);
	if (rc == 0 && *status == 429)
		*retry_after_ms = 1000 * (int64_t)json_integer_value(
		    json_object_get(json_object_get(ans, "parameters"),
		    "retry_after"));
	json_decref(ans);
	if (rc < 0)
		return T_AGAIN;
	if (*status >= 200 && *status < 300)
		return T_SENT;
	if (*status >= 400 && *status < 500 && *status != 408 &&
	    *status != 429)
		return T_REFUSED;
	return T_AGAIN;
}

/* The wait after fails failed tries: 1s doubled each time, at most
 * retry_max_ms, at least what the server asked for (within that). */
static int64_t
backoff(const struct notifier *n, int fails, int64_t asked_ms)
{
	/* rhttp_backoff_cap starts at 250ms: two doublings make 1s */
	int64_t w = rhttp_backoff_cap(fails + 2, n->retry_max_ms);

	if (w < TRY_MIN_MS)
		w = TRY_MIN_MS;
	if (asked_ms > w)
		w = asked_ms < n->retry_max_ms ? asked_ms : n->retry_max_ms;
	return w;
}

/* Removes a taken record, logging a failure. */
static void
drop(struct notifier *n, const char *name, int fd)
{
	if (js_notify_remove(dirfd(n->dir), name, fd) < 0)
		js_err("%s/%s: cannot remove it: %s (it will be sent again)",
		    JS_NOTIFY_DIR, name, strerror(errno));
}

/* After a try that failed: gives up (removes the record) when it is too
 * old, else plans the next try. */
static void
failed_try(struct notifier *n, struct entry *e, const char *id,
    const char *sink, int64_t queued_at, int fd, long status,
    int64_t asked_ms, const char *why)
{
	char after[JS_DURATION_SIZE], next[JS_DURATION_SIZE];
	int64_t age = js_now_ms() - queued_at, w;

	e->fails++;
	if (age >= n->give_up_ms) {
		js_warn("job %s: %s notification given up after %s and %d "
		    "tries: %s%.0ld%s%s", id, sink, js_duration_format(age, after),
		    e->fails, status ? "HTTP " : "", status, status ? ": " : "",
		    why);
		drop(n, e->name, fd);
		e->due = -1;
		return;
	}
	w = backoff(n, e->fails, asked_ms);
	js_warn("job %s: %s notification not sent: %s%.0ld%s%s (next try in "
	    "%s)", id, sink, status ? "HTTP " : "", status, status ? ": " : "",
	    why, js_duration_format(w, next));
	js_notify_release(fd);
	e->due = js_mono_ms() + w;
	n->down_until[e->sink] = e->due;
}

/* One try of the record of e: sets e->due to the next try, or -1 when
 * the record is gone (sent, refused, given up, or not ours to send). */
static void
try_one(struct notifier *n, struct entry *e)
{
	char sink[JS_NOTIFY_SINK_SIZE], why[256];
	const char *id;
	json_t *rec;
	long status;
	int64_t asked;
	int fd, r = js_notify_take(dirfd(n->dir), e->name, &rec, &fd);

	if (r <= 0) {
		if (r < 0 && errno == EBADMSG) {
			js_warn("%s/%s: not a notification record; removed",
			    JS_NOTIFY_DIR, e->name);
			if (fd >= 0)
				drop(n, e->name, fd);
			e->due = -1;
		} else if (r < 0) {
			js_warn("%s/%s: %s", JS_NOTIFY_DIR, e->name,
			    strerror(errno));
			e->due = js_mono_ms() + backoff(n, ++e->fails, 0);
		} else {	/* gone, or another sender has it */
			e->due = js_mono_ms() + BUSY_MS;
		}
		return;
	}
	id = js_job_str(rec, "id");
	e->queued_at = js_job_int(rec, "queued_at", 1);
	js_notify_parse_name(e->name, sink);
	if (id == NULL || !json_is_object(json_object_get(rec, "job"))) {
		js_warn("%s/%s: not a notification record; removed",
		    JS_NOTIFY_DIR, e->name);
		drop(n, e->name, fd);
		e->due = -1;
	} else switch (deliver(n, sink, json_object_get(rec, "job"), &status,
	    &asked, why, sizeof why)) {
	case T_SENT:
		n->down_until[e->sink] = 0;
		js_info("job %s: %s notification sent (HTTP %ld)", id, sink,
		    status);
		drop(n, e->name, fd);
		e->due = -1;
		break;
	case T_REFUSED:
		js_warn("job %s: %s notification refused (HTTP %ld: %s); "
		    "given up", id, sink, status, why);
		drop(n, e->name, fd);
		e->due = -1;
		break;
	case T_AGAIN:
		if (atomic_load(&n->stop)) {	/* abandoned: sent next time */
			js_notify_release(fd);
			break;
		}
		failed_try(n, e, id, sink, js_job_int(rec, "queued_at", 0), fd,
		    status, asked, why);
		break;
	}
	json_decref(rec);
}

/* Reads notify/: records for a sink of ours are added (due now), entries
 * whose record is gone forgotten.  A failure is logged (the entries stay
 * as they were). */
static void
scan(struct notifier *n)
{
	char sink[JS_NOTIFY_SINK_SIZE];
	struct dirent *de;
	struct entry *nv;
	size_t i, j;

	for (i = 0; i < n->n; i++)
		n->v[i].seen = 0;
	rewinddir(n->dir);
	for (errno = 0; (de = readdir(n->dir)) != NULL; errno = 0) {
		if (strlen(de->d_name) >= sizeof n->v[0].name ||
		    !js_notify_parse_name(de->d_name, sink) || !has_sink(n, sink))
			continue;
		for (i = 0; i < n->n && strcmp(n->v[i].name, de->d_name); i++)
			;
		if (i < n->n) {
			n->v[i].seen = 1;
			continue;
		}
		if (n->n == n->cap) {
			size_t cap = n->cap ? n->cap * 2 : 16;
			if ((nv = realloc(n->v, cap * sizeof *nv)) == NULL)
				break;		/* the rest at the next scan */
			n->v = nv;
			n->cap = cap;
		}
		memset(&n->v[n->n], 0, sizeof n->v[n->n]);
		n->v[n->n].sink = strcmp(sink, "url") == 0 ? SINK_URL :
		    SINK_TELEGRAM;
		memcpy(n->v[n->n].name, de->d_name, strlen(de->d_name) + 1);
		n->v[n->n].seen = 1;
		n->n++;
	}
	if (errno != 0) {
		js_warn("cannot read %s/%s: %s", js_spool_path(n->sp),
		    JS_NOTIFY_DIR, strerror(errno));
		return;
	}
	for (i = j = 0; i < n->n; i++)
		if (n->v[i].seen)
			n->v[j++] = n->v[i];
	n->n = j;
}

/* Tries every entry that is due.  The earliest next try (monotonic ms),
 * at most RESCAN_MS away. */
static int64_t
send_due(struct notifier *n)
{
	int64_t next = js_mono_ms() + RESCAN_MS;
	size_t i, j;

	for (i = 0; i < n->n && !atomic_load(&n->stop); i++) {
		struct entry *e = &n->v[i];
		int64_t now = js_mono_ms(), down = n->down_until[e->sink];
		if (e->due > now)
			continue;
		/* its destination is down: wait with it (unless the record
		 * is due to be given up, which a try does) */
		if (down > now && e->queued_at != 0 &&
		    js_now_ms() - e->queued_at < n->give_up_ms)
			e->due = down;
		else
			try_one(n, e);
	}
	for (i = j = 0; i < n->n; i++) {
		if (n->v[i].due < 0)
			continue;
		if (n->v[i].due < next)
			next = n->v[i].due;
		n->v[j++] = n->v[i];
	}
	n->n = j;
	return next;
}

/* Sleeps until the monotonic time until, a queued record or a stop. */
static void
sleep_until(struct notifier *n, int64_t until)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(until / 1000);
	ts.tv_nsec = (long)(until % 1000) * 1000000L;
	pthread_mutex_lock(&n->mu);
	while (!n->wake && !atomic_load(&n->stop))
		if (pthread_cond_timedwait(&n->cv, &n->mu, &ts) == ETIMEDOUT)
			break;
	n->wake = 0;
	pthread_mutex_unlock(&n->mu);
}

static void *
sender(void *arg)
{
	struct notifier *n = arg;

	while (!atomic_load(&n->stop)) {
		scan(n);
		sleep_until(n, send_due(n));
	}
	return NULL;
}

void
notifier_queue(struct notifier *n, const json_t *job)
{
	static const char *const sinks[2] = { "url", "telegram" };
	const char *id = js_job_str(job, "id");
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < 2; i++)
		if (has_sink(n, sinks[i]) && js_notify_put(n->sp, job,
		    sinks[i]) < 0)
			js_err("job %s: cannot queue its %s notification: %s",
			    id ? id : "?", sinks[i], strerror(errno));
	pthread_mutex_lock(&n->mu);
	n->wake = 1;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
}

/* Frees what notifier_start made (the thread is not running). */
static void
notifier_free(struct notifier *n)
{
	if (n->dir != NULL)
		(void)closedir(n->dir);	/* a directory: nothing to flush */
	if (n->curl != NULL)
		curl_easy_cleanup(n->curl);
	rhttp_free(&n->http);
	free(n->url);
	free(n->chat);
	if (n->token != NULL)
		explicit_bzero(n->token, strlen(n->token));
	free(n->token);
	free(n->api);
	free(n->status_url);
	free(n->v);
	pthread_mutex_destroy(&n->mu);
	pthread_cond_destroy(&n->cv);
	free(n);
}

static char *
dup_opt(const char *s, int *nomem)
{
	char *d = s != NULL ? strdup(s) : NULL;

	if (s != NULL && d == NULL)
		*nomem = 1;
	return d;
}

/* The mutex, the condition variable on the monotonic clock, copies of the
 * settings, the HTTP transport.  0, or -1 (ENOMEM). */
static int
notifier_init(struct notifier *n, const struct proc_config *cfg)
{
	struct proc_config none;
	pthread_condattr_t ca;
	int nomem = 0;

	memset(&none, 0, sizeof none);	/* no server token, no TLS files */
	if (pthread_mutex_init(&n->mu, NULL) != 0 ||
	    pthread_condattr_init(&ca) != 0)
		return -1;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&n->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		return -1;
	}
	pthread_condattr_destroy(&ca);
	n->url = dup_opt(cfg->notify_url, &nomem);
	n->chat = dup_opt(cfg->notify_chat, &nomem);
	n->token = dup_opt(cfg->notify_bot_token, &nomem);
	n->api = dup_opt(cfg->notify_api, &nomem);
	n->status_url = dup_opt(cfg->status_url, &nomem);
	n->retry_max_ms = cfg->notify_retry_max_ms;
	n->give_up_ms = cfg->notify_give_up_ms;
	if (nomem || rhttp_init(&n->http, &none) < 0 ||
	    (n->curl = curl_easy_init()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
notifier_start(struct js_spool *sp, const struct proc_config *cfg,
    struct notifier **out, char *err, size_t errlen)
{
	struct notifier *n;
	int e;

	*out = NULL;
	if (cfg->notify_url == NULL && cfg->notify_chat == NULL)
		return 0;
	if (curlfn_load(err, errlen) < 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_ALL) != 0) {
		snprintf(err, errlen, "cannot initialise libcurl");
		return -1;
	}
	if ((n = calloc(1, sizeof *n)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->sp = sp;
	if (notifier_init(n, cfg) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		notifier_free(n);
		return -1;
	}
	if (js_notify_open(sp, &n->dir) < 0) {
		snprintf(err, errlen, "cannot open %s/%s: %s", js_spool_path(sp),
		    JS_NOTIFY_DIR, strerror(errno));
		notifier_free(n);
		return -1;
	}
	if ((e = pthread_create(&n->th, NULL, sender, n)) != 0) {
		snprintf(err, errlen, "cannot start its thread: %s", strerror(e));
		notifier_free(n);
		return -1;
	}
	n->started = 1;
	*out = n;
	return 0;
}

void
notifier_stop(struct notifier *n)
{
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->mu);
	atomic_store(&n->stop, 1);
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
	if (n->started)
		(void)pthread_join(n->th, NULL);
	notifier_free(n);
	curl_global_cleanup();
}
