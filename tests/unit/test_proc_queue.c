/* Unit tests for processor/queue.c: the processor's in-memory index of
 * pending jobs (claim order of lib/sched, not_before deferral). */
#include <errno.h>

#include "testutil.h"
#include "../../processor/proc.h"

/* A valid job id made from n. */
static const char *
qid(unsigned n)
{
	static char ids[4][JS_ID_SIZE];
	static int next;
	char *s = ids[next++ % 4];

	snprintf(s, JS_ID_SIZE, "%08x-0000-4000-8000-%012x", n, n);
	return s;
}

/* Pops one job (now_ms) and checks it is qid(want). */
static void
pop_is(struct js_queue *q, int64_t now_ms, unsigned want)
{
	char id[JS_ID_SIZE];

	assert_int_equal(js_queue_pop(q, now_ms, id), 1);
	assert_string_equal(id, qid(want));
}

static void
pop_none(struct js_queue *q, int64_t now_ms)
{
	char id[JS_ID_SIZE] = "untouched";

	assert_int_equal(js_queue_pop(q, now_ms, id), 0);
	assert_string_equal(id, "untouched");
}

static void
test_empty(void **state)
{
	struct js_queue *q = js_queue_new();

	(void)state;
	assert_non_null(q);
	assert_int_equal(js_queue_len(q), 0);
	assert_false(js_queue_contains(q, qid(1)));
	assert_int_equal(js_queue_next_ready(q), 0);
	pop_none(q, 0);
	pop_none(q, INT64_MAX);
	js_queue_free(q);
	js_queue_free(NULL);
}

/* A higher priority first; equal priorities by seq (submission), however
 * they were added; negative priorities after the default 0. */
static void
test_order(void **state)
{
	struct js_queue *q = js_queue_new();

	(void)state;
	assert_int_equal(js_queue_add(q, qid(1), 0, 30, 0), 0);
	assert_int_equal(js_queue_add(q, qid(2), 0, 10, 0), 0);
	assert_int_equal(js_queue_add(q, qid(3), 5, 50, 0), 0);
	assert_int_equal(js_queue_add(q, qid(4), -2, 1, 0), 0);
	assert_int_equal(js_queue_add(q, qid(5), 0, 20, 0), 0);
	assert_int_equal(js_queue_add(q, qid(6), 5, 40, 0), 0);
	assert_int_equal(js_queue_len(q), 6);
	pop_is(q, 1000, 6);	/* priority 5, seq 40 */
	pop_is(q, 1000, 3);	/* priority 5, seq 50 */
	pop_is(q, 1000, 2);	/* priority 0: seq 10, 20, 30 */
	pop_is(q, 1000, 5);
	pop_is(q, 1000, 1);
	pop_is(q, 1000, 4);	/* priority -2 */
	pop_none(q, 1000);
	assert_int_equal(js_queue_len(q), 0);
	js_queue_free(q);
}

static void
test_contains_len(void **state)
{
	struct js_queue *q = js_queue_new();

	(void)state;
	assert_int_equal(js_queue_add(q, qid(1), 0, 1, 0), 0);
	assert_int_equal(js_queue_add(q, qid(2), 0, 2, 5000), 0);
	assert_true(js_queue_contains(q, qid(1)));
	assert_true(js_queue_contains(q, qid(2)));	/* deferred: counted */
	assert_false(js_queue_contains(q, qid(3)));
	assert_int_equal(js_queue_len(q), 2);
	pop_is(q, 0, 1);
	assert_false(js_queue_contains(q, qid(1)));
	assert_int_equal(js_queue_len(q), 1);
	/* popped: it may be indexed again (a requeue) */
	assert_int_equal(js_queue_add(q, qid(1), 0, 1, 0), 0);
	assert_true(js_queue_contains(q, qid(1)));
	assert_int_equal(js_queue_len(q), 2);
	js_queue_free(q);
}

