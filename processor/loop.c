/*
 * loop.c - the processor's event loop (see proc.h, jobspool-processor(8)).
 *
 * One epoll set, seven kinds of wake-up and no polling:
 *   inotify   <id>.pending appearing (index it), <id>.cancel (kill the run)
 *   pipes     a run's output (stdout and stderr), copied into <id>.log up
 *             to --max-log-size and dropped past it (exec_output_drain)
 *   signalfd  SIGCHLD (reap, record results), SIGTERM/SIGINT (graceful
 *             shutdown), SIGHUP (reload settings)
 *   timerfd   armed at the earliest of: next heartbeat, timeout, SIGKILL
 *             after the grace period, rescan, retry backoff running out,
 *             end of the shutdown grace period
 *   a pipe    a finished job's log has been hashed (loghash.h): its result
 *             is recorded (the slot is kept, heartbeats go on, until then)
 *   a pipe    the committer has made results durable (commit.h): they are
 *             told (log line, notify)
 * A job's life: js_spool_claim (rename) -> js_spool_start_open -> vfork,
 * the child records the run (js_spool_start_write: attempt, pid and
 * process start time in <id>.wip) and execs -> js_spool_heartbeat every
 * lease/3 -> exit -> its log hashed off the loop -> its result recorded
 * off the loop by the committer (commit.h: js_spool_final_ahead and
 * js_spool_finish_final, one directory sync per batch) and only then
 * told, or js_spool_requeue for a retry or a shutdown.  Nothing of a job
 * runs before its attempt is on disk, so a processor killed at any
 * instant leaves a run counted in "attempts".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commit.h"
#include "exec.h"
#include "log.h"
#include "loghash.h"
#include "notifier.h"
#include "proc.h"
#include "sched.h"

enum stop_reason {
	STOP_NONE = 0,
	STOP_TIMEOUT,		/* its timeout ran out */
	STOP_CANCEL,		/* <id>.cancel appeared */
	STOP_SHUTDOWN,		/* we are shutting down: requeue it */
	STOP_LOST,		/* the lease was lost: result will be discarded */
};

struct run {
	int used;
	char id[JS_ID_SIZE];
	struct js_claim claim;
	json_t *job;
	struct exec_run x;	/* the executor's view of the run */
	int64_t t0;		/* monotonic ms at spawn */
	int64_t deadline;	/* timeout (monotonic ms), 0 for none */
	int64_t kill_at;	/* SIGKILL due (monotonic ms), 0 if not yet */
	int64_t next_hb;	/* next heartbeat (monotonic ms) */
	enum stop_reason stop;
	/* the run has ended and its log is being hashed (loghash.h): only
	 * heartbeats go on; then the result is recorded as result says */
	struct loghash *hashing;
	enum js_state result;
	/* its files as this processor claimed and wrote them (js_pin) */
	struct js_pin pin;
};

/* Background processes we wait for: notify commands, container stops. */
struct helper {
	pid_t pid;
	char id[JS_ID_SIZE];
	const char *what;
};

struct loop {
	struct js_spool *sp;
	struct proc_config *cfg;
	struct js_queue *q;
	struct run *runs;
	size_t nruns;		/* slots in runs */
	size_t active;		/* slots in use */
	struct helper *helpers;
	size_t nhelpers, caphelpers;
	int epfd, infd, sigfd, tfd;
	int hashr, hashw;	/* pipe: hashings of logs that are done */
	struct loghasher *hasher;	/* NULL: logs are hashed in the loop */
	int commitr, commitw;	/* pipe: results recorded (commit.h) */
	struct commit *commit;	/* the committer; NULL: results in the loop */
	size_t commits;		/* results handed to it, not yet reported */
	char host[256];
	char worker[320];
	struct executor *ex;	/* starts, watches and stops runs */
	int stopping;		/* SIGTERM/SIGINT seen: claim nothing more */
	int64_t stop_deadline;	/* end of the shutdown grace (monotonic) */
	int killed_all;		/* shutdown grace over: runs were signalled */
	int64_t next_scan;	/* monotonic */
	int rescan;		/* scan at the next turn (inotify overflow) */
	int blocked;		/* a pending job waits for another to end (lib/deps):
				 * a final file appearing rescans */
	int reload;		/* SIGHUP seen */
	int link_died;		/* remote mode: the link exited */
	struct presence *presence;	/* registry entry, pauses (presence.c) */
	struct notifier *notifier;	/* webhook, Telegram (notifier.h) */
	/* descriptors (fd_room): the open-file limit, and while they run
	 * short, the monotonic time of the next try (0: not short) */
	rlim_t nofile;
	int64_t fd_retry;
	int64_t fd_warned;	/* monotonic ms of the last warning */
};

/* Whether the run has ended (its log being hashed): no more signals,
 * timeouts or cancels for it. */
static int
ended(const struct run *r)
{
	return r->hashing != NULL;
}

/* ---- helpers we wait for ---- */

static void
helper_add(struct loop *l, pid_t pid, const char *id, const char *what)
{
	if (l->nhelpers == l->caphelpers) {
		size_t cap = l->caphelpers ? l->caphelpers * 2 : 8;
		struct helper *h = realloc(l->helpers, cap * sizeof *h);
		if (h == NULL)
			return;	/* still reaped, just not reported */
		l->helpers = h;
		l->caphelpers = cap;
	}
	l->helpers[l->nhelpers].pid = pid;
	memcpy(l->helpers[l->nhelpers].id, id, JS_ID_SIZE);
	l->helpers[l->nhelpers].what = what;
	l->nhelpers++;
}

static void
helper_cb(void *arg, pid_t pid, const char *id, const char *what)
{
	helper_add(arg, pid, id, what);
}

static int
helper_reaped(struct loop *l, pid_t pid, int status)
{
	size_t i;

	for (i = 0; i < l->nhelpers; i++) {
		struct helper *h = &l->helpers[i];
		if (h->pid != pid)
			continue;
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
		    strcmp(h->what, "container kill") == 0)
			/* usually: the container had already ended */
			js_debug("job %s: %s exited with status %d", h->id,
			    h->what, WEXITSTATUS(status));
		else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			js_warn("job %s: %s exited with status %d", h->id, h->what,
			    WEXITSTATUS(status));
		else if (WIFSIGNALED(status))
			js_warn("job %s: %s killed by signal %d", h->id, h->what,
			    WTERMSIG(status));
		else
			js_debug("job %s: %s done", h->id, h->what);
		l->helpers[i] = l->helpers[--l->nhelpers];
		return 1;
	}
	return 0;
}

/* Tells of a final job whose outcome is one of --notify-on: queues the
 * notifiers' records (notifier.h) and runs the notify command with the
 * job on stdin. */
