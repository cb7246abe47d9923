/*
 * bus.c - the spool's change bus.  One thread reads inotify events of the
 * spool directory (a log written, a job file renamed) and bumps a
 * generation counter under a mutex, broadcasting a condition variable:
 * follow streams (follow.c) and WebSocket threads (ws.c, through an
 * eventfd) wake on it.  A second counter moves when a .pending file
 * appears, for the worker claims waiting for a job (routes_workers.c).
 * The same events tell when a job seen pending or running finishes, which
 * is counted once per job in /metrics (metrics.c), and when it starts
 * (its .wip file appears with started_at set): its wait in the queue is
 * observed once per job.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "idmap.h"
#include "log.h"
#include "sched.h"

struct bus {
	struct js_spool *sp;
	struct metrics *metrics;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t gen;		/* bumped by every event */
	pthread_cond_t pcv;	/* claim waiters (routes_workers.c) */
	uint64_t pgen;		/* bumped when a .pending file appears */
	int ifd;
	int stopfd;		/* eventfd: wakes the watcher to stop */
	pthread_t th;
	int running;
	int *efds;		/* WebSocket waiters */
	size_t nefds, cap;
	/* the jobs seen pending or running: one whose final file appears has
	 * finished, and is counted once (metrics.c), however often its final
	 * file is rewritten or renamed afterwards.  The value is &started once
	 * its start was observed (queue wait), else NULL. */
	struct js_idmap live;
	char started;		/* its address marks a start observed */
};

struct bus *
bus_new(struct js_spool *sp, struct metrics *m)
{
	struct bus *b = calloc(1, sizeof *b);
	int e;

	if (b == NULL)
		return NULL;
	b->sp = sp;
	b->metrics = m;
	b->ifd = b->stopfd = -1;
	js_idmap_init(&b->live);
	if ((e = pthread_mutex_init(&b->mu, NULL)) != 0) {
		free(b);
		errno = e;
		return NULL;
	}
	if ((e = pthread_cond_init(&b->cv, NULL)) != 0) {
		pthread_mutex_destroy(&b->mu);
		free(b);
		errno = e;
		return NULL;
	}
	if ((e = pthread_cond_init(&b->pcv, NULL)) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b);
		errno = e;
		return NULL;
	}
	return b;
}

/* Remembers a job seen pending or running; under b->mu.  -1 if out of
 * memory (its finish will not be counted). */
static int
live_add(struct bus *b, const char *id)
{
	if (js_idmap_get(&b->live, id, NULL))
		return 0;	/* keeps whether its start was observed */
	return js_idmap_put(&b->live, id, NULL, NULL) < 0 ? -1 : 0;
}

/* Forgets a job; 1 if it was remembered, else 0.  Under b->mu. */
static int
live_del(struct bus *b, const char *id)
{
	return js_idmap_del(&b->live, id, NULL);
}

/* A job that finished (or, in starts, that runs), to be counted once the
 * bus's lock is released. */
struct fin {
	char id[JS_ID_SIZE];
	enum js_state state;
};
/* What one read of events found: finishes and starts (at most cap of
 * each). */
struct seen {
	struct fin *fins, *starts;
	size_t nfin, nstart, cap;
};

/*
 * What one event says about the life of a job (under b->mu): a pending or
 * running name that appears is remembered; a final name that appears for
 * a remembered job is its finish, put into fins[*nfin] (at most cap); a
 * pending or running name removed with no other name of the job left
 * (deleted by hand) is forgotten.  A .wip renamed from another name in
 * the spool (here: the event before moved that name away, same cookie)
 * is a claim, which holds no start yet: the start record comes from tmp/
 * and is read then.
 */
