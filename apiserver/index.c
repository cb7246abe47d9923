/*
 * index.c - what listing needs to know about each job (order, owner,
 * batch, name, outcome, run times), cached by id and checked against the
 * file's state, mtime and size, so a listing costs one readdir and one
 * fstatat per job plus a read of each file that changed since last time.
 * Entries of jobs that disappeared are swept by the next full listing
 * (pending entries also by the next query of pending jobs alone: the worker
 * claim route asks for those, in priority order, with labels and
 * not_before, many times a second on a busy spool).
 *
 * A query holds every job that exists for its whole duration exactly once,
 * although jobs are renamed (claimed, finished, retrieved) while it reads
 * the directory, and a rename during readdir can hide a job (its old name
 * not reached yet, its new one already passed) or show it under both.  An
 * inotify watch of its own records the names that appear in the spool
 * (IN_MOVED_TO, IN_CREATE: queued before the rename returns, while the
 * directory is locked); a query takes the names that appeared between the
 * start and the end of its readdir too, and every job seen more than once
 * or among those is looked up where it is now (js_spool_locate, under the
 * job's lock).  A job whose file moved before it could be read is read
 * under its next name the same way.  One id, one hit, in its current state.
 *
 * A query of pending jobs alone does not read the directory: the same watch
 * keeps the set of pending ids (struct moved, pending_list), read from the
 * directory once, so that its cost does not grow with the final jobs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "api.h"
#include "idmap.h"
#include "sched.h"
#include "log.h"

struct ent {
	char id[JS_ID_SIZE];
	enum js_state state;
	int64_t mtime_ms;
	off_t size;
	long long seq;
	int outcome;		/* state named by "status" */
	char *owner, *batch, *name;
	int64_t started_ms, finished_ms;
	unsigned gen;
	unsigned pgen;		/* last pending-only query that saw it */
	long long priority;
	int64_t not_before_ms;
	char **labels;		/* nlabels words, one block (NULL: none) */
	size_t nlabels;
	int bad;		/* not a valid job (claiming fails it) */
	int labels_bad;		/* "labels" is malformed (so is the job) */
	int after;		/* names jobs it waits for (lib/deps) */
};

/* The pending jobs in claim order as of the last scan (under idx.mu): valid
 * while no .pending file appeared since (pgen) and for at most a second.
 * A job claimed meanwhile is dropped from the cache (idx_forget), so each
 * id is looked up in the cache as it is used.  Claimers hold references;
 * a new scan replaces the list. */
struct cand {
	uint64_t pgen;
	int64_t built_ms;
	struct idx_cand *list;	/* NULL: none yet */
};

/* The job names that appeared in the spool, in order, for the queries
 * reading the directory meanwhile (see the top of this file). */
#define MOVED_RING 8192
#define MOVED_TRIES 4
struct moved {
	pthread_mutex_t mu;
	int fd;			/* inotify, non-blocking; -1: not watching yet */
	uint64_t seq;		/* names recorded so far */
	uint64_t overflows;	/* the kernel's queue overflowed (names lost) */
	struct js_entry *ring;	/* the last MOVED_RING names (id, state) */
	/* The ids of the .pending files, from the same watch (pending_list):
	 * an id is added when its .pending appears; one whose .pending went
	 * (claimed, cancelled, removed; or replaced by RENAME_EXCHANGE, which
	 * reports it gone after it came) is a suspect, looked at by the next
	 * query.  Read from the directory once (seeded), again only if the
	 * kernel's queue overflowed.  Values are unused (non-NULL). */
	struct js_idmap pend;
	struct js_idmap suspects;
	int pend_valid;
};

struct idx {
	struct js_spool *sp;
	pthread_mutex_t mu;	/* guards map, gen, pgen and cand */
	struct js_idmap map;	/* id -> struct ent * */
	unsigned gen;
	unsigned pgen;
	struct cand cand;
	struct moved mv;
};

static void
cand_unref(struct idx_cand *c)	/* under idx.mu */
{
	if (c != NULL && --c->refs == 0) {
		free(c->ids);
		free(c);
	}
}

