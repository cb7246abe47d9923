/*
 * follow.c - live logs.  One thread reads inotify events of the spool
 * directory (a log written, a job file renamed) and bumps a generation
 * counter under a mutex, broadcasting a condition variable; each follow
 * stream, blocked in its MHD content callback, wakes, reads what is new
 * with pread from its own offset, and sleeps again.  No polling: the only
 * timeout (1 s) is a safety net for spools on filesystems without inotify
 * events (NFS).  A stream ends when its job is final (or gone) and its log
 * has been read to the end.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "sched.h"
#include "log.h"

#define SAFETY_MS 1000

/* A follow stream has no libmicrohttpd timeout (it may wait for hours for
 * a job to start); it checks its client is still there each time it would
 * sleep instead: a closed or reset socket ends it. */
static int
peer_gone(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLRDHUP };

	if (sock < 0 || poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

int
follow_peer_gone(int sock)
{
	return peer_gone(sock);
}

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t gen;
	pthread_cond_t pcv;	/* claim waiters (routes_workers.c) */
	uint64_t pgen;		/* bumped when a .pending file appears */
	int ifd;
	int stopfd;		/* eventfd: wakes the watcher to stop */
	pthread_t th;
	int running;
	int *efds;		/* WebSocket waiters */
	size_t nefds, cap;
	/* the jobs seen pending or running (a set of ids): one whose final
	 * file appears has finished, and is counted once (metrics.c), however
	 * often its final file is rewritten or renamed afterwards */
	struct live **live;
	size_t nlive, nblive;
} hub = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	  .pcv = PTHREAD_COND_INITIALIZER, .ifd = -1, .stopfd = -1 };

struct live {
	struct live *next;
	char id[JS_ID_SIZE];
};

static struct api *hub_api;

static struct live **
live_slot(const char *id)	/* under hub.mu; hub.live allocated */
{
	uint64_t h = 1469598103934665603ULL;
	const char *p;
	struct live **l;

	for (p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	l = &hub.live[h & (hub.nblive - 1)];
	while (*l != NULL && strcmp((*l)->id, id) != 0)
		l = &(*l)->next;
	return l;
}

/* Remembers a job seen pending or running; under hub.mu.  -1 if out of
 * memory (its finish will not be counted). */
static int
live_add(const char *id)
{
	struct live **l, *e;

	if (hub.live == NULL) {
		hub.nblive = 1024;
		hub.live = calloc(hub.nblive, sizeof *hub.live);
		if (hub.live == NULL)
			return -1;
	}
	l = live_slot(id);
	if (*l != NULL)
		return 0;
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return -1;
	memcpy(e->id, id, JS_ID_SIZE);
	*l = e;
	if (++hub.nlive > 2 * hub.nblive) {
		size_t nb = hub.nblive * 2, i;
		struct live **b = calloc(nb, sizeof *b), *x, *nx;
		if (b == NULL)
			return 0;	/* stays correct, only slower */
		for (i = 0; i < hub.nblive; i++)
			for (x = hub.live[i]; x != NULL; x = nx) {
				uint64_t h = 1469598103934665603ULL;
				const char *p;
				nx = x->next;
				for (p = x->id; *p; p++)
					h = (h ^ (unsigned char)*p) *
					    1099511628211ULL;
				x->next = b[h & (nb - 1)];
				b[h & (nb - 1)] = x;
			}
		free(hub.live);
		hub.live = b;
		hub.nblive = nb;
	}
	return 0;
}

/* Forgets a job; 1 if it was remembered, else 0.  Under hub.mu. */
static int
live_del(const char *id)
{
	struct live **l, *e;

	if (hub.live == NULL)
		return 0;
	l = live_slot(id);
	if (*l == NULL)
		return 0;
	e = *l;
	*l = e->next;
	free(e);
	hub.nlive--;
	return 1;
}

static void
live_free(void)
{
	size_t i;
	struct live *x, *nx;

	for (i = 0; hub.live != NULL && i < hub.nblive; i++)
		for (x = hub.live[i]; x != NULL; x = nx) {
			nx = x->next;
			free(x);
		}
	free(hub.live);
	hub.live = NULL;
	hub.nlive = hub.nblive = 0;
}

/* A job that finished, to be counted once the hub's lock is released. */
struct fin {
	char id[JS_ID_SIZE];
	enum js_state state;
};

/*
 * What one event says about the life of a job (under hub.mu): a pending or
 * running name that appears is remembered; a final name that appears for
 * a remembered job is its finish, put into fins[*nfin] (at most cap); a
 * pending or running name removed with no other name of the job left
 * (deleted by hand) is forgotten.
 */
static void
track(const struct inotify_event *ev, struct fin *fins, size_t *nfin,
    size_t cap)
{
	char id[JS_ID_SIZE];
	const char *side;
	enum js_state now;
	int st;

	if (ev->len == 0 || js_spool_parse_name(ev->name, id, &st, &side) < 0 ||
	    st < 0)
		return;
	if (ev->mask & (IN_MOVED_TO | IN_CREATE)) {
		if (st == JS_PENDING || st == JS_WIP) {
			if (live_add(id) < 0)
				js_warn("out of memory: a job's finish will not "
				    "be counted in /metrics");
		} else if ((JS_FINAL_MASK & JS_STATE_BIT(st)) &&
		    *nfin < cap && live_del(id)) {
			memcpy(fins[*nfin].id, id, JS_ID_SIZE);
			fins[(*nfin)++].state = (enum js_state)st;
		}
	} else if ((ev->mask & IN_DELETE) && (st == JS_PENDING ||
	    st == JS_WIP) && js_spool_find(hub_api->sp, id, &now) < 0 &&
	    errno == ENOENT) {
		live_del(id);
	}
}

/* Counts finishes (metrics.c) with the run time read from the job's file,
 * wherever it is now; not under hub.mu. */
static void
count_fins(const struct fin *fins, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		json_t *job = js_spool_read_state(hub_api->sp, fins[i].id,
		    fins[i].state);
		if (job == NULL && errno == ENOENT)
			job = js_spool_read_current(hub_api->sp, fins[i].id, NULL);
		metrics_job_finished(fins[i].state, job);
		json_decref(job);
	}
}

