/*
 * queue.c - the in-memory index of pending jobs (see proc.h).
 *
 * Two binary heaps: "ready" in lib/sched's claim order (priority, then
 * submission), and "later" ordered by start time (lib/sched: run_at, retry
 * backoff), for jobs whose start time has not come.  A set of ids (lib/idmap) keeps a job from being
 * indexed twice.  Only pending jobs are ever here: popping removes a job,
 * so the cost of finding the next one is O(log pending), whatever the
 * number of finished jobs in the spool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "idmap.h"
#include "sched.h"
#include "util.h"

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

struct js_queue {
	struct heap ready, later;
	struct js_idmap ids;	/* the ids in either heap (no values) */
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

/* Removes the item at i (sifting the last one into its place). */
static void
heap_remove_at(struct heap *h, size_t i)
{
	struct item last = h->v[--h->n];

	if (i == h->n)
		return;
	while (i > 0 && h->before(&last, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
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
	h->v[i] = last;
}

/* Takes the first item out into *out. */
static void
heap_pop(struct heap *h, struct item *out)
{
	*out = h->v[0];
	heap_remove_at(h, 0);
}

struct js_queue *
js_queue_new(void)
{
	struct js_queue *q = calloc(1, sizeof *q);

	if (q == NULL)
		return NULL;
	q->ready.before = ready_before;
	q->later.before = later_before;
	js_idmap_init(&q->ids);
	return q;
}

void
js_queue_free(struct js_queue *q)
{
	if (q == NULL)
		return;
	free(q->ready.v);
	free(q->later.v);
	js_idmap_free(&q->ids, NULL);
	free(q);
}

int
js_queue_contains(const struct js_queue *q, const char *id)
{
	return js_idmap_get(&q->ids, id, NULL);
}

int
js_queue_add(struct js_queue *q, const char *id, long long priority,
    long long seq, int64_t not_before_ms)
{
	struct item it;

	if (!js_id_valid(id)) {	/* reads no further than a wrong byte */
		errno = EINVAL;
		return -1;
	}
	if (js_queue_contains(q, id))
		return 0;
	memset(&it, 0, sizeof it);
	it.priority = priority;
	it.seq = seq;
	it.not_before = not_before_ms;
	memcpy(it.id, id, JS_ID_SIZE);
	if (js_idmap_put(&q->ids, id, NULL, NULL) < 0)
		return -1;
	if (heap_push(not_before_ms > 0 ? &q->later : &q->ready, &it) < 0) {
		js_idmap_del(&q->ids, id, NULL);
		return -1;
	}
	return 0;
}

int
js_queue_remove(struct js_queue *q, const char *id)
{
	struct heap *hs[2] = { &q->ready, &q->later };
	size_t i, k;

	if (!js_queue_contains(q, id))
		return 0;
	for (k = 0; k < 2; k++)
		for (i = 0; i < hs[k]->n; i++)
			if (strcmp(hs[k]->v[i].id, id) == 0) {
				heap_remove_at(hs[k], i);
				js_idmap_del(&q->ids, id, NULL);
				return 1;
			}
	js_idmap_del(&q->ids, id, NULL);
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
	js_idmap_del(&q->ids, it.id, NULL);
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
	return js_idmap_len(&q->ids);
}