#define CAND_MAX_AGE_MS 1000

#define PEND_MARK ((void *)1)	/* the value of pend and suspects */

/* Applies one event of a job's file to the pending set; under x->mv.mu.
 * Returns whether the name appeared (for the ring). */
static int
pending_event(struct idx *x, const char *id, int st, uint32_t mask)
{
	int appeared = (mask & (IN_MOVED_TO | IN_CREATE)) != 0;

	if (st != JS_PENDING || !x->mv.pend_valid)
		return appeared;
	if (js_idmap_put(appeared ? &x->mv.pend : &x->mv.suspects, id,
	    PEND_MARK, NULL) < 0)
		x->mv.pend_valid = 0;	/* out of memory: read it again */
	return appeared;
}

/* Moves the queued events into the ring; under x->mv.mu. */
static int
moved_drain(struct idx *x)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n, off;

	for (;;) {
		n = read(x->mv.fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0)
			return 0;
		for (off = 0; off < n; ) {
			const struct inotify_event *ev =
			    (const struct inotify_event *)(buf + off);
			char id[JS_ID_SIZE];
			const char *side;
			int st;

			if (ev->mask & IN_Q_OVERFLOW) {
				x->mv.overflows++;
				x->mv.pend_valid = 0;
			} else if (ev->len > 0 &&
			    js_spool_parse_name(ev->name, id, &st, &side) == 0 &&
			    st >= 0 && pending_event(x, id, st, ev->mask)) {
				struct js_entry *e = &x->mv.ring[x->mv.seq++ % MOVED_RING];
				memset(e, 0, sizeof *e);
				memcpy(e->id, id, JS_ID_SIZE);
				e->state = (enum js_state)st;
			}
			off += (ssize_t)(sizeof *ev + ev->len);
		}
	}
}

/* Marks the start of a readdir in *seq and *ov, for moved_since().  The
 * first call starts the watch.  -1 with errno if it cannot. */
static int
moved_mark(struct idx *x, uint64_t *seq, uint64_t *ov)
{
	int rc = 0, e;

	pthread_mutex_lock(&x->mv.mu);
	if (x->mv.ring == NULL &&
	    (x->mv.ring = calloc(MOVED_RING, sizeof *x->mv.ring)) == NULL)
		rc = -1;
	if (rc == 0 && x->mv.fd < 0) {
		x->mv.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (x->mv.fd < 0)
			rc = -1;
		else if (inotify_add_watch(x->mv.fd, js_spool_path(x->sp),
		    IN_MOVED_TO | IN_CREATE | IN_MOVED_FROM | IN_DELETE) < 0) {
			e = errno;
			close(x->mv.fd);
			x->mv.fd = -1;
			errno = e;
			rc = -1;
		}
	}
	if (rc == 0)
		rc = moved_drain(x);
	*seq = x->mv.seq;
	*ov = x->mv.overflows;
	pthread_mutex_unlock(&x->mv.mu);
	return rc;
}

/* The names that appeared since moved_mark() gave seq and ov, in order: a
 * new array in *out (caller frees) of *n.  -1/EAGAIN if some may be lost
 * (the kernel's queue or the ring overflowed): read the directory again. */
static int
moved_since(struct idx *x, uint64_t seq, uint64_t ov, struct js_entry **out, size_t *n)
{
	size_t k;
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&x->mv.mu);
	rc = moved_drain(x);
	if (rc == 0 && (x->mv.overflows != ov || x->mv.seq - seq > MOVED_RING)) {
		errno = EAGAIN;
		rc = -1;
	}
	if (rc == 0 && x->mv.seq > seq) {
		*n = (size_t)(x->mv.seq - seq);
		*out = malloc(*n * sizeof **out);
		if (*out == NULL) {
			errno = ENOMEM;
			rc = -1;
		}
		for (k = 0; *out != NULL && k < *n; k++)
			(*out)[k] = x->mv.ring[(seq + k) % MOVED_RING];
	}
	pthread_mutex_unlock(&x->mv.mu);
	if (rc < 0)
		*n = 0;
	return rc;
}