/* After lost events (the kernel's queue overflowed): each remembered job
 * that is final now has finished, one that is gone is forgotten, and the
 * pending and running jobs are remembered. */
static void
recount(void)
{
	struct js_entry *v = NULL;
	struct fin *fins = NULL;
	char (*ids)[JS_ID_SIZE] = NULL;
	size_t n = 0, i, k = 0, nf = 0;
	struct live *x;
	enum js_state st;

	if (js_spool_list(hub_api->sp, JS_STATE_BIT(JS_PENDING) |
	    JS_STATE_BIT(JS_WIP), 0, &v, &n) < 0)
		js_warn("cannot list the spool: %s", strerror(errno));
	pthread_mutex_lock(&hub.mu);
	for (i = 0; i < n; i++)
		(void)live_add(v[i].id);
	free(v);
	if (hub.nlive > 0)
		ids = malloc(hub.nlive * sizeof *ids);
	for (i = 0; ids != NULL && i < hub.nblive; i++)
		for (x = hub.live[i]; x != NULL; x = x->next)
			memcpy(ids[k++], x->id, JS_ID_SIZE);
	pthread_mutex_unlock(&hub.mu);
	fins = malloc((k ? k : 1) * sizeof *fins);
	for (i = 0; fins != NULL && i < k; i++) {
		int gone = js_spool_locate(hub_api->sp, ids[i], &st) < 0 &&
		    errno == ENOENT;
		if (!gone && !js_sched_final(st))
			continue;
		pthread_mutex_lock(&hub.mu);
		if (live_del(ids[i]) && !gone) {
			memcpy(fins[nf].id, ids[i], JS_ID_SIZE);
			fins[nf++].state = st;
		}
		pthread_mutex_unlock(&hub.mu);
	}
	count_fins(fins, nf);
	free(fins);
	free(ids);
}

static void
wake_locked(void)
{
	uint64_t one = 1;
	size_t i;

	hub.gen++;
	pthread_cond_broadcast(&hub.cv);
	for (i = 0; i < hub.nefds; i++)
		if (write(hub.efds[i], &one, sizeof one) < 0 && errno != EAGAIN)
			js_debug("eventfd write: %s", strerror(errno));
}

static int
is_pending(const char *name)
{
	size_t n = strlen(name);

	return n > 8 && strcmp(name + n - 8, ".pending") == 0;
}