static void
notify(struct loop *l, const json_t *job)
{
	const char *id = js_job_str(job, "id"), *status = js_job_str(job, "status");
	char *text, *env[3], idv[64], stv[64];
	size_t len;
	pid_t pid;

	if (id == NULL || !notifier_wanted(l->cfg, job))
		return;
	notifier_queue(l->notifier, job);
	if (l->cfg->notify_command == NULL)
		return;
	text = js_job_dump(job, &len);
	if (text == NULL) {
		js_warn("job %s: notify command not run: out of memory", id);
		return;
	}
	snprintf(idv, sizeof idv, "JOBSPOOL_JOB_ID=%s", id);
	snprintf(stv, sizeof stv, "JOBSPOOL_STATUS=%s", status ? status : "");
	env[0] = idv;
	env[1] = stv;
	env[2] = NULL;
	pid = run_helper_sh(l->cfg->notify_command, text, len, env);
	free(text);
	if (pid < 0) {
		js_warn("job %s: cannot run the notify command: %s", id,
		    strerror(errno));
		return;
	}
	helper_add(l, pid, id, "notify command");
}

/* ---- the pending index ---- */

/* When a hand-written <id>.pending without "seq" was submitted: the
 * change time of the file (set by the rename that published it), in ns
 * like the seq of js_job_new.  LLONG_MAX if unknown. */
static long long
submitted_ns(struct loop *l, const char *id)
{
	char name[JS_NAME_SIZE];
	struct stat st;

	if (js_spool_name(name, id, "pending") < 0 ||
	    fstatat(js_spool_fd(l->sp), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return LLONG_MAX;
	return (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
}

/* What the dependencies of a pending job say (lib/deps): 1 if it waits
 * for a job that has not ended (it is not indexed; a final file appearing
 * rescans), 2 if one ended without success (it is indexed at once,
 * whatever its labels and start time, so that the claim fails it), else 0. */
static int
deps_gate(struct loop *l, const char *id, const json_t *job)
{
	struct js_deps_result dr;

	if (!js_deps_has(job))
		return 0;
	if (js_spool_deps(l->sp, id, job, &dr) < 0) {
		js_warn("job %s: cannot look at the jobs it waits for: %s (the "
		    "next scan retries)", id, strerror(errno));
		l->blocked = 1;
		return 1;
	}
	if (dr.verdict == JS_DEPS_WAIT) {
		js_debug("job %s: waits for job %s", id, dr.id);
		l->blocked = 1;
		return 1;
	}
	return dr.verdict == JS_DEPS_FAILED ? 2 : 0;
}

/* Reads <id>.pending once for its place in the queue.  With strict, a file
 * that cannot be parsed is left out (it may still be being written: an
 * IN_CREATE); otherwise it is indexed last so that the claim can fail it.
 * With again, a job already indexed is read again: its file was replaced
 * (a PUT of priority or start time, a claim put back). */
static void
index_pending(struct loop *l, const char *id, int strict, int again)
{
	long long prio = 0, seq = LLONG_MAX;
	int64_t nb = 0, mtime = 0;
	json_t *job;
	off_t size;

	if (js_queue_contains(l->q, id)) {
		if (!again)
			return;
		js_queue_remove(l->q, id);
	}
	job = js_spool_read_state(l->sp, id, JS_PENDING);
	if (job == NULL) {
		if (errno == ENOENT || strict)
			return;
	} else {
		json_t *p = json_object_get(job, "priority");
		int dep = deps_gate(l, id, job);
		if (dep == 1) {
			json_decref(job);
			return;
		}
		if (dep == 0 && !proc_labels_match(l->cfg, job)) {
			/* not for this processor: another one has the labels */
			js_debug("job %s: needs labels this processor lacks",
			    id);
			json_decref(job);
			return;
		}
		prio = json_is_integer(p) ? json_integer_value(p) :
		    json_is_real(p) ? (long long)json_real_value(p) : 0;
		seq = js_job_int(job, "seq", LLONG_MAX);
		if (seq == LLONG_MAX)
			seq = submitted_ns(l, id);
		/* its start time (lib/sched); a hand-written "delay" counts
		 * from the file's mtime */
		if (json_object_get(job, "delay") != NULL &&
		    js_spool_stat(l->sp, id, JS_PENDING, &mtime, &size) < 0)
			mtime = 0;
		nb = dep == 2 ? 0 : js_sched_start_ms(job, mtime);
		json_decref(job);
	}
	if (js_queue_add(l->q, id, prio, seq, nb) < 0)
		js_warn("job %s: cannot index it: %s (the next rescan retries)",
		    id, strerror(errno));
}

/* A dead processor's run of a job is being recovered (jobspool-processor(8)): the
 * executor kills what is left of it. */
static void
recover_cb(const char *id, const json_t *job, void *arg)
{
	struct loop *l = arg;
	const char *worker = js_job_str(job, "worker");

	js_info("job %s: lease expired (worker %s); recovering it", id,
	    worker ? worker : "unknown");
	l->ex->ops->recover(l->ex, id, job);
}

static void stop_run(struct loop *l, struct run *r, enum stop_reason why);

static void
scan(struct loop *l)
{
	struct js_entry *v;
	size_t n, i;
	int r;

	r = js_spool_recover(l->sp, l->cfg->lease_ms, recover_cb, l);
	if (r < 0)
		js_warn("lease recovery failed: %s", strerror(errno));
	else if (r > 0)
		js_info("recovered %d expired lease%s", r, r == 1 ? "" : "s");
	if (js_spool_list(l->sp, JS_STATE_BIT(JS_PENDING), 0, &v, &n) < 0) {
		js_warn("cannot scan the spool: %s", strerror(errno));
		return;
	}
	l->blocked = 0;		/* set again by each job still waiting */
	for (i = 0; i < n; i++)
		index_pending(l, v[i].id, 0, 0);
	free(v);
	/* cancel requests whose inotify event we may have missed */
	for (i = 0; i < l->nruns; i++) {
		struct run *rn = &l->runs[i];
		if (rn->used && !ended(rn) && (rn->stop == STOP_NONE ||
		    rn->stop == STOP_TIMEOUT) &&
		    js_spool_cancel_requested(l->sp, rn->id) == 1) {
			js_info("job %s: cancel requested", rn->id);
			stop_run(l, rn, STOP_CANCEL);	/* now, not at the
							 * next timer turn */
		}
	}
}

/* ---- running jobs ---- */

/* Asks the executor to end a run: SIGTERM (for a container also the
 * runtime's stop, with grace_ms before its own kill) or SIGKILL. */
static void
signal_run(struct loop *l, struct run *r, int sig, int64_t grace_ms)
{
	l->ex->ops->stop(l->ex, r->id, &r->x, sig == SIGKILL, grace_ms);
}

/* A cancelled job ends within a second (jobspool-processor(8)): its SIGTERM to SIGKILL
 * grace is at most this. */
#define CANCEL_GRACE_MS 900

/* Starts stopping a run: SIGTERM now, SIGKILL after the grace period. */
static void
stop_run(struct loop *l, struct run *r, enum stop_reason why)
{
	int64_t grace = l->cfg->kill_grace_ms;

	if (r->stop == STOP_NONE || why == STOP_LOST ||
	    (why == STOP_CANCEL && r->stop == STOP_TIMEOUT))
		r->stop = why;	/* a cancel outranks a timeout under way */
	if (r->kill_at != 0) {
		/* already being stopped: a cancel still ends it within a
		 * second, whatever grace the timeout gave it */
		int64_t by = js_mono_ms() + CANCEL_GRACE_MS;
		if (why == STOP_CANCEL && r->stop == STOP_CANCEL &&
		    r->kill_at != INT64_MAX && r->kill_at > by)
			r->kill_at = by;
		return;
	}
	if (why == STOP_CANCEL && grace > CANCEL_GRACE_MS)
		grace = CANCEL_GRACE_MS;
	signal_run(l, r, SIGTERM, grace);
	r->kill_at = js_mono_ms() + grace;
}

/* Adds the run's output pipe to the epoll set; -1 with err (the prepared
 * run is then aborted), as the job could not be watched. */
static int
watch_output(struct loop *l, struct run *r, char *err, size_t errlen)
{
	struct epoll_event ev;

	if (!r->x.out_open)
		return 0;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.fd = r->x.outfd;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, r->x.outfd, &ev) == 0)
		return 0;
	snprintf(err, errlen, "cannot watch its output: %s", strerror(errno));
	l->ex->ops->abort(l->ex, &r->x);
	return -1;
}

/* Closes the run's output pipe and log (nothing more will be copied). */
static void
unwatch_output(struct loop *l, struct run *r)
{
	if (!r->x.out_open)
		return;
	/* (not in the set if watch_output failed: ENOENT is expected) */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, r->x.outfd, NULL);
	exec_output_close(&r->x);
}