/* Fills mtime_ms and size of e from its file: 0, or -1/ENOENT if it has
 * moved on (then 0 and 0: the cache will not take it as fresh). */
static int
stat_entry(struct idx *x, struct js_entry *e)
{
	if (js_spool_stat(x->sp, e->id, e->state, &e->mtime_ms, &e->size) == 0)
		return 0;
	e->mtime_ms = 0;
	e->size = 0;
	return -1;
}

struct seen {
	struct js_entry e;
	int moved;		/* named by an event, not by readdir */
};

static int
seen_cmp(const void *x, const void *y)
{
	const struct seen *a = x, *b = y;

	return strcmp(a->e.id, b->e.id);
}

/* Reads the pending set from the directory; under x->mv.mu, the events
 * before it drained.  Events from now on count: those of the readdir's
 * time are drained after it. */
static int
pending_seed(struct idx *x)
{
	struct js_entry *es;
	size_t n, i;

	js_idmap_free(&x->mv.pend, NULL);
	js_idmap_init(&x->mv.pend);
	js_idmap_free(&x->mv.suspects, NULL);
	js_idmap_init(&x->mv.suspects);
	x->mv.pend_valid = 1;
	if (js_spool_list(x->sp, JS_STATE_BIT(JS_PENDING), 0, &es, &n) < 0) {
		x->mv.pend_valid = 0;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (js_idmap_put(&x->mv.pend, es[i].id, PEND_MARK, NULL) < 0) {
			x->mv.pend_valid = 0;
			free(es);
			errno = ENOMEM;
			return -1;
		}
	free(es);
	return moved_drain(x);
}

/* Looks at each suspect's .pending: kept if it is there, dropped if not;
 * under x->mv.mu, after a drain (so that what it finds is at least as new
 * as the events). */
static void
pending_settle(struct idx *x)
{
	size_t pos = 0;
	const char *id;
	void *v;
	int64_t mt;
	off_t sz;

	while (js_idmap_next(&x->mv.suspects, &pos, &id, &v)) {
		if (js_spool_stat(x->sp, id, JS_PENDING, &mt, &sz) == 0) {
			if (js_idmap_put(&x->mv.pend, id, PEND_MARK, NULL) < 0)
				x->mv.pend_valid = 0;
		} else if (errno == ENOENT) {
			js_idmap_del(&x->mv.pend, id, NULL);
		}	/* else: kept; the query reading it finds out */
	}
	js_idmap_free(&x->mv.suspects, NULL);
	js_idmap_init(&x->mv.suspects);
}

static int
entry_cmp(const void *x, const void *y)
{
	return strcmp(((const struct js_entry *)x)->id,
	    ((const struct js_entry *)y)->id);
}

/*
 * The pending jobs from the pending set (struct moved) instead of the
 * directory, so that the cost does not grow with the final jobs beside
 * them; as list_settled gives them (sorted by id, stat'ed with
 * JS_LIST_STAT, a job that moved on meanwhile left out).  1 if the set
 * cannot be had (the queue overflowed while it was read): read the
 * directory instead.
 */
static int
pending_list(struct idx *x, int flags, struct js_entry **out, size_t *np)
{
	struct js_entry *es;
	size_t n = 0, i, k, pos = 0;
	uint64_t s0, ov0;
	const char *id;
	void *v;
	int rc;

	if (moved_mark(x, &s0, &ov0) < 0)
		return -1;
	pthread_mutex_lock(&x->mv.mu);
	rc = x->mv.pend_valid ? moved_drain(x) : pending_seed(x);
	if (rc == 0)
		pending_settle(x);
	if (rc == 0 && !x->mv.pend_valid)
		rc = 1;
	es = rc == 0 ? malloc((js_idmap_len(&x->mv.pend) + 1) * sizeof *es) : NULL;
	if (rc == 0 && es == NULL) {
		errno = ENOMEM;
		rc = -1;
	}
	while (es != NULL && js_idmap_next(&x->mv.pend, &pos, &id, &v)) {
		memset(&es[n], 0, sizeof es[n]);
		memcpy(es[n].id, id, JS_ID_SIZE);
		es[n++].state = JS_PENDING;
	}
	pthread_mutex_unlock(&x->mv.mu);
	if (rc != 0)
		return rc;
	for (i = 0, k = 0; i < n; i++)
		if (!(flags & JS_LIST_STAT) || stat_entry(x, &es[i]) == 0)
			es[k++] = es[i];
	qsort(es, k, sizeof *es, entry_cmp);
	*out = es;
	*np = k;
	return 0;
}

/*
 * Lists the jobs of mask: readdir, plus the names that appeared during it;
 * one entry per id.  An id seen once by readdir alone is where readdir saw
 * it; any other is looked up where it is now (and left out if that is not
 * in mask, or nowhere).  The array is sorted by id.
 */
static int
list_settled(struct idx *x, unsigned mask, int flags, struct js_entry **out,
    size_t *np)
{
	struct js_entry *es = NULL, *mvd = NULL;
	struct seen *all;
	size_t ne = 0, nmv = 0, n = 0, i, j, k;
	uint64_t s0, ov0;
	int tries;

	*out = NULL;
	*np = 0;
	if (mask == JS_STATE_BIT(JS_PENDING) &&
	    (tries = pending_list(x, flags, out, np)) <= 0)
		return tries;
	for (tries = 0; ; tries++) {
		if (moved_mark(x, &s0, &ov0) < 0)
			return -1;
		if (js_spool_list(x->sp, mask, flags, &es, &ne) < 0)
			return -1;
		if (moved_since(x, s0, ov0, &mvd, &nmv) == 0)
			break;
		free(es);
		es = NULL;
		if (errno != EAGAIN || tries + 1 == MOVED_TRIES)
			return -1;
	}
	all = malloc((ne + nmv ? ne + nmv : 1) * sizeof *all);
	if (all == NULL) {
		free(es);
		free(mvd);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < ne; i++) {
		all[n].e = es[i];
		all[n++].moved = 0;
	}
	for (i = 0; i < nmv; i++)
		if (mask & JS_STATE_BIT(mvd[i].state)) {
			all[n].e = mvd[i];
			all[n++].moved = 1;
		}
	free(mvd);
	free(es);
	qsort(all, n, sizeof *all, seen_cmp);
	es = malloc((n ? n : 1) * sizeof *es);	/* one entry per id at most */
	if (es == NULL) {
		free(all);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0, k = 0; i < n; i = j) {
		enum js_state st;
		for (j = i + 1; j < n && strcmp(all[j].e.id, all[i].e.id) == 0; j++)
			;
		if (j == i + 1 && !all[i].moved) {
			es[k++] = all[i].e;
			continue;
		}
		if (js_spool_locate(x->sp, all[i].e.id, &st) < 0) {
			if (errno == ENOENT)
				continue;	/* gone */
			free(all);
			free(es);
			return -1;
		}
		if (!(mask & JS_STATE_BIT(st)))
			continue;	/* no longer one of those asked for */
		memset(&es[k], 0, sizeof es[k]);
		memcpy(es[k].id, all[i].e.id, JS_ID_SIZE);
		es[k].state = st;
		if (flags & JS_LIST_STAT)
			(void)stat_entry(x, &es[k]);
		k++;
	}
	free(all);
	*out = es;
	*np = k;
	return 0;
}

static void
ent_free(struct ent *e)
{
	if (e == NULL)
		return;
	free(e->owner);
	free(e->batch);
	free(e->name);
	free(e->labels);
	free(e);
}

static void
ent_free_v(void *e)
{
	ent_free(e);
}

struct idx *
idx_new(struct js_spool *sp)
{
	struct idx *x = calloc(1, sizeof *x);
	int e;

	if (x == NULL)
		return NULL;
	x->sp = sp;
	x->mv.fd = -1;
	js_idmap_init(&x->map);
	js_idmap_init(&x->mv.pend);
	js_idmap_init(&x->mv.suspects);
	if ((e = pthread_mutex_init(&x->mu, NULL)) != 0) {
		free(x);
		errno = e;
		return NULL;
	}
	if ((e = pthread_mutex_init(&x->mv.mu, NULL)) != 0) {
		pthread_mutex_destroy(&x->mu);
		free(x);
		errno = e;
		return NULL;
	}
	return x;
}

void
idx_free(struct idx *x)
{
	if (x == NULL)
		return;
	js_idmap_free(&x->map, ent_free_v);
	cand_unref(x->cand.list);
	if (x->mv.fd >= 0 && close(x->mv.fd) < 0)
		js_warn("close inotify: %s", strerror(errno));
	free(x->mv.ring);
	js_idmap_free(&x->mv.pend, NULL);
	js_idmap_free(&x->mv.suspects, NULL);
	pthread_mutex_destroy(&x->mv.mu);
	pthread_mutex_destroy(&x->mu);
	free(x);
}

/* The cached entry of id or NULL; under x->mu. */
static struct ent *
cache_get(struct idx *x, const char *id)
{
	void *e;

	return js_idmap_get(&x->map, id, &e) ? e : NULL;
}

static char *
dup_field(const json_t *job, const char *k)
{
	const char *s = js_job_str(job, k);

	return s ? strdup(s) : NULL;
}

static int64_t
time_field(const json_t *job, const char *k)
{
	const char *s = js_job_str(job, k);
	int64_t ms;

	return s != NULL && js_time_parse(s, &ms) == 0 ? ms : 0;
}

/* The job's labels into e->labels (an array of e->nlabels pointers and
 * the words after it, one allocation); -1 if they are not an array of
 * words (js_label_valid), -2 out of memory. */
static int
load_labels(struct ent *e, const json_t *job)
{
	const json_t *v = json_object_get(job, "labels"), *l;
	size_t i, n, len = 0;
	char *p;

	if (v == NULL || json_is_null(v) ||
	    (json_is_array(v) && json_array_size(v) == 0))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > JS_LABELS_MAX)
		return -1;
	json_array_foreach(v, i, l) {
		if (!json_is_string(l) ||
		    strlen(json_string_value(l)) != json_string_length(l) ||
		    !js_label_valid(json_string_value(l)))
			return -1;
		len += json_string_length(l) + 1;
	}
	n = json_array_size(v);
	e->labels = calloc(1, n * sizeof *e->labels + len);
	if (e->labels == NULL)
		return -2;
	p = (char *)(e->labels + n);
	json_array_foreach(v, i, l) {
		e->labels[i] = p;
		memcpy(p, json_string_value(l), json_string_length(l));
		p += json_string_length(l) + 1;
	}
	e->nlabels = n;
	return 0;
}

