/* Unit tests for apiserver/index.c: the listing index and the claim order
 * of remote workers, over a real temporary spool. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "testutil.h"
#include "../../apiserver/api.h"
#include "job.h"
#include "spool.h"

#define ALL_STATES ((1u << JS_NSTATES) - 1)

/* Submits a job made from JSON text (owner, batch may be NULL); its id
 * into id. */
static void
submit(struct js_spool *sp, const char *text, const char *owner,
    const char *batch, char id[JS_ID_SIZE])
{
	tu_submit(sp, text, owner, batch, id);
}

/* Claims job id (pending) as worker "w" and records the claim (as a
 * processor does once the job runs); the claim in *c. */
static json_t *
claim(struct js_spool *sp, const char *id, struct js_claim *c)
{
	json_t *job = NULL;

	if (js_spool_claim(sp, id, "w", c, &job) < 0)
		fail_msg("claim %s: %s", id, strerror(errno));
	if (js_spool_start(sp, c, job) < 0)
		fail_msg("start %s: %s", id, strerror(errno));
	return job;
}

/* Runs job id to the final state st. */
static void
finish(struct js_spool *sp, const char *id, enum js_state st)
{
	struct js_claim c;
	json_t *job = claim(sp, id, &c);

	assert_int_equal(js_spool_finish(sp, &c, job, st), 0);
	json_decref(job);
}

static struct idx_filter
filter(unsigned mask)
{
	struct idx_filter f;

	memset(&f, 0, sizeof f);
	f.mask = mask;
	f.status_mask = JS_FINAL_MASK;
	return f;
}

/* The hit of id among hits (NULL if absent); fails if it is there twice. */
static const struct idx_hit *
find(const struct idx_hit *hits, size_t n, const char *id)
{
	const struct idx_hit *h = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(hits[i].id, id) == 0) {
			if (h != NULL)
				fail_msg("job %s listed twice", id);
			h = &hits[i];
		}
	return h;
}

/* How many times id is among hits. */
static int
count(const struct idx_hit *hits, size_t n, const char *id)
{
	size_t i;
	int k = 0;

	for (i = 0; i < n; i++)
		k += strcmp(hits[i].id, id) == 0;
	return k;
}

static int
by_seq(const void *x, const void *y)
{
	const struct idx_hit *a = x, *b = y;

	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* The candidates in claim order (references a fresh list: pgen differs
 * from any used before). */
static struct idx_cand *
cands(struct idx *x)
{
	static uint64_t pgen = 1000;	/* test-local, single-threaded */

	return idx_candidates(x, ++pgen);
}

static void
test_claim_order(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char lo1[JS_ID_SIZE], hi[JS_ID_SIZE], lo2[JS_ID_SIZE], mid[JS_ID_SIZE],
	    neg[JS_ID_SIZE];
	struct idx_cand *c;

	assert_non_null(x);
	/* submission order: lo1, hi, lo2, mid, neg */
	submit(f->sp, "{\"command\":[\"true\"]}", "u", NULL, lo1);
	submit(f->sp, "{\"command\":[\"true\"],\"priority\":10}", "u", NULL, hi);
	submit(f->sp, "{\"command\":[\"true\"]}", "u", NULL, lo2);
	submit(f->sp, "{\"command\":[\"true\"],\"priority\":5}", "u", NULL, mid);
	submit(f->sp, "{\"command\":[\"true\"],\"priority\":-3}", "u", NULL, neg);
	c = cands(x);
	assert_non_null(c);
	assert_int_equal(c->n, 5);
	/* priority first (highest first), then submission order */
	assert_string_equal(c->ids[0], hi);
	assert_string_equal(c->ids[1], mid);
	assert_string_equal(c->ids[2], lo1);
	assert_string_equal(c->ids[3], lo2);
	assert_string_equal(c->ids[4], neg);
	idx_candidates_free(x, c);
	idx_free(x);
}

/* The candidate list is reused while the pending generation is the same
 * (and for at most a second); a new generation reads the spool again. */
static void
test_candidates_cached(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char a[JS_ID_SIZE], b[JS_ID_SIZE];
	struct idx_cand *c1, *c2, *c3;

	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, a);
	c1 = idx_candidates(x, 7);
	assert_non_null(c1);
	assert_int_equal(c1->n, 1);
	submit(f->sp, "{\"command\":[\"true\"],\"priority\":1}", NULL, NULL, b);
	c2 = idx_candidates(x, 7);
	assert_ptr_equal(c2, c1);	/* same generation: the same list */
	assert_int_equal(c2->n, 1);
	c3 = idx_candidates(x, 8);
	assert_non_null(c3);
	assert_ptr_not_equal(c3, c1);
	assert_int_equal(c3->n, 2);
	assert_string_equal(c3->ids[0], b);
	assert_string_equal(c3->ids[1], a);
	/* the old list stays valid while referenced */
	assert_string_equal(c1->ids[0], a);
	idx_candidates_free(x, c1);
	idx_candidates_free(x, c2);
	idx_candidates_free(x, c3);
	idx_free(x);
}