/* A run's output pipe is readable (or at its end). */
static void
handle_output(struct loop *l, int fd)
{
	size_t i;

	for (i = 0; i < l->nruns; i++) {
		struct run *r = &l->runs[i];
		if (r->used && r->x.out_open && r->x.outfd == fd) {
			if (exec_output_drain(r->id, &r->x,
			    EXEC_PIPE_SIZE) == 1)
				unwatch_output(l, r);
			return;
		}
	}
}

static void
release(struct loop *l, struct run *r)
{
	unwatch_output(l, r);
	js_spool_unpin(&r->pin);
	json_decref(r->job);
	memset(r, 0, sizeof *r);
	r->pin.wip = -1;
	l->active--;
	l->fd_retry = 0;	/* its descriptors are free again */
}


/* The line for a finished job: outcome, exit code or signal, duration and
 * attempt, e.g. "job ID: failed (exit code 3) after 2.5s, attempt 2 of 4"
 * (durations in log.c's human units: 850ms, 12.3s, 4m05s, 2h03m). */
static void
log_finished(const char *id, const json_t *job, enum js_state state)
{
	const json_t *ec = json_object_get(job, "exit_code");
	const json_t *sig = json_object_get(job, "signal");
	long long attempts = js_job_int(job, "attempts", 1);
	long long retries = js_job_int(job, "retries", 0);
	const char *why = js_job_str(job, "error");
	char how[96] = "", dur[JS_DURATION_SIZE] = "", tries[64];

	if (json_is_integer(sig))
		snprintf(how, sizeof how, " (killed by signal %lld, %s)",
		    (long long)json_integer_value(sig),
		    strsignal((int)json_integer_value(sig)));
	else if (json_is_integer(ec))
		snprintf(how, sizeof how, " (exit code %lld)",
		    (long long)json_integer_value(ec));
	if (json_is_integer(json_object_get(job, "duration_ms")))
		js_duration_format(js_job_int(job, "duration_ms", 0), dur);
	if (retries > 0)
		snprintf(tries, sizeof tries, "attempt %lld of %lld", attempts,
		    retries + 1);
	else
		snprintf(tries, sizeof tries, "attempt %lld", attempts);
	js_info("job %s: %s%s%s%s, %s%s%s", id, js_state_status(state), how,
	    dur[0] ? " after " : "", dur, tries,
	    why != NULL && state != JS_COMPLETED ? ": " : "",
	    why != NULL && state != JS_COMPLETED ? why : "");
}

/* The final state of a claimed job is recorded as j says: the log line
 * and the notify command (only now: the result is durable). */
static void
finished(struct loop *l, const struct commit_job *j)
{
	const char *id = j->claim.id;

	if (j->rc < 0) {
		if (j->err == ESTALE)
			js_warn("job %s: lease lost; result discarded", id);
		else
			js_err("job %s: cannot record its result: %s (the lease "
			    "will expire and the job run again)", id,
			    strerror(j->err));
		return;
	}
	log_finished(id, j->job, j->state);
	notify(l, j->job);
}

/* Records the final state of a claimed job: by the committer (commit.h),
 * which is handed the job, its claim and pin, so that the slot is free
 * for another run at once; here when there is none or no memory for its
 * record.  Then finished(). */
static void
finish(struct loop *l, struct run *r, enum js_state state)
{
	struct commit_job *j, local;

	j = l->commit != NULL ? calloc(1, sizeof *j) : NULL;
	if (j == NULL)
		j = memset(&local, 0, sizeof local);
	j->claim = r->claim;
	j->pin = r->pin;
	r->pin.wip = -1;
	j->job = r->job;
	r->job = NULL;		/* (release leaves it alone) */
	j->state = state;
	if (j != &local) {
		l->commits++;
		commit_submit(l->commit, j, l->active > 0 ? l->active - 1 : 0);
		return;
	}
	commit_now(l->sp, j);
	finished(l, j);
	json_decref(j->job);
}

static void
requeue(struct loop *l, struct run *r, int give_back, int64_t not_before)
{
	if (js_spool_requeue_pin(l->sp, &r->claim, r->job, give_back,
	    not_before, &r->pin) < 0) {
		if (errno == ESTALE)
			js_warn("job %s: lease lost; result discarded", r->id);
		else
			js_err("job %s: cannot requeue it: %s", r->id,
			    strerror(errno));
	}
}

/* A job that failed by itself: requeue it for a retry if it has retries
 * left ("attempts" counts runs started; a job may run 1 + retries times).
 * The backoff before run n+1 is 2^(n-1) seconds, at most 5 minutes.
 * Returns 1 if requeued. */
static int
maybe_retry(struct loop *l, struct run *r)
{
	long long attempts = js_job_int(r->job, "attempts", 1);
	long long retries = js_job_int(r->job, "retries", 0);
	int64_t delay;
	char msg[512];
	const char *why = js_job_str(r->job, "error");

	if (attempts > retries)
		return 0;
	/* (2^8 s is the last step under the cap: attempts >= 10 get it) */
	delay = attempts >= 10 ? 300000 : (int64_t)1000 << (attempts - 1);
	snprintf(msg, sizeof msg, "%s; retry %lld of %lld in %llds",
	    why ? why : "failed", attempts, retries, (long long)(delay / 1000));
	json_object_set_new(r->job, "error", json_string(msg));
	js_info("job %s: %s", r->id, msg);
	requeue(l, r, 0, js_now_ms() + delay);
	return 1;
}

/* Records size and SHA-256 of the log in the job. */
static void
set_digest(struct run *r, const char *hex, uint64_t size)
{
	json_object_set_new(r->job, "log_size", json_integer((json_int_t)size));
	json_object_set_new(r->job, "log_sha256", json_string(hex));
}

static void
format_secs(char *out, size_t len, double s)
{
	if (s == (double)(long long)s)
		snprintf(out, len, "%llds", (long long)s);
	else
		snprintf(out, len, "%.3gs", s);
}