/* Reads one job file into a new entry; NULL if it vanished or is bad (a
 * pending file that is no job comes back marked bad with want_bad). */
static struct ent *
load(struct idx *x, const struct js_entry *je, int want_bad)
{
	json_t *job = js_spool_read_state(x->sp, je->id, je->state);
	struct ent *e;
	json_t *seq, *prio;
	const char *st;

	if (job == NULL && (!want_bad || errno != EBADMSG ||
	    je->state != JS_PENDING))
		return NULL;
	e = calloc(1, sizeof *e);
	if (e == NULL) {
		json_decref(job);
		return NULL;
	}
	memcpy(e->id, je->id, JS_ID_SIZE);
	e->state = je->state;
	e->mtime_ms = je->mtime_ms;
	e->size = je->size;
	if (job == NULL) {
		e->bad = 1;
		e->seq = (long long)je->mtime_ms * 1000000;
		e->outcome = (int)e->state;
		return e;
	}
	prio = json_object_get(job, "priority");
	e->priority = json_is_integer(prio) ? (long long)json_integer_value(prio) :
	    json_is_real(prio) ? (long long)json_real_value(prio) : 0;
	e->not_before_ms = js_sched_start_ms(job, je->mtime_ms);
	e->after = js_deps_has(job);
	switch (load_labels(e, job)) {
	case -1:
		e->labels_bad = 1;	/* a claim fails it (js_job_normalize) */
		break;
	case -2:
		json_decref(job);
		ent_free(e);
		return NULL;
	}
	seq = json_object_get(job, "seq");
	if (json_is_integer(seq))
		e->seq = (long long)json_integer_value(seq);
	else if ((e->seq = time_field(job, "created_at")) != 0)
		e->seq *= 1000000;
	else
		e->seq = (long long)je->mtime_ms * 1000000;
	st = js_job_str(job, "status");
	e->outcome = st ? js_state_from_status(st) : -1;
	if (e->state != JS_RETRIEVED)
		e->outcome = (int)e->state;
	e->owner = dup_field(job, "owner");
	e->batch = dup_field(job, "batch");
	e->name = dup_field(job, "name");
	e->started_ms = time_field(job, "started_at");
	e->finished_ms = time_field(job, "finished_at");
	json_decref(job);
	return e;
}