/* A worker may take a job whose labels it all has; a job without labels
 * goes to any worker. */
static void
test_labels(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char plain[JS_ID_SIZE], gpu[JS_ID_SIZE], both[JS_ID_SIZE];
	const char *none[1] = { NULL }, *wg[] = { "gpu" },
	    *wgb[] = { "big", "gpu" };
	struct idx_filter fl = filter(JS_STATE_BIT(JS_PENDING));
	struct idx_cand *c;
	struct idx_hit h;
	size_t i;
	int took[3][3];	/* [worker][job] */
	const char *ids[3];

	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, plain);
	submit(f->sp, "{\"command\":[\"true\"],\"labels\":[\"gpu\"]}", NULL,
	    NULL, gpu);
	submit(f->sp, "{\"command\":[\"true\"],\"labels\":[\"gpu\",\"big\"]}",
	    NULL, NULL, both);
	ids[0] = plain;
	ids[1] = gpu;
	ids[2] = both;
	c = cands(x);
	assert_non_null(c);
	assert_int_equal(c->n, 3);	/* candidates: whatever the labels */
	memset(took, 0, sizeof took);
	fl.by_labels = 1;
	for (i = 0; i < c->n; i++) {
		size_t w, j;
		for (w = 0; w < 3; w++) {
			fl.labels = w == 0 ? none : w == 1 ? wg : wgb;
			fl.nlabels = w;
			if (!idx_candidate(x, c, i, &fl, &h))
				continue;
			assert_string_equal(h.id, c->ids[i]);
			assert_int_equal(h.state, JS_PENDING);
			for (j = 0; j < 3; j++)
				if (strcmp(ids[j], h.id) == 0)
					took[w][j] = 1;
		}
	}
	/* no labels: the plain job only */
	assert_int_equal(took[0][0], 1);
	assert_int_equal(took[0][1], 0);
	assert_int_equal(took[0][2], 0);
	/* gpu: plain and gpu, not the one that also needs big */
	assert_int_equal(took[1][0], 1);
	assert_int_equal(took[1][1], 1);
	assert_int_equal(took[1][2], 0);
	/* gpu and big: all three */
	assert_int_equal(took[2][0], 1);
	assert_int_equal(took[2][1], 1);
	assert_int_equal(took[2][2], 1);
	idx_candidates_free(x, c);
	idx_free(x);
}

/* A job requeued with a backoff carries its not_before; the cached hit
 * predates it until idx_recheck reads the changed file. */