/* Records how the run ended (exit code or signal, duration, the
 * executor's additions) in the job.  Returns the state it earns. */
static enum js_state
record_exit(struct loop *l, struct run *r, const struct exec_result *res)
{
	char msg[256];
	enum js_state state = JS_FAILED;

	l->ex->ops->ended(l->ex, r->id, &r->x, res, r->stop != STOP_NONE);
	json_object_set_new(r->job, "duration_ms",
	    json_integer(js_mono_ms() - r->t0));
	if (res->exited) {
		json_object_set_new(r->job, "exit_code",
		    json_integer(res->exit_code));
		json_object_set_new(r->job, "signal", json_null());
		if (res->exit_code == 0) {
			state = JS_COMPLETED;
			json_object_set_new(r->job, "error", json_null());
		} else {
			snprintf(msg, sizeof msg, "exited with status %d",
			    res->exit_code);
			json_object_set_new(r->job, "error", json_string(msg));
		}
	} else {
		json_object_set_new(r->job, "exit_code", json_null());
		json_object_set_new(r->job, "signal", json_integer(res->signal));
		snprintf(msg, sizeof msg, "killed by signal %d (%s)", res->signal,
		    strsignal(res->signal));
		json_object_set_new(r->job, "error", json_string(msg));
	}
	if (l->ex->ops->collect != NULL)
		l->ex->ops->collect(l->ex, r->id, r->job, res);
	json_object_set_new(r->job, "pid", json_null());
	json_object_set_new(r->job, "pid_start", json_null());
	return state;
}

/* The ended run's result, its log hashed: finished, retried or requeued
 * as its stop reason and r->result say; the slot is then free. */
static void
settle(struct loop *l, struct run *r)
{
	char msg[256], t[32];

	switch (r->stop) {
	case STOP_SHUTDOWN:
		js_info("job %s: stopped by shutdown; requeued", r->id);
		json_object_set_new(r->job, "error",
		    json_string("interrupted by a processor shutdown; requeued"));
		requeue(l, r, 1, 0);
		break;
	case STOP_CANCEL:
		json_object_set_new(r->job, "error",
		    json_string("cancelled while running"));
		finish(l, r, JS_CANCELLED);
		break;
	case STOP_TIMEOUT:
		format_secs(t, sizeof t, json_number_value(
		    json_object_get(r->job, "timeout")));
		snprintf(msg, sizeof msg, "timeout: killed after %s", t);
		json_object_set_new(r->job, "error", json_string(msg));
		if (!maybe_retry(l, r))
			finish(l, r, JS_FAILED);
		break;
	case STOP_LOST:
		finish(l, r, r->result);	/* fenced: will be discarded */
		break;
	case STOP_NONE:
		if (r->result == JS_COMPLETED || !maybe_retry(l, r))
			finish(l, r, r->result);
		break;
	}
	release(l, r);
}

/* Hashes the ended run's log: in a thread when one can be made (then 1:
 * handle_hashed settles the run), else here (0).  A log of at most
 * HASH_HERE_MAX bytes (most jobs': empty or a few lines) is hashed here
 * at once: a few microseconds, less than handing it to the thread and
 * back; an empty one is not even opened.  known: its size as the run's
 * descriptor saw it (-1: not known, asked of the file).  Without a
 * readable log the job records no digest, as before. */
#define HASH_HERE_MAX 4096
static int
hash_log(struct loop *l, struct run *r, long long known)
{
	char hex[JS_SHA256_HEX_SIZE];
	uint64_t size;
	struct stat st;
	int fd;

	if (known == 0) {
		struct js_sha256 s;
		unsigned char md[JS_SHA256_SIZE];

		js_sha256_init(&s);
		js_sha256_final(&s, md);
		js_sha256_hex(md, hex);
		set_digest(r, hex, 0);
		return 0;
	}
	if ((fd = js_spool_log_open(l->sp, r->id, 0)) < 0) {
		js_warn("job %s: cannot read its log: %s", r->id, strerror(errno));
		return 0;
	}
	if (known < 0 && fstat(fd, &st) == 0)
		known = (long long)st.st_size;
	if (known >= 0 && known <= HASH_HERE_MAX)
		r->hashing = NULL;
	else if ((r->hashing = l->hasher != NULL ?
	    loghash_start(l->hasher, fd) : NULL) != NULL) {
		r->deadline = r->kill_at = 0;	/* it has ended */
		return 1;
	} else
		js_debug("job %s: hashing its log in the loop%s%s", r->id,
		    l->hasher != NULL ? ": " : "", l->hasher != NULL ?
		    strerror(errno) : "");
	if (js_sha256_fd(fd, hex, &size) == 0)
		set_digest(r, hex, size);
	else
		js_warn("job %s: cannot read its log: %s", r->id, strerror(errno));
	close(fd);
	return 0;
}

/* The job's run ended as res says. */
static void
job_exited(struct loop *l, struct run *r, const struct exec_result *res)
{
	struct stat st;
	long long known;

	r->result = record_exit(l, r, res);
	/* what the run wrote before it ended is in the pipe (at most its
	 * size): copy it, drop whatever strays outside its process group may
	 * still write */
	exec_output_drain(r->id, &r->x, 2 * EXEC_PIPE_SIZE);
	/* its size, while the descriptor is still the log */
	known = r->x.out_open && fstat(r->x.logfd, &st) == 0 &&
	    S_ISREG(st.st_mode) && st.st_nlink > 0 ?
	    (long long)st.st_size : -1;
	unwatch_output(l, r);
	/* (true stays true: a retry appends to the same, capped log) */
	if (r->x.truncated || !json_is_true(json_object_get(r->job,
	    "log_truncated")))
		json_object_set_new(r->job, "log_truncated",
		    json_boolean(r->x.truncated));
	if (!hash_log(l, r, known))
		settle(l, r);
}

/* Logs whose hashing is done: their runs are settled. */
static void
handle_hashed(struct loop *l)
{
	struct loghash *h;
	char hex[JS_SHA256_HEX_SIZE];
	uint64_t size;
	size_t i;

	while ((h = loghash_read(l->hashr)) != NULL) {
		for (i = 0; i < l->nruns; i++)
			if (l->runs[i].used && l->runs[i].hashing == h)
				break;
		if (i == l->nruns) {	/* cannot happen */
			loghash_free(h);
			continue;
		}
		if (loghash_result(h, hex, &size) == 0)
			set_digest(&l->runs[i], hex, size);
		else
			js_warn("job %s: cannot read its log: %s",
			    l->runs[i].id, strerror(errno));
		loghash_free(h);
		l->runs[i].hashing = NULL;
		settle(l, &l->runs[i]);
	}
	if (errno != EAGAIN)
		js_err("cannot read the hashings of logs: %s", strerror(errno));
}

/* Results the committer has recorded: told, their slots freed. */
static void
handle_committed(struct loop *l)
{
	struct commit_job *j;

	while ((j = commit_read(l->commitr)) != NULL) {
		l->commits--;
		finished(l, j);
		json_decref(j->job);
		free(j);
	}
	if (errno != EAGAIN)
		js_err("cannot read the recorded results: %s", strerror(errno));
}