/* A job already indexed is left alone: not twice, not re-ordered. */
static void
test_duplicate(void **state)
{
	struct js_queue *q = js_queue_new();

	(void)state;
	assert_int_equal(js_queue_add(q, qid(1), 1, 10, 0), 0);
	assert_int_equal(js_queue_add(q, qid(2), 5, 20, 0), 0);
	assert_int_equal(js_queue_add(q, qid(1), 100, 1, 0), 0);
	assert_int_equal(js_queue_add(q, qid(2), 5, 20, 9000), 0);
	assert_int_equal(js_queue_len(q), 2);
	pop_is(q, 0, 2);	/* its first place: priority 5, ready now */
	pop_is(q, 0, 1);
	pop_none(q, 0);
	js_queue_free(q);
}

/* not_before: not popped before its time, then in claim order among the
 * ready jobs; next_ready says when the earliest deferred job may run. */
static void
test_not_before(void **state)
{
	struct js_queue *q = js_queue_new();

	(void)state;
	assert_int_equal(js_queue_add(q, qid(1), 0, 1, 2000), 0);
	assert_int_equal(js_queue_add(q, qid(2), 0, 2, 1000), 0);
	assert_int_equal(js_queue_add(q, qid(3), 0, 3, 3000), 0);
	assert_int_equal(js_queue_next_ready(q), 1000);
	pop_none(q, 999);
	assert_int_equal(js_queue_len(q), 3);
	pop_is(q, 1000, 2);	/* at its not_before exactly */
	assert_int_equal(js_queue_next_ready(q), 2000);
	pop_none(q, 1999);
	/* both ready: claim order (seq 1 before seq 3), not time order */
	pop_is(q, 5000, 1);
	assert_int_equal(js_queue_next_ready(q), 0);	/* none deferred */
	pop_is(q, 5000, 3);
	pop_none(q, INT64_MAX);
	/* a deferred job of high priority passes ready jobs once ready, and
	 * does not hold them up before */
	assert_int_equal(js_queue_add(q, qid(4), 0, 4, 0), 0);
	assert_int_equal(js_queue_add(q, qid(5), 9, 5, 8000), 0);
	assert_int_equal(js_queue_add(q, qid(6), 0, 6, 0), 0);
	pop_is(q, 7000, 4);
	assert_int_equal(js_queue_next_ready(q), 8000);
	pop_is(q, 8000, 5);
	pop_is(q, 8000, 6);
	assert_int_equal(js_queue_len(q), 0);
	js_queue_free(q);
}

/* Thousands of jobs (the heaps grow many times), half of them deferred:
 * every one comes out exactly once, in claim order among the ready. */
static void
test_many(void **state)
{
	enum { N = 20000 };
	static unsigned char seen[N];
	struct js_queue *q = js_queue_new();
	char id[JS_ID_SIZE];
	long long prio, lastprio = 0;
	unsigned n, i, got = 0;
	int64_t nb, now;

	(void)state;
	memset(seen, 0, sizeof seen);
	for (i = 0; i < N; i++) {
		prio = (long long)((i * 7919u) % 13);
		nb = i % 2 ? 100000 + (int64_t)(i % 97) : 0;
		assert_int_equal(js_queue_add(q, qid(i), prio, (long long)i, nb), 0);
	}
	assert_int_equal(js_queue_len(q), N);
	assert_int_equal(js_queue_next_ready(q), 100000);
	/* first the ready half, priorities never rising; within one, seq
	 * (= the number) rising */
	for (n = 0, i = 0; js_queue_pop(q, 50000, id); n++) {
		unsigned k = (unsigned)strtoul(id, NULL, 16);
		assert_true(k < N && k % 2 == 0 && !seen[k]);
		seen[k] = 1;
		prio = (long long)((k * 7919u) % 13);
		if (n > 0) {
			assert_true(prio <= lastprio);
			if (prio == lastprio)
				assert_true(k > i);
		}
		lastprio = prio;
		i = k;
	}
	got = n;
	assert_int_equal(got, N / 2);
	assert_int_equal(js_queue_len(q), N / 2);
	/* then the deferred ones, as their time comes */
	for (now = 100000; now <= 100096; now++)
		while (js_queue_pop(q, now, id)) {
			unsigned k = (unsigned)strtoul(id, NULL, 16);
			assert_true(k < N && k % 2 == 1 && !seen[k]);
			assert_true(100000 + (int64_t)(k % 97) <= now);
			seen[k] = 1;
			got++;
		}
	assert_int_equal(got, N);
	assert_int_equal(js_queue_len(q), 0);
	assert_int_equal(js_queue_next_ready(q), 0);
	js_queue_free(q);
}