static void
test_not_before(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char id[JS_ID_SIZE], other[JS_ID_SIZE];
	struct idx_filter fl = filter(JS_STATE_BIT(JS_PENDING));
	struct idx_hit *hits = NULL, h;
	struct idx_cand *c;
	struct js_claim cl;
	json_t *job;
	size_t n = 0;
	int64_t nb = js_now_ms() + 3600 * 1000;

	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, id);
	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, other);
	c = cands(x);
	assert_int_equal(c->n, 2);
	assert_string_equal(c->ids[0], id);
	assert_int_equal(idx_candidate(x, c, 0, &fl, &h), 1);
	assert_int_equal(h.not_before_ms, 0);
	assert_int_equal(idx_recheck(x, &fl, &h), 1);	/* unchanged */

	/* claimed and given back with a backoff of an hour */
	job = claim(f->sp, id, &cl);
	assert_int_equal(js_spool_requeue(f->sp, &cl, job, 0, nb), 0);
	json_decref(job);
	assert_int_equal(idx_recheck(x, &fl, &h), 1);	/* read again */
	assert_string_equal(h.id, id);
	assert_int_equal(h.not_before_ms, nb);
	idx_candidates_free(x, c);

	/* a fresh list still holds it (not_before is the claimer's check)
	 * with its not_before, in its place in the order */
	c = cands(x);
	assert_int_equal(c->n, 2);
	assert_string_equal(c->ids[0], id);
	assert_int_equal(idx_candidate(x, c, 0, &fl, &h), 1);
	assert_int_equal(h.not_before_ms, nb);
	assert_int_equal(idx_candidate(x, c, 1, &fl, &h), 1);
	assert_int_equal(h.not_before_ms, 0);
	idx_candidates_free(x, c);
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(find(hits, n, id)->not_before_ms, nb);
	free(hits);
	idx_free(x);
}

/* A pending job changed under the cache (a PUT of its priority) is seen by
 * idx_recheck; one claimed meanwhile is gone (0) and forgotten. */
static void
test_recheck(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char a[JS_ID_SIZE], b[JS_ID_SIZE];
	struct idx_filter fl = filter(JS_STATE_BIT(JS_PENDING));
	struct idx_cand *c;
	struct idx_hit ha, hb;
	struct js_claim cl;
	json_t *ch, *job;

	submit(f->sp, "{\"command\":[\"true\"],\"priority\":1}", NULL, NULL, a);
	submit(f->sp, "{\"command\":[\"true\"],\"priority\":2}", NULL, NULL, b);
	c = cands(x);
	assert_int_equal(c->n, 2);
	assert_string_equal(c->ids[0], b);
	assert_int_equal(idx_candidate(x, c, 1, &fl, &ha), 1);
	assert_int_equal(idx_candidate(x, c, 0, &fl, &hb), 1);
	assert_int_equal(ha.priority, 1);
	ch = json_pack("{s:i}", "priority", 100000);
	job = js_spool_update(f->sp, a, ch);
	assert_non_null(job);
	json_decref(job);
	json_decref(ch);
	assert_int_equal(idx_recheck(x, &fl, &ha), 1);
	assert_int_equal(ha.priority, 100000);
	job = claim(f->sp, b, &cl);
	json_decref(job);
	assert_int_equal(idx_recheck(x, &fl, &hb), 0);
	/* forgotten: the cached list no longer yields it */
	assert_int_equal(idx_candidate(x, c, 0, &fl, &hb), 0);
	idx_candidates_free(x, c);
	/* a new list: a first (its new priority), b gone */
	c = cands(x);
	assert_int_equal(c->n, 1);
	assert_string_equal(c->ids[0], a);
	idx_candidates_free(x, c);
	idx_free(x);
}

/* A pending file that is no job is a candidate marked bad, listed only to
 * whoever asks for bad files too. */