/* load() of the file je names, or, if it moved on before it could be read,
 * of the job where it is now if that is still in f->mask (je is updated).
 * NULL if the job is gone, or no longer one of f->mask. */
static struct ent *
load_current(struct idx *x, struct js_entry *je, const struct idx_filter *f)
{
	struct ent *e;
	enum js_state st;
	int tries;

	for (tries = 0; tries < JS_NSTATES; tries++) {
		e = load(x, je, f->want_bad);
		if (e != NULL || errno != ENOENT)
			return e;
		if (js_spool_locate(x->sp, je->id, &st) < 0 ||
		    !(f->mask & JS_STATE_BIT(st)))
			return NULL;
		je->state = st;
		if (stat_entry(x, je) < 0)
			continue;
	}
	return NULL;
}

static int
str_eq(const char *x, const char *y)
{
	return x != NULL && y != NULL && strcmp(x, y) == 0;
}

/* Whether job e asks for label l. */
static int
has_label(const struct ent *e, const char *l)
{
	size_t i;

	for (i = 0; i < e->nlabels; i++)
		if (strcmp(e->labels[i], l) == 0)
			return 1;
	return 0;
}

/* Whether the worker of f may take e (lib/sched's label rule). */
static int
labels_ok(const struct ent *e, const struct idx_filter *f)
{
	return js_sched_takes((const char *const *)e->labels, e->nlabels,
	    f->labels, f->nlabels, f->exclusive);
}

