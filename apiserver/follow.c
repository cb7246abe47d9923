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
#include "log.h"

#define SAFETY_MS 1000
#define DEDUP 4096

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
	/* jobs seen finishing, per final state; ids remembered to count once */
	unsigned long finished[JS_NSTATES];
	char seen[DEDUP][JS_ID_SIZE];
	size_t seen_next;
} hub = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	  .pcv = PTHREAD_COND_INITIALIZER, .ifd = -1, .stopfd = -1 };

static struct api *hub_api;

static void
count_finished(const char *name)
{
	char id[JS_ID_SIZE];
	const char *side;
	int st;
	size_t i;

	if (js_spool_parse_name(name, id, &st, &side) < 0 || st < 0 ||
	    !(JS_FINAL_MASK & JS_STATE_BIT(st)))
		return;
	for (i = 0; i < DEDUP; i++)
		if (strcmp(hub.seen[i], id) == 0)
			return;
	memcpy(hub.seen[hub.seen_next], id, JS_ID_SIZE);
	hub.seen_next = (hub.seen_next + 1) % DEDUP;
	hub.finished[st]++;
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
	int pending;

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
		for (off = 0; off < n; ) {
			struct inotify_event *ev = (struct inotify_event *)(buf + off);
			if (ev->len > 0 && (ev->mask & IN_MOVED_TO))
				count_finished(ev->name);
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

unsigned long
follow_finished(enum js_state st)
{
	unsigned long n;

	pthread_mutex_lock(&hub.mu);
	n = hub.finished[st];
	pthread_mutex_unlock(&hub.mu);
	return n;
}

int
follow_job_final(struct api *a, const char *id)
{
	enum js_state st;

	if (js_spool_find(a->sp, id, &st) < 0)
		return 1;	/* gone (removed): nothing more will come */
	return st != JS_PENDING && st != JS_WIP;
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