static struct run *
free_slot(struct loop *l)
{
	size_t i;

	for (i = 0; i < l->nruns; i++)
		if (!l->runs[i].used)
			return &l->runs[i];
	return NULL;
}

/* Builtin {"builtin":"add","args":[a,b]}: result a+b in-process. */
static void
run_builtin(struct loop *l, struct run *r)
{
	json_t *args = json_object_get(r->job, "args");
	long long a = (long long)json_integer_value(json_array_get(args, 0));
	long long b = (long long)json_integer_value(json_array_get(args, 1));
	long long sum;

	json_object_set_new(r->job, "duration_ms", json_integer(0));
	if (__builtin_add_overflow(a, b, &sum)) {
		json_object_set_new(r->job, "error", json_string("integer "
		    "overflow: the sum does not fit in a signed 64-bit integer"));
		finish(l, r, JS_FAILED);
		return;
	}
	json_object_set_new(r->job, "result", json_integer(sum));
	json_object_set_new(r->job, "exit_code", json_integer(0));
	finish(l, r, JS_COMPLETED);
}

/* Says why a run could not be recorded (errno; ESTALE: the claim was
 * lost meanwhile). */
static void
start_refused(const struct run *r)
{
	if (errno == ESTALE)
		js_warn("job %s: claim lost before it started; dropped", r->id);
	else
		js_err("job %s: cannot record its start: %s", r->id,
		    strerror(errno));
}

/* Records the run (no process: a builtin, a cancelled or failed start)
 * in <id>.wip; -1 if that failed. */
static int
start(struct loop *l, struct run *r)
{
	if (js_spool_start_pin(l->sp, &r->claim, r->job, &r->pin) == 0)
		return 0;
	start_refused(r);
	return -1;
}

/* The run_record of a process: its start record, written by the child. */
static int
record_write(void *arg, int pid, long long pid_start)
{
	return js_spool_start_write(arg, pid, pid_start);
}

/* A run that could not start (err): the job fails, saying why (no
 * retry: it would fail the same way).  recorded: its start is in <id>.wip
 * already.  The slot is then free. */
static void
not_started(struct loop *l, struct run *r, const char *err, int recorded)
{
	js_warn("job %s: %s", r->id, err);
	json_object_set_new(r->job, "pid", json_null());
	json_object_set_new(r->job, "pid_start", json_null());
	if (recorded || start(l, r) == 0) {
		json_object_set_new(r->job, "error", json_string(err));
		json_object_set_new(r->job, "duration_ms", json_integer(0));
		finish(l, r, JS_FAILED);
	}
	release(l, r);
}

/* A claim of job id that did not win (errno as js_spool_claim set it;
 * job: the failed job of EBADMSG and ENOLINK, freed here). */
static void
claim_refused(struct loop *l, const char *id, json_t *job)
{
	if (errno == ENOENT) {
		js_debug("job %s: claimed by another processor", id);
	} else if (errno == EAGAIN) {
		/* its file changed: a later start time, or a job it waits for
		 * has not ended (lib/deps); it is pending again as it was */
		js_debug("job %s: not yet its start time", id);
		index_pending(l, id, 0, 1);
	} else if (errno == EBADMSG || errno == ENOLINK) {
		js_warn("job %s: %s, moved to %s.failed: %s", id, errno ==
		    EBADMSG ? "invalid job file" : "cannot run", id,
		    job ? js_job_str(job, "error") : "?");
		if (job != NULL)
			notify(l, job);
	} else {
		js_err("job %s: cannot claim it: %s", id, strerror(errno));
	}
	json_decref(job);
}

/* ---- descriptors ----
 * A processor whose open-file limit is near what its -j runs need (each
 * running job holds three of its descriptors, up to nine while it starts,
 * and recording a result takes two more: the committer writes one result
 * ahead at a time then, not COMMIT_AHEAD) runs fewer jobs at once instead
 * of failing them: while other runs go on, it claims nothing when fewer
 * than FD_ROOM descriptors are free, and gives a job whose start ran out
 * of them back to pending; it claims again once a run ends, or
 * FD_RETRY_MS later.  With no other run going, a start that runs out of
 * descriptors fails the job, saying so: none would free them. */
#define FD_ROOM		12
#define FD_RETRY_MS	1000
#define FD_WARN_MS	60000

static int
out_of_fds(int e)
{
	return e == EMFILE || e == ENFILE;
}

/* Whether the open-file limit is near what -j runs need (below 16 a job
 * plus 256): only then are descriptors counted, elsewhere at no cost. */
static int
fd_tight(const struct loop *l)
{
	return l->nofile != RLIM_INFINITY &&
	    l->nofile < (rlim_t)l->cfg->jobs * 16 + 256;
}

/* Whether FD_ROOM descriptors are free, found without taking them (a
 * thread recording a result must not find them in use by the probe): by
 * whether the first of the top FD_ROOM below the limit is free, since
 * descriptors are handed out lowest first.  Without a system call where
 * the limit is not tight. */
static int
fd_room(const struct loop *l)
{
	int fd, ok;

	if (!fd_tight(l))
		return 1;
	if (l->nofile <= FD_ROOM)
		return 0;
	fd = fcntl(l->epfd, F_DUPFD_CLOEXEC, (int)(l->nofile - FD_ROOM));
	if (fd < 0)
		return !out_of_fds(errno);
	ok = fd == (int)(l->nofile - FD_ROOM);
	(void)close(fd);
	return ok;
}

/* Whether the open-file limit leaves a job room once the processor has
 * set up (its descriptors are then the lowest ones): 0, or -1 saying why. */
static int
fd_enough(const struct loop *l)
{
	int fd;

	if (!fd_tight(l))
		return 0;
	fd = fcntl(l->epfd, F_DUPFD_CLOEXEC, 0);
	if (fd >= 0)
		(void)close(fd);
	if (fd >= 0 && (rlim_t)fd + FD_ROOM <= l->nofile)
		return 0;
	js_err("the open-file limit (%llu) leaves %llu descriptors free once "
	    "the processor has started, and a job needs %d: raise it "
	    "(ulimit -n, LimitNOFILE=)", (unsigned long long)l->nofile,
	    fd >= 0 ? (unsigned long long)(l->nofile - (rlim_t)fd) : 0ULL,
	    FD_ROOM);
	return -1;
}

/* Whether claims wait for a run to end (descriptors ran short). */
static int
fd_blocked(const struct loop *l)
{
	return l->fd_retry != 0 && l->active > 0 && js_mono_ms() < l->fd_retry;
}

/* Descriptors ran short with runs going: no claim until one ends.  Said
 * once a minute at most. */
static void
fd_short(struct loop *l)
{
	int64_t now = js_mono_ms();

	l->fd_retry = now + FD_RETRY_MS;
	if (l->fd_warned != 0 && now - l->fd_warned < FD_WARN_MS)
		return;
	l->fd_warned = now;
	js_warn("file descriptors run short (open-file limit %llu, jobs "
	    "running: %zu): no other job starts until one of them ends",
	    (unsigned long long)l->nofile, l->active);
}