static void
test_bad_file(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	const char *bad = "0badf11e-0000-4000-8000-000000000000";
	char name[JS_NAME_SIZE], good[JS_ID_SIZE];
	struct idx_filter fl = filter(JS_STATE_BIT(JS_PENDING));
	struct idx_hit *hits = NULL, h;
	struct idx_cand *c;
	size_t n = 0, i;
	int seen_bad = 0;

	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, good);
	assert_int_equal(js_spool_name(name, bad, "pending"), 0);
	assert_int_equal(js_spool_write_file(f->sp, name, "{not json", 9, 0), 0);
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].id, good);
	free(hits);
	c = cands(x);
	assert_int_equal(c->n, 2);
	for (i = 0; i < c->n; i++) {
		fl.want_bad = 0;
		if (strcmp(c->ids[i], bad) == 0) {
			assert_int_equal(idx_candidate(x, c, i, &fl, &h), 0);
			fl.want_bad = 1;
			assert_int_equal(idx_candidate(x, c, i, &fl, &h), 1);
			assert_int_equal(h.bad, 1);
			seen_bad = 1;
		} else {
			assert_int_equal(idx_candidate(x, c, i, &fl, &h), 1);
			assert_int_equal(h.bad, 0);
		}
	}
	assert_int_equal(seen_bad, 1);
	idx_candidates_free(x, c);
	idx_free(x);
}

/* A listing: every job once in its state, the filters (owner, batch,
 * state, outcome of a retrieved job), and the order of seq. */
static void
test_listing(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char id[6][JS_ID_SIZE];
	struct idx_filter fl = filter(ALL_STATES);
	struct idx_hit *hits = NULL;
	size_t n = 0, i;
	json_t *r;

	submit(f->sp, "{\"command\":[\"true\"],\"priority\":9}", "ann", "b1", id[0]);
	submit(f->sp, "{\"command\":[\"true\"]}", "bob", "b1", id[1]);
	submit(f->sp, "{\"command\":[\"true\"],\"name\":\"n\"}", "ann", NULL, id[2]);
	submit(f->sp, "{\"command\":[\"true\"]}", "bob", NULL, id[3]);
	submit(f->sp, "{\"command\":[\"true\"]}", "ann", NULL, id[4]);
	submit(f->sp, "{\"command\":[\"true\"]}", "ann", NULL, id[5]);
	finish(f->sp, id[1], JS_COMPLETED);
	finish(f->sp, id[2], JS_FAILED);
	assert_int_equal(js_spool_cancel(f->sp, id[3], "no", NULL), 0);
	finish(f->sp, id[4], JS_COMPLETED);
	r = js_spool_retrieve(f->sp, id[4]);
	assert_non_null(r);
	json_decref(r);
	{
		struct js_claim cl;
		json_t *job = claim(f->sp, id[5], &cl);	/* stays running */
		json_decref(job);
	}

	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(find(hits, n, id[0])->state, JS_PENDING);
	assert_int_equal(find(hits, n, id[1])->state, JS_COMPLETED);
	assert_int_equal(find(hits, n, id[2])->state, JS_FAILED);
	assert_int_equal(find(hits, n, id[3])->state, JS_CANCELLED);
	assert_int_equal(find(hits, n, id[4])->state, JS_RETRIEVED);
	assert_int_equal(find(hits, n, id[5])->state, JS_WIP);
	assert_true(find(hits, n, id[1])->finished_ms > 0);
	assert_true(find(hits, n, id[5])->started_ms > 0);
	assert_int_equal(find(hits, n, id[0])->started_ms, 0);
	/* seq orders by submission, whatever the priority or state */
	qsort(hits, n, sizeof *hits, by_seq);
	for (i = 0; i < n; i++)
		assert_string_equal(hits[i].id, id[i]);
	free(hits);

	fl.owner = "ann";
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 4);
	assert_null(find(hits, n, id[1]));
	assert_null(find(hits, n, id[3]));
	free(hits);
	fl.batch = "b1";
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].id, id[0]);
	free(hits);
	fl.owner = NULL;
	fl.batch = NULL;
	fl.name = "n";
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].id, id[2]);
	free(hits);
	fl.name = NULL;

	/* a retrieved job counts by its outcome (completed) */
	fl.mask = JS_STATE_BIT(JS_COMPLETED) | JS_STATE_BIT(JS_RETRIEVED);
	fl.status_mask = JS_STATE_BIT(JS_COMPLETED);
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 2);
	assert_non_null(find(hits, n, id[1]));
	assert_non_null(find(hits, n, id[4]));
	free(hits);
	fl.status_mask = JS_STATE_BIT(JS_FAILED);
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].id, id[1]);
	free(hits);
	idx_free(x);
}