static int
matches(const struct ent *e, const struct idx_filter *f)
{
	if (!(f->mask & JS_STATE_BIT(e->state)))
		return 0;
	if (e->bad && !f->want_bad)
		return 0;
	if (f->by_labels && !e->bad && !e->labels_bad && !labels_ok(e, f))
		return 0;
	if (e->state == JS_RETRIEVED && (e->outcome < 0 ||
	    !(f->status_mask & JS_STATE_BIT(e->outcome))))
		return 0;
	if (f->owner != NULL && !str_eq(e->owner, f->owner))
		return 0;
	if (f->batch != NULL && !str_eq(e->batch, f->batch))
		return 0;
	if (f->name != NULL && !str_eq(e->name, f->name))
		return 0;
	if (f->label != NULL && !has_label(e, f->label))
		return 0;
	return 1;
}

static void
add_hit(struct idx_hit *hits, size_t *n, const struct ent *e)
{
	struct idx_hit *h = &hits[(*n)++];

	memcpy(h->id, e->id, JS_ID_SIZE);
	h->state = e->state;
	h->seq = e->seq;
	h->started_ms = e->started_ms;
	h->finished_ms = e->finished_ms;
	h->priority = e->priority;
	h->not_before_ms = e->not_before_ms;
	h->bad = e->bad;
	h->after = e->after;
	h->mtime_ms = e->mtime_ms;
	h->size = e->size;
}