static void *
watcher(void *arg)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd pf[2];
	/* one event per inotify_event of at least sizeof (struct inotify_event)
	 * bytes: buf cannot hold more finishes than this */
	struct fin fins[sizeof buf / sizeof (struct inotify_event)];
	size_t nfin;
	int pending, overflow;

	(void)arg;
	pf[0].fd = hub.ifd;
	pf[0].events = POLLIN;
	pf[1].fd = hub.stopfd;
	pf[1].events = POLLIN;
	for (;;) {
		ssize_t n, off;
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			js_err("poll on inotify: %s", strerror(errno));
			return NULL;
		}
		if (pf[1].revents)
			return NULL;
		n = read(hub.ifd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			js_err("read inotify: %s", strerror(errno));
			return NULL;
		}
		pthread_mutex_lock(&hub.mu);
		pending = 0;
		nfin = 0;
		overflow = 0;
		for (off = 0; off < n; ) {
			struct inotify_event *ev = (struct inotify_event *)(buf + off);
			track(ev, fins, &nfin, sizeof fins / sizeof fins[0]);
			if (ev->mask & IN_Q_OVERFLOW)
				overflow = 1;
			if ((ev->mask & IN_Q_OVERFLOW) || (ev->len > 0 &&
			    (ev->mask & (IN_MOVED_TO | IN_CLOSE_WRITE)) &&
			    is_pending(ev->name)))
				pending = 1;
			off += (ssize_t)(sizeof *ev + ev->len);
		}
		wake_locked();
		if (pending) {
			hub.pgen++;
			pthread_cond_broadcast(&hub.pcv);
		}
		pthread_mutex_unlock(&hub.mu);
		count_fins(fins, nfin);
		if (overflow)
			recount();
	}
}

int
follow_start(struct api *a)
{
	hub_api = a;
	hub.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (hub.ifd < 0)
		return -1;
	if (inotify_add_watch(hub.ifd, js_spool_path(a->sp), IN_MODIFY |
	    IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
	    IN_CLOSE_WRITE | IN_ATTRIB) < 0)
		return -1;
	/* the jobs already pending or running finish later: remember them
	 * (after the watch is in place, so that none is missed) */
	{
		struct js_entry *v;
		size_t n, i;
		if (js_spool_list(a->sp, JS_STATE_BIT(JS_PENDING) |
		    JS_STATE_BIT(JS_WIP), 0, &v, &n) < 0)
			return -1;
		for (i = 0; i < n; i++)
			if (live_add(v[i].id) < 0) {
				free(v);
				errno = ENOMEM;
				return -1;
			}
		free(v);
	}
	hub.stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hub.stopfd < 0)
		return -1;
	if ((errno = pthread_create(&hub.th, NULL, watcher, NULL)) != 0)
		return -1;
	hub.running = 1;
	return 0;
}

void
follow_stop(void)
{
	uint64_t one = 1;

	if (hub.running) {
		if (write(hub.stopfd, &one, sizeof one) < 0)
			js_warn("cannot stop the inotify thread: %s", strerror(errno));
		pthread_join(hub.th, NULL);
		hub.running = 0;
	}
	if (hub.ifd >= 0)
		close(hub.ifd);
	if (hub.stopfd >= 0)
		close(hub.stopfd);
	hub.ifd = hub.stopfd = -1;
	free(hub.efds);
	hub.efds = NULL;
	live_free();
}

void
follow_wake_all(void)
{
	pthread_mutex_lock(&hub.mu);
	wake_locked();
	hub.pgen++;
	pthread_cond_broadcast(&hub.pcv);
	pthread_mutex_unlock(&hub.mu);
}

void
follow_pending_kick(void)
{
	pthread_mutex_lock(&hub.mu);
	hub.pgen++;
	pthread_cond_broadcast(&hub.pcv);
	pthread_mutex_unlock(&hub.mu);
}

/* A generation counter of the hub (gen or pgen), read under its lock. */
static uint64_t
read_gen(const uint64_t *g)
{
	uint64_t v;

	pthread_mutex_lock(&hub.mu);
	v = *g;
	pthread_mutex_unlock(&hub.mu);
	return v;
}