static void
track(struct bus *b, const struct inotify_event *ev, struct seen *sn,
    int renamed_here)
{
	char id[JS_ID_SIZE];
	const char *side;
	enum js_state now;
	void *val = NULL;
	int st;

	if (ev->len == 0 || js_spool_parse_name(ev->name, id, &st, &side) < 0 ||
	    st < 0)
		return;
	if (ev->mask & (IN_MOVED_TO | IN_CREATE)) {
		if (st == JS_PENDING || st == JS_WIP) {
			if (live_add(b, id) < 0)
				js_warn("out of memory: a job's finish will not "
				    "be counted in /metrics");
			if (st == JS_WIP && !renamed_here &&
			    js_idmap_get(&b->live, id, &val) &&
			    val == NULL && sn->nstart < sn->cap)
				memcpy(sn->starts[sn->nstart++].id, id, JS_ID_SIZE);
		} else if ((JS_FINAL_MASK & JS_STATE_BIT(st)) &&
		    sn->nfin < sn->cap && live_del(b, id)) {
			memcpy(sn->fins[sn->nfin].id, id, JS_ID_SIZE);
			sn->fins[sn->nfin++].state = (enum js_state)st;
		}
	} else if ((ev->mask & IN_DELETE) && (st == JS_PENDING ||
	    st == JS_WIP) && js_idmap_get(&b->live, id, NULL) &&
	    js_spool_find(b->sp, id, &now) < 0 && errno == ENOENT) {
		/* (one not remembered, e.g. the .wip a finish removes after
		 * its final file appeared, has nothing to forget) */
		live_del(b, id);
	}
}

/* Counts finishes (metrics.c) with the run time read from the job's file,
 * wherever it is now; not under b->mu. */
static void
count_fins(struct bus *b, const struct fin *fins, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *job = js_spool_read_state(b->sp, fins[i].id,
		    fins[i].state);
		if (job == NULL && errno == ENOENT)
			job = js_spool_read_current(b->sp, fins[i].id, NULL);
		metrics_job_finished(b->metrics, fins[i].state, job);
		json_decref(job);
	}
}

/* Observes the queue wait of the jobs seen starting (once per job: the
 * first .wip seen with started_at set); not under b->mu. */
static void
count_starts(struct bus *b, const struct fin *starts, size_t n)
{
	void *val;
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *job = js_spool_read_state(b->sp, starts[i].id, JS_WIP);
		int first = 0;
		if (job == NULL || js_job_str(job, "started_at") == NULL) {
			json_decref(job);
			continue;	/* not started yet: its next event */
		}
		pthread_mutex_lock(&b->mu);
		if (js_idmap_get(&b->live, starts[i].id, &val) && val == NULL)
			first = js_idmap_put(&b->live, starts[i].id, &b->started,
			    NULL) == 0;
		pthread_mutex_unlock(&b->mu);
		if (first)
			(void)metrics_job_started(b->metrics, job);
		json_decref(job);
	}
}

/* After lost events (the kernel's queue overflowed): each remembered job
 * that is final now has finished, one that is gone is forgotten, and the
 * pending and running jobs are remembered. */
static void
recount(struct bus *b)
{
	struct js_entry *v = NULL;
	struct fin *fins = NULL;
	char (*ids)[JS_ID_SIZE] = NULL;
	size_t n = 0, i, k = 0, nf = 0, pos = 0;
	const char *id;
	void *val;
	enum js_state st;

	if (js_spool_list(b->sp, JS_STATE_BIT(JS_PENDING) |
	    JS_STATE_BIT(JS_WIP), 0, &v, &n) < 0)
		js_warn("cannot list the spool: %s", strerror(errno));
	pthread_mutex_lock(&b->mu);
	for (i = 0; i < n; i++)
		(void)live_add(b, v[i].id);
	free(v);
	if (js_idmap_len(&b->live) > 0)
		ids = malloc(js_idmap_len(&b->live) * sizeof *ids);
	while (ids != NULL && js_idmap_next(&b->live, &pos, &id, &val))
		memcpy(ids[k++], id, JS_ID_SIZE);
	pthread_mutex_unlock(&b->mu);
	fins = malloc((k ? k : 1) * sizeof *fins);
	for (i = 0; fins != NULL && i < k; i++) {
		int gone = js_spool_locate(b->sp, ids[i], &st) < 0 &&
		    errno == ENOENT;
		if (!gone && !js_sched_final(st))
			continue;
		pthread_mutex_lock(&b->mu);
		if (live_del(b, ids[i]) && !gone) {
			memcpy(fins[nf].id, ids[i], JS_ID_SIZE);
			fins[nf++].state = st;
		}
		pthread_mutex_unlock(&b->mu);
	}
	count_fins(b, fins, nf);
	free(fins);
	free(ids);
}