/* A run that could not start for want of descriptors (e) while others go
 * on, which hold them and will free them: its job is given back to
 * pending, its attempt not counted, its slot released, and claims wait
 * (fd_short).  1 if so; 0: it fails or waits as any other. */
static int
fd_give_back(struct loop *l, struct run *r, int e, const char *err)
{
	if (!out_of_fds(e) || l->active < 2)
		return 0;
	if (js_spool_requeue_pin(l->sp, &r->claim, r->job, 1, 0, &r->pin) < 0)
		js_err("job %s: %s, and cannot give it back: %s (the lease "
		    "will expire and the job run again)", r->id, err,
		    strerror(errno));
	else
		js_info("job %s: %s; given back to pending, to start once a "
		    "running job ends (%zu running)", r->id, err,
		    l->active - 1);
	release(l, r);
	fd_short(l);
	return 1;
}

/* Claims job id and starts it. */
static void
claim(struct loop *l, const char *id)
{
	struct run *r = free_slot(l);
	char err[512];
	json_t *job, *to;
	int c, started, e;

	if (r == NULL)
		return;
	if (js_spool_claim_pin(l->sp, id, l->worker, &r->claim, &job,
	    &r->pin) < 0) {
		claim_refused(l, id, job);
		return;
	}
	r->used = 1;
	l->active++;
	memcpy(r->id, id, JS_ID_SIZE);
	r->job = job;
	r->t0 = js_mono_ms();
	c = js_spool_cancel_requested(l->sp, id);
	if (c == 1) {
		if (start(l, r) == 0) {
			json_object_set_new(job, "error",
			    json_string("cancelled before it started"));
			finish(l, r, JS_CANCELLED);
		}
		release(l, r);
		return;
	}
	if (json_object_get(job, "builtin") != NULL) {
		if (start(l, r) == 0)
			run_builtin(l, r);
		release(l, r);
		return;
	}
	started = 0;
	errno = 0;	/* (a failure of the job's own, e.g. its argv, sets none) */
	if (l->ex->ops->prepare(l->ex, id, job, &r->x, err, sizeof err) < 0 ||
	    watch_output(l, r, err, sizeof err) < 0) {
		e = errno;
	} else {
		struct js_start st;
		struct run_record rec = { record_write, &st };
		int rc;

		/* nothing of the run executes before it is recorded: its
		 * process writes the record, then executes */
		if (js_spool_start_open(l->sp, &r->claim, job, &r->pin,
		    &st) < 0) {
			e = errno;
			l->ex->ops->abort(l->ex, &r->x);
			snprintf(err, sizeof err, "cannot record its start: %s",
			    strerror(e));
			if (!fd_give_back(l, r, e, err)) {
				errno = e;
				start_refused(r);
				release(l, r);
			}
			return;
		}
		rc = l->ex->ops->start(l->ex, &r->x, &rec, err, sizeof err);
		started = js_spool_start_close(&st, job, &r->pin) == 0;
		if (rc == 0) {
			js_debug("job %s: started, pid %d", id, (int)r->x.pid);
			r->next_hb = r->t0 + l->cfg->lease_ms / 3;
			to = json_object_get(job, "timeout");
			if (json_is_number(to) && json_number_value(to) > 0)
				r->deadline = r->t0 +
				    (int64_t)(json_number_value(to) * 1000.0);
			return;
		}
		e = 0;	/* (its process's report says why) */
	}
	if (started || !fd_give_back(l, r, e, err))
		not_started(l, r, err, started);
}

static void
claim_ready(struct loop *l)
{
	char id[JS_ID_SIZE];

	if (l->stopping || l->active >= (size_t)l->cfg->jobs ||
	    js_queue_len(l->q) == 0 || fd_blocked(l))
		return;
	if (presence_pause_read(l->presence))
		return;		/* the whole spool is paused */
	while (l->active < (size_t)l->cfg->jobs && !fd_blocked(l)) {
		if (l->active > 0 && !fd_room(l)) {
			fd_short(l);
			break;
		}
		if (!js_queue_pop(l->q, js_now_ms(), id))
			break;
		if (!presence_hold(l->presence, id))
			claim(l, id);
	}
}

/* The registry entry's refresh, and the jobs a label pause held back,
 * indexed again so the next claim looks at the pauses again. */
static void
presence_due(struct loop *l, int64_t now)
{
	char (*ids)[JS_ID_SIZE];
	size_t n, i;

	presence_tick(l->presence, l->active, now);
	n = presence_release(l->presence, now, &ids);
	for (i = 0; i < n && !l->stopping; i++)
		index_pending(l, ids[i], 0, 1);
	free(ids);
}

/* ---- events ---- */

static void begin_shutdown(struct loop *l, int sig);

static void
reap(struct loop *l)
{
	int status;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct exec_result res;
		if (!WIFEXITED(status) && !WIFSIGNALED(status))
			continue;
		for (i = 0; i < l->nruns; i++)
			if (l->runs[i].used && !ended(&l->runs[i]) &&
			    l->ex->ops->reaped(l->ex,
			    &l->runs[i].x, pid, status, &res))
				break;
		if (i < l->nruns) {
			job_exited(l, &l->runs[i], &res);
		} else if (pid == l->cfg->link_pid) {
			/* remote mode without its link: nothing reaches the
			 * server any more; stop the jobs now */
			js_err("the remote link exited (%s %d); shutting down",
			    WIFEXITED(status) ? "status" : "signal",
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    WTERMSIG(status));
			l->cfg->link_pid = 0;
			if (!l->stopping)
				begin_shutdown(l, SIGTERM);
			l->stop_deadline = js_mono_ms();
			l->link_died = 1;
		} else {
			helper_reaped(l, pid, status);
		}
	}
	if (pid < 0 && errno != ECHILD)
		js_warn("waitpid: %s", strerror(errno));
}

static void
begin_shutdown(struct loop *l, int sig)
{
	char grace[JS_DURATION_SIZE];

	if (l->stopping) {
		js_info("%s again: stopping the running jobs now", strsignal(sig));
		l->stop_deadline = js_mono_ms();
		return;
	}
	l->stopping = 1;
	presence_stopping(l->presence);
	l->stop_deadline = js_mono_ms() + l->cfg->shutdown_grace_ms;
	if (l->cfg->link_pid > 0)
		kill(l->cfg->link_pid, SIGUSR1);	/* remote: claim no more */
	js_duration_format(l->cfg->shutdown_grace_ms, grace);
	js_info("%s: claiming no more jobs; %zu running job%s %s to "
	    "finish", strsignal(sig), l->active, l->active == 1 ? " gets" :
	    "s get", grace);
}

static void
handle_signals(struct loop *l)
{
	struct signalfd_siginfo si;
	ssize_t n;

	for (;;) {
		n = read(l->sigfd, &si, sizeof si);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof si)
			break;
		switch (si.ssi_signo) {
		case SIGCHLD:
			break;	/* reaped below */
		case SIGTERM:
		case SIGINT:
			begin_shutdown(l, (int)si.ssi_signo);
			break;
		case SIGHUP:
			l->reload = 1;
			break;
		}
	}
	reap(l);
}