/* Pages of a listing by a seq cursor (what GET /api/v1/jobs?after= does
 * over the index) while jobs move: each job once over all pages, in
 * submission order. */
static void
test_paging(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char id[7][JS_ID_SIZE];
	struct idx_filter fl = filter(ALL_STATES);
	struct idx_hit *hits = NULL;
	size_t n = 0, i, got = 0, page;
	long long after = -1;
	int pages = 0;

	for (i = 0; i < 7; i++)
		submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, id[i]);
	for (;;) {
		assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
		qsort(hits, n, sizeof *hits, by_seq);
		for (i = 0; i < n && hits[i].seq <= after; i++)
			;
		for (page = 0; i < n && page < 3; i++, page++) {
			assert_string_equal(hits[i].id, id[got]);
			got++;
			after = hits[i].seq;
		}
		free(hits);
		if (page == 0)
			break;
		pages++;
		/* between pages, jobs on both sides of the cursor move */
		if (pages == 1) {
			finish(f->sp, id[0], JS_COMPLETED);
			finish(f->sp, id[4], JS_FAILED);
		}
		if (pages == 2)
			assert_int_equal(js_spool_cancel(f->sp, id[6], "x",
			    NULL), 0);
	}
	assert_int_equal(got, 7);
	assert_int_equal(pages, 3);
	idx_free(x);
}

/* Removal: a removed job is no longer listed, nor after a sweep of the
 * cache; idx_forget drops one entry without harm to the rest. */
static void
test_removal(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char a[JS_ID_SIZE], b[JS_ID_SIZE];
	struct idx_filter fl = filter(ALL_STATES);
	struct idx_hit *hits = NULL;
	size_t n = 0;

	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, a);
	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, b);
	finish(f->sp, a, JS_COMPLETED);
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 2);
	free(hits);
	assert_int_equal(js_spool_remove(f->sp, a), 0);
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].id, b);
	free(hits);
	idx_forget(x, b);
	idx_forget(x, a);	/* not cached: nothing */
	assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(hits[0].id, b);
	assert_int_equal(hits[0].state, JS_PENDING);
	free(hits);
	idx_free(x);
}

/* A job claimed behind the index's back (a local processor) stays in the
 * cache until the next pending-only scan sweeps it: then an older list
 * no longer offers it. */
static void
test_sweep(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char a[JS_ID_SIZE], b[JS_ID_SIZE];
	struct idx_filter fl = filter(JS_STATE_BIT(JS_PENDING));
	struct idx_cand *c1, *c2;
	struct idx_hit h;
	struct js_claim cl;
	json_t *job;

	submit(f->sp, "{\"command\":[\"true\"],\"priority\":1}", NULL, NULL, a);
	submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, b);
	c1 = cands(x);
	assert_int_equal(c1->n, 2);
	assert_string_equal(c1->ids[1], b);
	job = claim(f->sp, b, &cl);
	json_decref(job);
	/* still cached as pending: the old list offers it (a claim of it
	 * would then find it gone) */
	assert_int_equal(idx_candidate(x, c1, 1, &fl, &h), 1);
	c2 = cands(x);
	assert_int_equal(c2->n, 1);
	assert_string_equal(c2->ids[0], a);
	assert_int_equal(idx_candidate(x, c1, 1, &fl, &h), 0);	/* swept */
	assert_int_equal(idx_candidate(x, c1, 0, &fl, &h), 1);
	assert_string_equal(h.id, a);
	idx_candidates_free(x, c1);
	idx_candidates_free(x, c2);
	idx_free(x);
}