static void
wake_locked(struct bus *b)
{
	uint64_t one = 1;
	size_t i;

	b->gen++;
	pthread_cond_broadcast(&b->cv);
	for (i = 0; i < b->nefds; i++)
		if (write(b->efds[i], &one, sizeof one) < 0 && errno != EAGAIN)
			js_debug("eventfd write: %s", strerror(errno));
}

static void
pending_locked(struct bus *b)
{
	b->pgen++;
	pthread_cond_broadcast(&b->pcv);
}

static int
is_pending(const char *name)
{
	size_t n = strlen(name);

	return n > 8 && strcmp(name + n - 8, ".pending") == 0;
}

/* Takes one read of events (n bytes of buf) under b->mu: the finishes
 * into fins (*nfin of at most cap); 1 in *pending if a .pending file
 * appeared, in *overflow if events were lost. */
static void
take_events(struct bus *b, const char *buf, ssize_t n, struct seen *sn,
    int *pending, int *overflow)
{
	uint32_t from = 0;	/* cookie of the event before, if it moved a
				 * name away */
	ssize_t off;

	for (off = 0; off < n; ) {
		const struct inotify_event *ev =
		    (const struct inotify_event *)(buf + off);
		track(b, ev, sn, (ev->mask & IN_MOVED_TO) && ev->cookie != 0 &&
		    ev->cookie == from);
		from = (ev->mask & IN_MOVED_FROM) ? ev->cookie : 0;
		if (ev->mask & IN_Q_OVERFLOW)
			*overflow = 1;
		if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 &&
		    (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE)) &&
		    is_pending(ev->name)))
			*pending = 1;
		off += (ssize_t)(sizeof *ev + ev->len);
	}
}

static void *
watcher(void *arg)
{
	struct bus *b = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pf[2];
	/* one event per inotify_event of at least sizeof (struct inotify_event)
	 * bytes: buf cannot hold more finishes than this */
	struct fin fins[sizeof buf / sizeof (struct inotify_event)];
	struct fin starts[sizeof buf / sizeof (struct inotify_event)];
	struct seen sn = { fins, starts, 0, 0, sizeof fins / sizeof fins[0] };
	int pending, overflow;

	pf[0].fd = b->ifd;
	pf[0].events = POLLIN;
	pf[1].fd = b->stopfd;
	pf[1].events = POLLIN;
	for (;;) {
		ssize_t n;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			js_err("poll on inotify: %s", strerror(errno));
			return NULL;
		}
		if (pf[1].revents)
			return NULL;
		n = read(b->ifd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			js_err("read inotify: %s", strerror(errno));
			return NULL;
		}
		pending = overflow = 0;
		sn.nfin = sn.nstart = 0;
		pthread_mutex_lock(&b->mu);
		take_events(b, buf, n, &sn, &pending, &overflow);
		wake_locked(b);
		if (pending)
			pending_locked(b);
		pthread_mutex_unlock(&b->mu);
		count_fins(b, fins, sn.nfin);
		count_starts(b, starts, sn.nstart);
		if (overflow)
			recount(b);
	}
}

/* Remembers the jobs already pending or running (they finish later); after
 * the watch is in place, so that none is missed. */
static int
remember_live(struct bus *b)
{
	struct js_entry *v;
	size_t n, i;

	if (js_spool_list(b->sp, JS_STATE_BIT(JS_PENDING) |
	    JS_STATE_BIT(JS_WIP), 0, &v, &n) < 0)
		return -1;
	for (i = 0; i < n; i++)	/* a job running already started before */
		if (js_idmap_put(&b->live, v[i].id, v[i].state == JS_WIP ?
		    &b->started : NULL, NULL) < 0) {
			free(v);
			errno = ENOMEM;
			return -1;
		}
	free(v);
	return 0;
}