static void
handle_inotify(struct loop *l)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	for (;;) {
		n = read(l->infd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			char id[JS_ID_SIZE];
			const char *side;
			int state;
			size_t i;

			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				l->rescan = 1;
				continue;
			}
			if (ev->len == 0 || js_spool_parse_name(ev->name, id,
			    &state, &side) < 0)
				continue;
			if (state == JS_PENDING) {
				if (!l->stopping)
					index_pending(l, id,
					    (ev->mask & IN_CREATE) != 0,
					    (ev->mask & IN_MOVED_TO) != 0);
				continue;
			}
			if (state > JS_WIP && l->blocked)
				l->rescan = 1;	/* a job ended: its dependents? */
			if (side == NULL || strcmp(side, "cancel") != 0)
				continue;
			for (i = 0; i < l->nruns; i++) {
				struct run *r = &l->runs[i];
				if (r->used && strcmp(r->id, id) == 0 &&
				    !ended(r) && (r->stop == STOP_NONE ||
				    r->stop == STOP_TIMEOUT)) {
					js_info("job %s: cancel requested", id);
					stop_run(l, r, STOP_CANCEL);
				}
			}
		}
	}
}

/* The timeout, cancel and kill of a running run that are due. */
static void
run_timers(struct loop *l, struct run *r, int64_t now)
{
	if (r->stop == STOP_CANCEL && r->kill_at == 0)
		stop_run(l, r, STOP_CANCEL);	/* found by a scan */
	if (r->deadline != 0 && now >= r->deadline && r->stop == STOP_NONE) {
		js_info("job %s: timeout; stopping it", r->id);
		stop_run(l, r, STOP_TIMEOUT);
	}
	if (r->kill_at != 0 && now >= r->kill_at) {
		signal_run(l, r, SIGKILL, 0);
		r->kill_at = INT64_MAX;	/* once */
	}
}

/* A heartbeat of the run's claim; also while its log is being hashed
 * (the run has ended then: a lost lease shows when its result is
 * recorded). */
static void
heartbeat(struct loop *l, struct run *r, int64_t now)
{
	if (js_spool_heartbeat(l->sp, r->id) < 0) {
		js_warn("job %s: heartbeat failed: %s; the lease is lost%s",
		    r->id, strerror(errno), r->hashing == NULL ?
		    ", stopping the job" : "");
		if (r->hashing == NULL) {
			r->stop = STOP_LOST;
			signal_run(l, r, SIGKILL, 0);
			r->kill_at = INT64_MAX;
		}
	}
	r->next_hb = now + l->cfg->lease_ms / 3;
}

/* Heartbeats, timeouts, kills, shutdown, rescans that are due. */
static void
handle_timers(struct loop *l)
{
	int64_t now = js_mono_ms();
	size_t i;

	if (l->stopping && !l->killed_all && now >= l->stop_deadline) {
		l->killed_all = 1;
		if (l->active > 0)
			js_info("shutdown grace over: stopping %zu job%s",
			    l->active, l->active == 1 ? "" : "s");
		for (i = 0; i < l->nruns; i++)
			if (l->runs[i].used && !ended(&l->runs[i])) {
				l->runs[i].stop = l->runs[i].stop == STOP_NONE ?
				    STOP_SHUTDOWN : l->runs[i].stop;
				stop_run(l, &l->runs[i], STOP_SHUTDOWN);
			}
	}
	for (i = 0; i < l->nruns; i++) {
		struct run *r = &l->runs[i];
		if (!r->used)
			continue;
		if (r->hashing == NULL)
			run_timers(l, r, now);
		if (now >= r->next_hb)
			heartbeat(l, r, now);
	}
	presence_due(l, now);
	if (l->rescan || now >= l->next_scan) {
		l->rescan = 0;
		l->next_scan = now + l->cfg->scan_interval_ms;
		if (!l->stopping)
			scan(l);
	}
}

static int64_t
next_wakeup(struct loop *l)
{
	int64_t t = l->next_scan, nr;
	size_t i;

#define EARLIER(x) do { if ((x) != 0 && (x) < t) t = (x); } while (0)
	if (l->rescan)		/* inotify lost events: scan at once */
		EARLIER(js_mono_ms());
	if (l->stopping && !l->killed_all)
		EARLIER(l->stop_deadline);
	EARLIER(presence_next(l->presence));
	for (i = 0; i < l->nruns; i++) {
		struct run *r = &l->runs[i];
		if (!r->used)
			continue;
		EARLIER(r->next_hb);
		if (r->stop == STOP_NONE)
			EARLIER(r->deadline);
		if (r->kill_at != INT64_MAX)
			EARLIER(r->kill_at);
	}
	nr = js_queue_next_ready(l->q);
	if (nr != 0 && !l->stopping &&
	    l->active < (size_t)l->cfg->jobs) {
		int64_t wait = nr - js_now_ms();
		EARLIER(fd_blocked(l) ? l->fd_retry :
		    js_mono_ms() + (wait > 0 ? wait : 0) + 1);
	}
#undef EARLIER
	return t;
}