/* Puts e into the cache in place of any entry of its id; under x->mu. */
static void
cache_put(struct idx *x, struct ent *e)
{
	void *old = NULL;

	switch (js_idmap_put(&x->map, e->id, e, &old)) {
	case 0:
		ent_free(old);
		break;
	case -1:
		ent_free(e);	/* out of memory: stays correct, only slower */
		break;
	}
}

static int
fresh(const struct ent *e, const struct js_entry *je)
{
	return e->state == je->state && e->mtime_ms == je->mtime_ms &&
	    e->size == je->size;
}

/* Drops the entries of jobs that are gone, under x->mu: after a full
 * query (gen) those it did not see; after a pending-only one (pgen) the
 * pending entries it did not see (a newer concurrent query's marks are
 * kept). */
static void
sweep(struct idx *x, int full, unsigned gen, unsigned pgen)
{
	size_t pos = 0;
	const char *id;
	void *v;

	while (js_idmap_next(&x->map, &pos, &id, &v)) {
		struct ent *e = v;
		if (full ? e->gen != gen : e->state == JS_PENDING &&
		    (int)(e->pgen - pgen) < 0) {
			js_idmap_del(&x->map, id, NULL);
			ent_free(e);
		}
	}
}

/* fast: pending jobs only, from a bare readdir; a cached entry is taken
 * as it is (priority, order and labels of a pending job never change;
 * idx_recheck() looks at the one about to be claimed). */
static int
query(struct idx *x, const struct idx_filter *f, int fast,
    struct idx_hit **hitsp, size_t *np)
{
	struct js_entry *es = NULL;
	struct idx_hit *hits;
	size_t ne = 0, i, n = 0, nmiss = 0;
	size_t *miss;
	struct ent **loaded;
	unsigned gen, pgen = 0;
	int full = f->mask == (1u << JS_NSTATES) - 1;
	int pend = f->mask == JS_STATE_BIT(JS_PENDING);

	*hitsp = NULL;
	*np = 0;
	if (list_settled(x, f->mask, fast ? 0 : JS_LIST_STAT, &es, &ne) < 0)
		return -1;
	hits = malloc((ne ? ne : 1) * sizeof *hits);
	miss = malloc((ne ? ne : 1) * sizeof *miss);
	if (hits == NULL || miss == NULL) {
		free(es);
		free(hits);
		free(miss);
		errno = ENOMEM;
		return -1;
	}
	pthread_mutex_lock(&x->mu);
	gen = full ? ++x->gen : x->gen;
	if (pend)
		pgen = ++x->pgen;
	for (i = 0; i < ne; i++) {
		struct ent *e = cache_get(x, es[i].id);
		if (e != NULL && (fast ? e->state == es[i].state :
		    fresh(e, &es[i]))) {
			e->gen = gen;
			if (pend)
				e->pgen = pgen;
			if (matches(e, f))
				add_hit(hits, &n, e);
		} else {
			miss[nmiss++] = i;
		}
	}
	pthread_mutex_unlock(&x->mu);

	/* read what changed without holding the cache */
	loaded = calloc(nmiss ? nmiss : 1, sizeof *loaded);
	for (i = 0; loaded != NULL && i < nmiss; i++) {
		struct js_entry *je = &es[miss[i]];
		if (fast && js_spool_stat(x->sp, je->id, je->state, &je->mtime_ms,
		    &je->size) < 0)
			continue;	/* moved on meanwhile */
		loaded[i] = load_current(x, je, f);
	}

	pthread_mutex_lock(&x->mu);
	for (i = 0; loaded != NULL && i < nmiss; i++) {
		struct ent *e = loaded[i];
		if (e == NULL)
			continue;
		e->gen = gen;
		e->pgen = pgen;	/* 0 unless pend: swept by the next one */
		if (matches(e, f))
			add_hit(hits, &n, e);
		cache_put(x, e);
	}
	if (full || pend)
		sweep(x, full, gen, pgen);
	pthread_mutex_unlock(&x->mu);
	free(loaded);
	free(miss);
	free(es);
	*hitsp = hits;
	*np = n;
	return 0;
}

