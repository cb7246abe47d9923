/*
 * remote_link.c - the link process of remote mode (see remote.h, the
 * REMOTE MODE section of jobspool-processor(8), and remote_link.h for its
 * files): forked by the processor, it runs the claimer thread and one
 * thread per job, and in its main thread reads signals and inotify events
 * of the local spool (waking the threads), runs the lease watchdog, joins
 * ended threads and bounds its own shutdown.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "remote.h"
#include "remote_link.h"

#define SHUTDOWN_MS 15000		/* the link's own shutdown bound */

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
		if (job == NULL) {
			if (errno == EBADMSG)	/* emptied by a power loss */
				link_drop_local(lk->sp, v[i].id);
			continue;
		}
		if (!json_is_object(rem)) {
			js_warn("job %s: not from a server; removed from the "
			    "work directory", v[i].id);
			link_drop_local(lk->sp, v[i].id);
		} else {
			js_info("job %s: %s here before a restart; delivering it",
			    v[i].id, js_job_str(job, "status"));
			mirror_start(lk, v[i].id, js_job_int(rem, "token", 0),
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

/* The link's main thread. */
struct link_main {
	struct link *lk;
	int sigfd, infd;
	int claimer_ok;
	int64_t deadline;		/* of the shutdown */
	int64_t give_up_at;		/* then of the threads that are stuck */
	int rc;
};

/* Starts handing back what is left (a shutdown bounded by SHUTDOWN_MS). */
static void
begin_shutdown(struct link_main *m)
{
	atomic_store(&m->lk->no_claim, 1);
	atomic_store(&m->lk->shutdown, 1);
	m->deadline = js_mono_ms() + SHUTDOWN_MS;
}

/* Signals blocked into a signalfd, inotify on the local spool.  Returns
 * 0, or -1 (logged). */
static int
open_events(struct link_main *m)
{
	struct link *lk = m->lk;
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	m->infd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->sigfd < 0 || m->infd < 0 || inotify_add_watch(m->infd,
	    js_spool_path(lk->sp), IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE |
	    IN_DELETE | IN_MODIFY | IN_ONLYDIR) < 0) {
		js_err("remote link: cannot watch %s: %s", js_spool_path(lk->sp),
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Wakes the thread of each job whose files the events in buf[0..len)
 * name (a job's thread re-reads its job when woken: waking every thread
 * for every change here cost each job a read per event of every other).
 * Returns whether every thread must look (the queue overflowed). */
static int
poke_jobs(struct link *lk, const char *buf, ssize_t len)
{
	const struct inotify_event *e;
	char id[JS_ID_SIZE];
	const char *side;
	ssize_t off;
	int st, all = 0;

	for (off = 0; off + (ssize_t)sizeof *e <= len;
	    off += (ssize_t)sizeof *e + e->len) {
		e = (const struct inotify_event *)(const void *)(buf + off);
		if (e->mask & IN_Q_OVERFLOW)
			all = 1;
		else if (e->len > 0 &&
		    js_spool_parse_name(e->name, id, &st, &side) == 0)
			mirror_poke(lk, id);
	}
	return all;
}

/* Reads the signals and inotify events that came, waking the threads they
 * concern.  Returns whether every thread must look. */
static int
read_events(struct link_main *m)
{
	struct link *lk = m->lk;
	struct signalfd_siginfo si;
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int changed = 0;

	while (read(m->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGTERM && !atomic_load(&lk->shutdown)) {
			js_debug("remote link: handing back what is left");
			begin_shutdown(m);
		} else if (si.ssi_signo != SIGTERM) {
			atomic_store(&lk->no_claim, 1);
		}
		changed = 1;
	}
	while ((n = read(m->infd, ev, sizeof ev)) > 0)
		if (poke_jobs(lk, ev, n))
			changed = 1;
	if (getppid() != lk->parent && !atomic_load(&lk->shutdown)) {
		js_warn("remote link: the processor is gone; handing its jobs "
		    "back");
		begin_shutdown(m);
	}
	return changed;
}

/* During a shutdown: whether everything ended.  Past the deadline the
 * threads are told to give up; 3 s later the process exits without them. */
static int
shutdown_done(struct link_main *m, size_t left)
{
	struct link *lk = m->lk;
	int cd;

	pthread_mutex_lock(&lk->mu);
	cd = lk->claimer_done || !m->claimer_ok;
	pthread_mutex_unlock(&lk->mu);
	if (left == 0 && cd)
		return 1;
	if (m->give_up_at == 0 && js_mono_ms() >= m->deadline) {
		js_warn("remote link: %zu job%s not handed back in time; "
		    "their leases will expire", left, left == 1 ? "" : "s");
		atomic_store(&lk->give_up, 1);
		link_wake(lk);
		m->give_up_at = js_mono_ms() + 3000;
		m->rc = 1;
	}
	if (m->give_up_at != 0 && js_mono_ms() >= m->give_up_at)
		_exit(1);	/* stuck threads: leave them */
	return 0;
}

static int
link_main(struct link *lk)
{
	struct link_main m;
	struct pollfd pfd[2];
	pthread_t claimer;
	char *ls;

	memset(&m, 0, sizeof m);
	m.lk = lk;
	m.sigfd = m.infd = -1;
	if (open_events(&m) < 0)
		return 1;
	ls = js_json_dumps(lk->labels, JSON_COMPACT, NULL, NULL);
	js_info("remote mode: claiming from %s as %s (-j %d, labels %s)",
	    lk->cfg->server, lk->worker, lk->cfg->jobs, ls != NULL ? ls : "?");
	free(ls);
	deliver_leftovers(lk);
	m.claimer_ok = pthread_create(&claimer, NULL, claim_main, lk) == 0;
	if (!m.claimer_ok) {
		js_err("remote link: cannot start the claimer");
		m.rc = 1;
		begin_shutdown(&m);
	}
	pfd[0].fd = m.sigfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = m.infd;
	pfd[1].events = POLLIN;
	for (;;) {
		size_t left;

		if (poll(pfd, 2, 100) < 0 && errno != EINTR)
			break;
		if (read_events(&m))
			link_wake(lk);
		mirror_watch_leases(lk);
		left = mirror_reap(lk);
		if (atomic_load(&lk->shutdown) && shutdown_done(&m, left))
			break;
	}
	if (m.claimer_ok)
		pthread_join(claimer, NULL);
	mirror_reap(lk);
	close(m.sigfd);
	close(m.infd);
	return m.rc;
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
	if (lk.labels == NULL || rhttp_init(&lk.http, cfg) < 0 ||
	    pthread_mutex_init(&lk.mu, NULL) != 0 ||
	    pthread_cond_init(&lk.cv, NULL) != 0) {
		js_err("remote link: out of memory");
		_exit(1);
	}
	rc = link_main(&lk);
	json_decref(lk.labels);
	rhttp_free(&lk.http);
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