static int
arm_timer(struct loop *l, int64_t at)
{
	struct itimerspec its;

	memset(&its, 0, sizeof its);
	if (at <= 0)
		at = 1;
	its.it_value.tv_sec = at / 1000;
	its.it_value.tv_nsec = (at % 1000) * 1000000;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(l->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
do_reload(struct loop *l)
{
	char err[512], lease[JS_DURATION_SIZE];
	size_t i;

	l->reload = 0;
	if (proc_reload(l->cfg, err, sizeof err) < 0) {
		js_err("SIGHUP: configuration not reloaded: %s", err);
		return;
	}
	if ((size_t)l->cfg->jobs > l->nruns) {
		struct run *nr = realloc(l->runs, (size_t)l->cfg->jobs * sizeof *nr);
		if (nr == NULL) {
			js_err("SIGHUP: out of memory; keeping -j %zu", l->nruns);
			l->cfg->jobs = (int)l->nruns;
		} else {
			for (i = l->nruns; i < (size_t)l->cfg->jobs; i++)
				memset(&nr[i], 0, sizeof nr[i]);
			l->runs = nr;
			l->nruns = (size_t)l->cfg->jobs;
		}
	}
	js_duration_format(l->cfg->lease_ms, lease);
	js_info("SIGHUP: configuration reloaded (-j %d, lease %s)",
	    l->cfg->jobs, lease);
}

static int
setup(struct loop *l)
{
	struct epoll_event ev;
	sigset_t set;
	struct sigaction sa;
	int fds[5], hp[2], i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	/* a log growing past our own file size limit (RLIMIT_FSIZE): the
	 * write fails with EFBIG and the output is dropped, as on a full
	 * disk (exec_output_drain), instead of SIGXFSZ killing us (jobs get
	 * the default back: run.c) */
	if (sigaction(SIGXFSZ, &sa, NULL) < 0)
		return -1;
	run_raise_nofile();
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	l->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	l->infd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->sigfd < 0 || l->infd < 0 || l->tfd < 0 || l->epfd < 0)
		return -1;
	/* the hashing threads write into it (blocking), the loop reads */
	if (pipe2(hp, O_CLOEXEC) < 0)
		return -1;
	l->hashr = hp[0];
	l->hashw = hp[1];
	if (fcntl(l->hashr, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	/* the same for the committer's reports */
	if (pipe2(hp, O_CLOEXEC) < 0)
		return -1;
	l->commitr = hp[0];
	l->commitw = hp[1];
	if (fcntl(l->commitr, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	/* watched before the first scan, so that nothing falls in between */
	if (inotify_add_watch(l->infd, js_spool_path(l->sp),
	    IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR) < 0)
		return -1;
	fds[0] = l->sigfd;
	fds[1] = l->infd;
	fds[2] = l->tfd;
	fds[3] = l->hashr;
	fds[4] = l->commitr;
	for (i = 0; i < 5; i++) {
		memset(&ev, 0, sizeof ev);
		ev.events = EPOLLIN;
		ev.data.fd = fds[i];
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -1;
	}
	return 0;
}

/* What epoll says is ready, evs[0..n). */
static void
dispatch(struct loop *l, const struct epoll_event *evs, int n)
{
	uint64_t ticks;
	int i;

	for (i = 0; i < n; i++) {
		if (evs[i].data.fd == l->sigfd)
			handle_signals(l);
		else if (evs[i].data.fd == l->infd)
			handle_inotify(l);
		else if (evs[i].data.fd == l->hashr)
			handle_hashed(l);
		else if (evs[i].data.fd == l->commitr)
			handle_committed(l);
		else if (evs[i].data.fd == l->tfd) {
			if (read(l->tfd, &ticks, sizeof ticks) < 0 &&
			    errno != EAGAIN)
				js_warn("timerfd read: %s", strerror(errno));
		} else {
			handle_output(l, evs[i].data.fd);
		}
	}
}

/* Turns of the loop until a shutdown completes.  0, or 1 on a failure of
 * the loop itself. */
static int
run_loop(struct loop *l)
{
	struct epoll_event evs[8];
	int n;

	for (;;) {
		if (l->reload)
			do_reload(l);
		claim_ready(l);
		if (l->stopping && l->active == 0 && l->commits == 0)
			return 0;
		if (arm_timer(l, next_wakeup(l)) < 0) {
			js_err("timerfd_settime: %s", strerror(errno));
			return 1;
		}
		n = epoll_wait(l->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			js_err("epoll_wait: %s", strerror(errno));
			return 1;
		}
		dispatch(l, evs, n);
		handle_timers(l);
	}
}

static void
close_fd(int fd)
{
	if (fd >= 0)
		(void)close(fd);	/* event fds and pipes: nothing to flush */
}

/* Frees what the loop holds; runs still going (a failure of the loop) are
 * killed, hashings still going waited for. */
static void
loop_free(struct loop *l)
{
	size_t k;

	struct commit_job *j;

	/* what the committer holds is recorded first (not told: the loop
	 * failed) */
	commit_free(l->commit);
	while (l->commitr >= 0 && (j = commit_read(l->commitr)) != NULL) {
		json_decref(j->job);
		free(j);
	}
	for (k = 0; l->runs != NULL && k < l->nruns; k++)
		if (l->runs[k].used && l->runs[k].hashing != NULL) {
			loghash_free(l->runs[k].hashing);	/* waits for it */
			js_spool_unpin(&l->runs[k].pin);
			json_decref(l->runs[k].job);
		} else if (l->runs[k].used) {
			l->ex->ops->stop(l->ex, l->runs[k].id, &l->runs[k].x, 1, 0);
			unwatch_output(l, &l->runs[k]);
			js_spool_unpin(&l->runs[k].pin);
			json_decref(l->runs[k].job);
		}
	loghasher_free(l->hasher);	/* after its hashings */
	free(l->runs);
	free(l->helpers);
	notifier_stop(l->notifier);
	if (l->ex != NULL)
		l->ex->ops->free(l->ex);
	js_queue_free(l->q);
	presence_free(l->presence);
	close_fd(l->sigfd);
	close_fd(l->infd);
	close_fd(l->tfd);
	close_fd(l->epfd);
	close_fd(l->hashr);
	close_fd(l->hashw);
	close_fd(l->commitr);
	close_fd(l->commitw);
}

int
proc_loop(struct js_spool *sp, struct proc_config *cfg)
{
	struct loop l;
	struct rlimit rl;
	char lease[JS_DURATION_SIZE], err[512];
	int rc = 1;

	memset(&l, 0, sizeof l);
	l.sp = sp;
	l.cfg = cfg;
	l.sigfd = l.infd = l.tfd = l.epfd = l.hashr = l.hashw = -1;
	l.commitr = l.commitw = -1;
	js_hostname(l.host, sizeof l.host);
	snprintf(l.worker, sizeof l.worker, "%s:%d", l.host, (int)getpid());
	l.ex = cfg->executor == PROC_EXEC_SLURM ?
	    exec_slurm_new(sp, cfg, getenv("HOME"), helper_cb, &l) :
	    exec_local_new(sp, cfg, getenv("HOME"), helper_cb, &l);
	l.q = js_queue_new();
	l.nruns = (size_t)cfg->jobs;
	l.runs = calloc(l.nruns, sizeof *l.runs);
	/* (as run_raise_nofile left it) */
	l.nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur :
	    RLIM_INFINITY;
	if (l.q == NULL || l.runs == NULL || l.ex == NULL) {
		js_err("out of memory");
		goto out;
	}
	if (setup(&l) < 0) {
		js_err("cannot set up the event loop on %s: %s",
		    js_spool_path(sp), strerror(errno));
		goto out;
	}
	/* results are recorded in the loop without it (commit.h) */
	if ((l.commit = commit_new(sp, l.commitw, fd_tight(&l) ? 1 :
	    COMMIT_AHEAD)) == NULL)
		js_warn("cannot start the committer: %s; results are "
		    "recorded in the event loop", strerror(errno));
	if ((l.hasher = loghasher_new(l.hashw)) == NULL)
		js_warn("cannot start the log hasher: %s; logs are hashed in "
		    "the event loop", strerror(errno));
	/* after setup: its thread inherits the blocked signals */
	if (notifier_start(sp, cfg, &l.notifier, err, sizeof err) < 0) {
		js_err("cannot start the notifiers: %s", err);
		goto out;
	}
	js_duration_format(cfg->lease_ms, lease);
	js_info("processing %s as %s, -j %d, lease %s, jobs run as %s%s",
	    js_spool_path(sp), l.worker, cfg->jobs, lease, cfg->user,
	    geteuid() == 0 && !cfg->run_as ? " (root: --user root)" : "");
	if ((l.presence = presence_new(sp, cfg)) == NULL) {
		js_err("out of memory");
		goto out;
	}
	if (fd_enough(&l) < 0)
		goto out;
	scan(&l);
	l.next_scan = js_mono_ms() + cfg->scan_interval_ms;
	rc = run_loop(&l);
	if (rc == 0 && l.link_died)
		rc = 1;
	if (rc == 0)
		js_info("shut down");
out:
	loop_free(&l);
	return rc;
}
