/*
 * queue.c - the in-memory index of pending jobs (see proc.h).
 *
 * Two binary heaps: "ready" in lib/sched's claim order (priority, then
 * submission), and "later" ordered by not_before, for jobs whose retry
 * backoff has not run out.  A hash set of ids keeps a job from being
 * indexed twice.  Only pending jobs are ever here: popping removes a job,
 * so the cost of finding the next one is O(log pending), whatever the
 * number of finished jobs in the spool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "sched.h"

struct item {
	long long priority;
	long long seq;
	int64_t not_before;
	char id[JS_ID_SIZE];
};

struct heap {
	struct item *v;
	size_t n, cap;
	int (*before)(const struct item *, const struct item *);
};

/* Open addressing with linear probing; a slot holds an id, "" (empty) or
 * "-" (deleted). */
struct set {
	char (*slot)[JS_ID_SIZE];
	size_t cap;		/* power of two */
	size_t used;		/* live + deleted */
	size_t live;
};

struct js_queue {
	struct heap ready, later;
	struct set ids;
};

/* The claim order of lib/sched. */
static int
ready_before(const struct item *a, const struct item *b)
{
	struct js_sched_key ka = { a->priority, a->seq, a->id },
	    kb = { b->priority, b->seq, b->id };

	return js_sched_cmp(&ka, &kb) < 0;
}

static int
later_before(const struct item *a, const struct item *b)
{
	if (a->not_before != b->not_before)
		return a->not_before < b->not_before;
	return ready_before(a, b);
}

static int
heap_push(struct heap *h, const struct item *it)
{
	size_t i;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct item *v = realloc(h->v, cap * sizeof *v);
		if (v == NULL) {
			errno = ENOMEM;
			return -1;
		}
		h->v = v;
		h->cap = cap;
	}
	i = h->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!h->before(it, &h->v[parent]))
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = *it;
	return 0;
}

static void
heap_pop(struct heap *h, struct item *out)
{
	struct item last;
	size_t i = 0;

	*out = h->v[0];
	last = h->v[--h->n];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m;
		if (l >= h->n)
			break;
		m = (r < h->n && h->before(&h->v[r], &h->v[l])) ? r : l;
		if (!h->before(&h->v[m], &last))
			break;
		h->v[i] = h->v[m];
		i = m;
	}
	if (h->n > 0)
		h->v[i] = last;
}

static size_t
hash_id(const char *id)
{
	uint64_t h = 1469598103934665603ull;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ull;
	return (size_t)h;
}

/* Index of id's slot, or of the empty slot where it would go. */
static size_t
set_find(const struct set *s, const char *id, int *found)
{
	size_t i = hash_id(id) & (s->cap - 1), tomb = (size_t)-1;

	for (;;) {
		const char *k = s->slot[i];
		if (k[0] == '\0') {
			*found = 0;
			return tomb != (size_t)-1 ? tomb : i;
		}
		if (k[0] == '-') {
			if (tomb == (size_t)-1)
				tomb = i;
		} else if (strcmp(k, id) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & (s->cap - 1);
	}
}

static int
set_grow(struct set *s)
{
	struct set n;
	size_t i;
	int found;

	n.cap = s->cap ? (s->live * 4 > s->cap ? s->cap * 2 : s->cap) : 256;
	n.slot = calloc(n.cap, sizeof *n.slot);
	if (n.slot == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n.used = n.live = 0;
	for (i = 0; i < s->cap; i++) {
		if (s->slot[i][0] == '\0' || s->slot[i][0] == '-')
			continue;
		memcpy(n.slot[set_find(&n, s->slot[i], &found)], s->slot[i],
		    JS_ID_SIZE);
		n.used++;
		n.live++;
	}
	free(s->slot);
	*s = n;
	return 0;
}

static int
set_add(struct set *s, const char *id)
{
	size_t i;
	int found;

	if ((s->used + 1) * 2 > s->cap && set_grow(s) < 0)
		return -1;
	i = set_find(s, id, &found);
	if (found)
		return 0;
	if (s->slot[i][0] == '\0')
		s->used++;
	memcpy(s->slot[i], id, JS_ID_SIZE);
	s->live++;
	return 0;
}

static void
set_del(struct set *s, const char *id)
{
	size_t i;
	int found;

	if (s->cap == 0)
		return;
	i = set_find(s, id, &found);
	if (found) {
		strcpy(s->slot[i], "-");
		s->live--;
	}
}

struct js_queue *
js_queue_new(void)
{
	struct js_queue *q = calloc(1, sizeof *q);

	if (q == NULL)
		return NULL;
	q->ready.before = ready_before;
	q->later.before = later_before;
	return q;
}

void
js_queue_free(struct js_queue *q)
{
	if (q == NULL)
		return;
	free(q->ready.v);
	free(q->later.v);
	free(q->ids.slot);
	free(q);
}

int
js_queue_contains(const struct js_queue *q, const char *id)
{
	int found;

	if (q->ids.cap == 0)
		return 0;
	set_find(&q->ids, id, &found);
	return found;
}

int
js_queue_add(struct js_queue *q, const char *id, long long priority,
    long long seq, int64_t not_before_ms)
{
	struct item it;

	if (js_queue_contains(q, id))
		return 0;
	memset(&it, 0, sizeof it);
	it.priority = priority;
	it.seq = seq;
	it.not_before = not_before_ms;
	memcpy(it.id, id, JS_ID_SIZE);
	if (set_add(&q->ids, id) < 0)
		return -1;
	if (heap_push(not_before_ms > 0 ? &q->later : &q->ready, &it) < 0) {
		set_del(&q->ids, id);
		return -1;
	}
	return 0;
}

int
js_queue_pop(struct js_queue *q, int64_t now_ms, char id[JS_ID_SIZE])
{
	struct item it;

	/* jobs whose backoff ran out join the ready heap; pushing into a
	 * heap whose array is big enough cannot fail, and otherwise the job
	 * simply stays where it is */
	while (q->later.n > 0 && js_sched_ready(q->later.v[0].not_before,
	    now_ms)) {
		if (q->ready.n == q->ready.cap) {
			struct item tmp = q->later.v[0];
			if (heap_push(&q->ready, &tmp) < 0)
				break;
			heap_pop(&q->later, &it);
			continue;
		}
		heap_pop(&q->later, &it);
		heap_push(&q->ready, &it);
	}
	if (q->ready.n == 0)
		return 0;
	heap_pop(&q->ready, &it);
	set_del(&q->ids, it.id);
	memcpy(id, it.id, JS_ID_SIZE);
	return 1;
}

int64_t
js_queue_next_ready(const struct js_queue *q)
{
	return q->later.n > 0 ? q->later.v[0].not_before : 0;
}

size_t
js_queue_len(const struct js_queue *q)
{
	return q->ids.live;
}