/* Jobs moving pending -> running -> completed -> retrieved while listings
 * run: each listing holds every job exactly once. */
#define NMOVE 150
#define NFILLER 20000
struct mover {
	struct js_spool *sp;
	char (*ids)[JS_ID_SIZE];
	atomic_int done;
};

static void *
mover(void *arg)
{
	struct mover *m = arg;
	size_t i;

	for (i = 0; i < NMOVE; i++) {
		struct js_claim c;
		json_t *job = NULL, *r;
		if (js_spool_claim(m->sp, m->ids[i], "w", &c, &job) < 0 ||
		    js_spool_start(m->sp, &c, job) < 0 ||
		    js_spool_finish(m->sp, &c, job, JS_COMPLETED) < 0)
			abort();
		json_decref(job);
		if ((r = js_spool_retrieve(m->sp, m->ids[i])) == NULL)
			abort();
		json_decref(r);
	}
	atomic_store(&m->done, 1);
	return NULL;
}

static void
test_moving_once(void **state)
{
	struct tu_spool *f = *state;
	struct idx *x = idx_new(f->sp);
	char ids[NMOVE][JS_ID_SIZE];
	struct idx_filter fl = filter(ALL_STATES);
	struct mover m = { .sp = f->sp, .ids = ids };
	pthread_t th;
	size_t i, n;
	int rounds = 0, last = 0;
	char bad[200] = "";

	for (i = 0; i < NMOVE; i++)
		submit(f->sp, "{\"command\":[\"true\"]}", NULL, NULL, ids[i]);
	/* names that are no job make each readdir longer, so that renames
	 * land in the middle of one */
	for (i = 0; i < NFILLER; i++) {
		char path[600];
		int fd;
		snprintf(path, sizeof path, "%s/filler-%05zu", f->dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		assert_true(fd >= 0);
		assert_int_equal(close(fd), 0);
	}
	assert_int_equal(pthread_create(&th, NULL, mover, &m), 0);
	/* no assertion while the mover runs (a failed one would free the
	 * spool under it): the first wrong listing is kept for after */
	while (!last && bad[0] == '\0') {
		struct idx_hit *hits = NULL;
		last = atomic_load(&m.done);
		if (idx_query(x, &fl, &hits, &n) < 0) {
			if (errno != EAGAIN)	/* EAGAIN may happen */
				snprintf(bad, sizeof bad, "query: %s",
				    strerror(errno));
			continue;
		}
		if (n != NMOVE)
			snprintf(bad, sizeof bad, "round %d: %zu jobs listed, "
			    "not %d", rounds, n, NMOVE);
		for (i = 0; i < NMOVE && bad[0] == '\0'; i++)
			if (count(hits, n, ids[i]) != 1)
				snprintf(bad, sizeof bad, "round %d: job %.36s "
				    "listed %d times", rounds, ids[i],
				    count(hits, n, ids[i]));
		free(hits);
		rounds++;
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	if (bad[0] != '\0')
		fail_msg("%s", bad);
	assert_true(rounds >= 1);
	{
		struct idx_hit *hits = NULL;
		assert_int_equal(idx_query(x, &fl, &hits, &n), 0);
		for (i = 0; i < n; i++)
			assert_int_equal(hits[i].state, JS_RETRIEVED);
		free(hits);
	}
	idx_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_claim_order),
		TU_SPOOL_TEST(test_candidates_cached),
		TU_SPOOL_TEST(test_labels),
		TU_SPOOL_TEST(test_not_before),
		TU_SPOOL_TEST(test_recheck),
		TU_SPOOL_TEST(test_bad_file),
		TU_SPOOL_TEST(test_listing),
		TU_SPOOL_TEST(test_paging),
		TU_SPOOL_TEST(test_removal),
		TU_SPOOL_TEST(test_sweep),
		TU_SPOOL_TEST(test_moving_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