/* Waits on cv until *g is no longer seen, or timeout_ms passed. */
static void
wait_gen(pthread_cond_t *cv, const uint64_t *g, uint64_t seen, int timeout_ms)
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
	pthread_mutex_lock(&hub.mu);
	while (*g == seen) {
		if (pthread_cond_timedwait(cv, &hub.mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&hub.mu);
}

uint64_t
follow_pending_gen(void)
{
	return read_gen(&hub.pgen);
}

void
follow_wait_pending(uint64_t pgen, int timeout_ms)
{
	wait_gen(&hub.pcv, &hub.pgen, pgen, timeout_ms);
}

uint64_t
follow_gen(void)
{
	return read_gen(&hub.gen);
}

void
follow_wait(uint64_t gen, int timeout_ms)
{
	wait_gen(&hub.cv, &hub.gen, gen, timeout_ms);
}

int
follow_add_efd(int efd)
{
	int rc = 0;

	pthread_mutex_lock(&hub.mu);
	if (hub.nefds == hub.cap) {
		size_t cap = hub.cap ? hub.cap * 2 : 64;
		int *n = realloc(hub.efds, cap * sizeof *n);
		if (n == NULL)
			rc = -1;
		else {
			hub.efds = n;
			hub.cap = cap;
		}
	}
	if (rc == 0)
		hub.efds[hub.nefds++] = efd;
	pthread_mutex_unlock(&hub.mu);
	return rc;
}

void
follow_del_efd(int efd)
{
	size_t i;

	pthread_mutex_lock(&hub.mu);
	for (i = 0; i < hub.nefds; i++)
		if (hub.efds[i] == efd) {
			hub.efds[i] = hub.efds[--hub.nefds];
			break;
		}
	pthread_mutex_unlock(&hub.mu);
}

int
follow_job_final(struct api *a, const char *id)
{
	enum js_state st;

	if (js_spool_find(a->sp, id, &st) < 0)
		return 1;	/* gone (removed): nothing more will come */
	return js_sched_final(st);
}

/* ---- one job's log, chunked ---- */

struct jfollow {
	struct api *a;
	int sock;		/* the client's socket, -1 if unknown */
	char id[JS_ID_SIZE];
	int fd;
	uint64_t off;
	int final;
};

static ssize_t
jfollow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct jfollow *f = cls;
	ssize_t n;

	(void)pos;
	for (;;) {
		uint64_t g = follow_gen();
		if (f->fd < 0)
			f->fd = js_spool_log_open(f->a->sp, f->id, 0);
		if (f->fd >= 0) {
			n = pread(f->fd, buf, max, (off_t)f->off);
			if (n > 0) {
				f->off += (uint64_t)n;
				return n;
			}
			if (n < 0 && errno != EINTR)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (f->final || atomic_load(&f->a->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (follow_job_final(f->a, f->id)) {
			f->final = 1;	/* read once more: the last lines */
			continue;
		}
		if (peer_gone(f->sock))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		follow_wait(g, SAFETY_MS);
	}
}

static void
jfollow_free(void *cls)
{
	struct jfollow *f = cls;

	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

struct MHD_Response *
follow_job_response(struct api *a, const char *id, uint64_t offset, int sock)
{
	struct jfollow *f = calloc(1, sizeof *f);
	struct MHD_Response *r;

	if (f == NULL)
		return NULL;
	f->a = a;
	f->sock = sock;
	memcpy(f->id, id, JS_ID_SIZE);
	f->fd = -1;
	f->off = offset;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
	    jfollow_read, f, jfollow_free);
	if (r == NULL)
		jfollow_free(f);
	return r;
}

/* ---- a batch's logs merged, each line prefixed with its job id ---- */

#define LINE_MAX_BYTES 65536

struct bjob {
	char id[JS_ID_SIZE];
	int fd;
	uint64_t off;
	char *part;		/* incomplete last line */
	size_t plen;
	int done;
};

struct bfollow {
	struct api *a;
	int sock;		/* the client's socket, -1 if unknown */
	struct bjob *jobs;
	size_t n, ndone;
	int once;		/* not following: what is there now */
	char *out;		/* formatted lines not yet sent */
	size_t olen, ocap, osent;
};

static int
out_add(struct bfollow *b, const char *id, const char *line, size_t len)
{
	size_t need = JS_ID_LEN + 1 + len + 1;

	if (b->olen + need > b->ocap) {
		size_t cap = b->ocap ? b->ocap : 16384;
		char *n;
		while (cap < b->olen + need)
			cap *= 2;
		n = realloc(b->out, cap);
		if (n == NULL)
			return -1;
		b->out = n;
		b->ocap = cap;
	}
	memcpy(b->out + b->olen, id, JS_ID_LEN);
	b->out[b->olen + JS_ID_LEN] = ' ';
	memcpy(b->out + b->olen + JS_ID_LEN + 1, line, len);
	b->out[b->olen + need - 1] = '\n';
	b->olen += need;
	return 0;
}

/* Reads what is new in one job's log into lines; 1 if anything was read. */
static int
bjob_pump(struct bfollow *b, struct bjob *j)
{
	char buf[16384];
	ssize_t n;
	int got = 0;

	if (j->fd < 0)
		j->fd = js_spool_log_open(b->a->sp, j->id, 0);
	if (j->fd < 0)
		return 0;
	while ((n = pread(j->fd, buf, sizeof buf, (off_t)j->off)) > 0) {
		ssize_t i, start = 0;
		got = 1;
		j->off += (uint64_t)n;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n' && j->plen + (size_t)(i - start) <
			    LINE_MAX_BYTES)
				continue;
			{
				size_t len = (size_t)(i - start);
				char *line = j->part;
				/* join the earlier part of this line */
				if (j->plen > 0) {
					char *nl = realloc(j->part, j->plen + len);
					if (nl == NULL)
						return -1;
					memcpy(nl + j->plen, buf + start, len);
					line = nl;
					len += j->plen;
					j->part = NULL;
					j->plen = 0;
					if (out_add(b, j->id, line, len) < 0) {
						free(line);
						return -1;
					}
					free(line);
				} else if (out_add(b, j->id, buf + start, len) < 0) {
					return -1;
				}
			}
			start = buf[i] == '\n' ? i + 1 : i;
		}
		if (start < n) {
			char *np = realloc(j->part, j->plen + (size_t)(n - start));
			if (np == NULL)
				return -1;
			memcpy(np + j->plen, buf + start, (size_t)(n - start));
			j->part = np;
			j->plen += (size_t)(n - start);
		}
		if (b->olen > 65536)
			break;
	}
	return got;
}

static ssize_t
bfollow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct bfollow *b = cls;
	size_t i;

	(void)pos;
	for (;;) {
		uint64_t g = follow_gen();
		if (b->osent < b->olen) {
			size_t n = b->olen - b->osent;
			if (n > max)
				n = max;
			memcpy(buf, b->out + b->osent, n);
			b->osent += n;
			if (b->osent == b->olen)
				b->osent = b->olen = 0;
			return (ssize_t)n;
		}
		if (b->ndone == b->n || atomic_load(&b->a->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		for (i = 0; i < b->n; i++) {
			struct bjob *j = &b->jobs[i];
			int fin;
			if (j->done)
				continue;
			fin = b->once || follow_job_final(b->a, j->id);
			if (bjob_pump(b, j) < 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			if (fin) {
				/* final before this read: the log is complete */
				if (j->plen > 0) {
					if (out_add(b, j->id, j->part, j->plen) < 0)
						return MHD_CONTENT_READER_END_WITH_ERROR;
					j->plen = 0;
				}
				j->done = 1;
				b->ndone++;
			}
		}
		if (b->olen == 0 && b->ndone < b->n) {
			if (peer_gone(b->sock))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			follow_wait(g, SAFETY_MS);
		}
	}
}

static void
bfollow_free(void *cls)
{
	struct bfollow *b = cls;
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->jobs[i].fd >= 0)
			close(b->jobs[i].fd);
		free(b->jobs[i].part);
	}
	free(b->jobs);
	free(b->out);
	free(b);
}

struct MHD_Response *
follow_batch_response(struct api *a, char (*ids)[JS_ID_SIZE], size_t n,
    int follow, int sock)
{
	struct bfollow *b = calloc(1, sizeof *b);
	struct MHD_Response *r;
	size_t i;

	if (b == NULL)
		return NULL;
	b->a = a;
	b->sock = sock;
	b->jobs = calloc(n ? n : 1, sizeof *b->jobs);
	if (b->jobs == NULL) {
		free(b);
		return NULL;
	}
	b->n = n;
	b->once = !follow;
	for (i = 0; i < n; i++) {
		memcpy(b->jobs[i].id, ids[i], JS_ID_SIZE);
		b->jobs[i].fd = -1;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
	    bfollow_read, b, bfollow_free);
	if (r == NULL)
		bfollow_free(b);
	return r;
}

int
follow_untimed(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci != NULL ? ci->connect_fd : -1;
}