/* js_queue_remove: a ready or a deferred job leaves the index, an absent
 * one is 0; indexed again (its file changed) it takes its new place. */
static void
test_remove(void **state)
{
	struct js_queue *q = js_queue_new();

	(void)state;
	assert_int_equal(js_queue_remove(q, qid(1)), 0);
	assert_int_equal(js_queue_add(q, qid(1), 0, 1, 0), 0);
	assert_int_equal(js_queue_add(q, qid(2), 0, 2, 0), 0);
	assert_int_equal(js_queue_add(q, qid(3), 0, 3, 4000), 0);
	assert_int_equal(js_queue_add(q, qid(4), 0, 4, 0), 0);
	assert_int_equal(js_queue_remove(q, qid(1)), 1);
	assert_int_equal(js_queue_remove(q, qid(1)), 0);
	assert_false(js_queue_contains(q, qid(1)));
	assert_int_equal(js_queue_remove(q, qid(3)), 1);	/* deferred */
	assert_int_equal(js_queue_next_ready(q), 0);
	assert_int_equal(js_queue_len(q), 2);
	/* a PUT raised the priority of job 4 */
	assert_int_equal(js_queue_remove(q, qid(4)), 1);
	assert_int_equal(js_queue_add(q, qid(4), 7, 4, 0), 0);
	pop_is(q, 10000, 4);
	pop_is(q, 10000, 2);
	pop_none(q, 10000);
	js_queue_free(q);
}

/* Removing from the middle of both heaps keeps them heaps: what is left
 * comes out complete and in claim order. */
static void
test_remove_many(void **state)
{
	enum { N = 3000 };
	struct js_queue *q = js_queue_new();
	char id[JS_ID_SIZE];
	long long prio, lastprio = 0;
	unsigned i, k, last = 0, got = 0;

	(void)state;
	for (i = 0; i < N; i++)
		assert_int_equal(js_queue_add(q, qid(i), (long long)((i * 31u) % 17),
		    (long long)i, i % 3 == 0 ? 500 + (int64_t)(i % 11) : 0), 0);
	for (i = 0; i < N; i += 2)	/* every even one */
		assert_int_equal(js_queue_remove(q, qid(i)), 1);
	assert_int_equal(js_queue_len(q), N / 2);
	while (js_queue_pop(q, 1000, id)) {
		k = (unsigned)strtoul(id, NULL, 16);
		assert_true(k % 2 == 1);
		prio = (long long)((k * 31u) % 17);
		if (got > 0) {
			assert_true(prio <= lastprio);
			if (prio == lastprio)
				assert_true(k > last);
		}
		lastprio = prio;
		last = k;
		got++;
	}
	assert_int_equal(got, N / 2);
	js_queue_free(q);
}

/* An id that cannot name a job is refused and not indexed, whatever the
 * size of the string holding it: a literal "" (one byte) is read no
 * further than its end (AddressSanitizer checks), an unterminated buffer
 * no further than JS_ID_SIZE. */
static void
test_bad_id(void **state)
{
	struct js_queue *q = js_queue_new();
	char bad[JS_ID_SIZE] = "";

	(void)state;
	errno = 0;
	assert_int_equal(js_queue_add(q, bad, 0, 1, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_queue_len(q), 0);
	errno = 0;
	assert_int_equal(js_queue_add(q, "", 0, 1, 0), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(js_queue_add(q, "0123", 0, 1, 0), -1);
	assert_int_equal(errno, EINVAL);
	{
		char full[JS_ID_SIZE + 4];
		memset(full, 'a', sizeof full);
		errno = 0;
		assert_int_equal(js_queue_add(q, full, 0, 1, 0), -1);
		assert_int_equal(errno, EINVAL);
	}
	assert_int_equal(js_queue_len(q), 0);
	pop_none(q, 0);
	js_queue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_contains_len),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_not_before),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_remove),
		cmocka_unit_test(test_remove_many),
		cmocka_unit_test(test_bad_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