int
bus_start(struct bus *b)
{
	b->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (b->ifd < 0)
		return -1;
	if (inotify_add_watch(b->ifd, js_spool_path(b->sp), IN_MODIFY |
	    IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
	    IN_CLOSE_WRITE | IN_ATTRIB) < 0)
		return -1;
	if (remember_live(b) < 0)
		return -1;
	b->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->stopfd < 0)
		return -1;
	if ((errno = pthread_create(&b->th, NULL, watcher, b)) != 0)
		return -1;
	b->running = 1;
	return 0;
}

void
bus_free(struct bus *b)
{
	uint64_t one = 1;

	if (b == NULL)
		return;
	if (b->running) {
		if (write(b->stopfd, &one, sizeof one) < 0)
			js_warn("cannot stop the inotify thread: %s", strerror(errno));
		pthread_join(b->th, NULL);
	}
	if (b->ifd >= 0 && close(b->ifd) < 0)
		js_warn("close inotify: %s", strerror(errno));
	if (b->stopfd >= 0 && close(b->stopfd) < 0)
		js_warn("close eventfd: %s", strerror(errno));
	free(b->efds);
	js_idmap_free(&b->live, NULL);
	pthread_cond_destroy(&b->pcv);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void
bus_wake_all(struct bus *b)
{
	pthread_mutex_lock(&b->mu);
	wake_locked(b);
	pending_locked(b);
	pthread_mutex_unlock(&b->mu);
}

void
bus_pending_kick(struct bus *b)
{
	pthread_mutex_lock(&b->mu);
	pending_locked(b);
	pthread_mutex_unlock(&b->mu);
}

/* A generation counter of the bus (gen or pgen), read under its lock. */
static uint64_t
read_gen(struct bus *b, const uint64_t *g)
{
	uint64_t v;

	pthread_mutex_lock(&b->mu);
	v = *g;
	pthread_mutex_unlock(&b->mu);
	return v;
}

/* Waits on cv until *g is no longer seen, or timeout_ms passed. */
static void
wait_gen(struct bus *b, pthread_cond_t *cv, const uint64_t *g, uint64_t seen,
    int timeout_ms)
{
	struct timespec ts;

	if (timeout_ms <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->mu);
	while (*g == seen) {
		if (pthread_cond_timedwait(cv, &b->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&b->mu);
}

uint64_t
bus_pending_gen(struct bus *b)
{
	return read_gen(b, &b->pgen);
}

void
bus_wait_pending(struct bus *b, uint64_t pgen, int timeout_ms)
{
	wait_gen(b, &b->pcv, &b->pgen, pgen, timeout_ms);
}

uint64_t
bus_gen(struct bus *b)
{
	return read_gen(b, &b->gen);
}

void
bus_wait(struct bus *b, uint64_t gen, int timeout_ms)
{
	wait_gen(b, &b->cv, &b->gen, gen, timeout_ms);
}

int
bus_add_efd(struct bus *b, int efd)
{
	int rc = 0;

	pthread_mutex_lock(&b->mu);
	if (b->nefds == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		int *n = realloc(b->efds, cap * sizeof *n);
		if (n == NULL)
			rc = -1;
		else {
			b->efds = n;
			b->cap = cap;
		}
	}
	if (rc == 0)
		b->efds[b->nefds++] = efd;
	pthread_mutex_unlock(&b->mu);
	return rc;
}

void
bus_del_efd(struct bus *b, int efd)
{
	size_t i;

	pthread_mutex_lock(&b->mu);
	for (i = 0; i < b->nefds; i++)
		if (b->efds[i] == efd) {
			b->efds[i] = b->efds[--b->nefds];
			break;
		}
	pthread_mutex_unlock(&b->mu);
}