int
idx_query(struct idx *x, const struct idx_filter *f, struct idx_hit **hitsp,
    size_t *np)
{
	return query(x, f, 0, hitsp, np);
}

/* The claim order: highest priority, then submission order. */
static int
hit_order(const void *x, const void *y)
{
	const struct idx_hit *a = x, *b = y;
	struct js_sched_key ka = { a->priority, a->seq, a->id },
	    kb = { b->priority, b->seq, b->id };

	return js_sched_cmp(&ka, &kb);
}

struct idx_cand *
idx_candidates(struct idx *x, uint64_t pgen)
{
	struct idx_filter pf;
	struct idx_hit *all = NULL;
	struct idx_cand *c;
	size_t nall = 0, i;

	pthread_mutex_lock(&x->mu);
	if (x->cand.list != NULL && x->cand.pgen == pgen &&
	    js_mono_ms() - x->cand.built_ms < CAND_MAX_AGE_MS) {
		c = x->cand.list;
		c->refs++;
		pthread_mutex_unlock(&x->mu);
		return c;
	}
	pthread_mutex_unlock(&x->mu);

	/* every pending job, whatever a worker's labels */
	memset(&pf, 0, sizeof pf);
	pf.mask = JS_STATE_BIT(JS_PENDING);
	pf.want_bad = 1;
	if (query(x, &pf, 1, &all, &nall) < 0)
		return NULL;
	qsort(all, nall, sizeof *all, hit_order);
	c = calloc(1, sizeof *c);
	if (c == NULL || (c->ids = malloc((nall ? nall : 1) *
	    sizeof *c->ids)) == NULL) {
		free(c);
		free(all);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < nall; i++)
		memcpy(c->ids[i], all[i].id, JS_ID_SIZE);
	free(all);
	c->n = nall;
	c->refs = 2;	/* the caller's and cand's */
	pthread_mutex_lock(&x->mu);
	cand_unref(x->cand.list);
	x->cand.list = c;
	x->cand.pgen = pgen;
	x->cand.built_ms = js_mono_ms();
	pthread_mutex_unlock(&x->mu);
	return c;
}

void
idx_candidates_free(struct idx *x, struct idx_cand *c)
{
	pthread_mutex_lock(&x->mu);
	cand_unref(c);
	pthread_mutex_unlock(&x->mu);
}

int
idx_candidate(struct idx *x, const struct idx_cand *c, size_t i, const struct idx_filter *f,
    struct idx_hit *h)
{
	struct ent *e;
	size_t n = 0;

	pthread_mutex_lock(&x->mu);
	e = cache_get(x, c->ids[i]);
	if (e != NULL && e->state == JS_PENDING && matches(e, f))
		add_hit(h, &n, e);
	pthread_mutex_unlock(&x->mu);
	return n == 1;
}

void
idx_forget(struct idx *x, const char *id)
{
	void *dead;

	pthread_mutex_lock(&x->mu);
	if (js_idmap_del(&x->map, id, &dead))
		ent_free(dead);
	pthread_mutex_unlock(&x->mu);
}

int
idx_recheck(struct idx *x, const struct idx_filter *f, struct idx_hit *h)
{
	struct js_entry je;
	struct ent *e;
	int ok;

	memset(&je, 0, sizeof je);
	memcpy(je.id, h->id, JS_ID_SIZE);
	je.state = JS_PENDING;
	if (js_spool_stat(x->sp, h->id, JS_PENDING, &je.mtime_ms, &je.size) < 0) {
		if (errno != ENOENT)
			return -1;
		idx_forget(x, h->id);
		return 0;
	}
	if (je.mtime_ms == h->mtime_ms && je.size == h->size)
		return 1;
	e = load(x, &je, f->want_bad);
	if (e == NULL)
		return errno == ENOMEM ? -1 : 0;
	pthread_mutex_lock(&x->mu);
	e->pgen = x->pgen;
	ok = matches(e, f);
	add_hit(h, &(size_t){ 0 }, e);
	cache_put(x, e);
	pthread_mutex_unlock(&x->mu);
	return ok;
}
