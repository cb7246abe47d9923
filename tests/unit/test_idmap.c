/* Unit tests for lib/idmap.c: the id-keyed hash table and js_hash. */
#include <errno.h>

#include "testutil.h"
#include "idmap.h"

static void
test_hash(void **state)
{
	(void)state;
	/* FNV-1a 64 reference values */
	assert_true(js_hash(JS_HASH_INIT, "", 0) == 0xcbf29ce484222325ULL);
	assert_true(js_hash(JS_HASH_INIT, "a", 1) == 0xaf63dc4c8601ec8cULL);
	assert_true(js_hash(JS_HASH_INIT, "foobar", 6) == 0x85944171f73967e8ULL);
	/* continuing a hash equals hashing the concatenation */
	assert_true(js_hash(js_hash(JS_HASH_INIT, "foo", 3), "bar", 3) ==
	    js_hash(JS_HASH_INIT, "foobar", 6));
}

static void
test_basic(void **state)
{
	struct js_idmap m;
	void *v = NULL;
	int a = 1, b = 2;

	(void)state;
	js_idmap_init(&m);
	assert_false(js_idmap_get(&m, "x", &v));
	assert_int_equal(js_idmap_del(&m, "x", NULL), 0);
	assert_int_equal(js_idmap_put(&m, "x", &a, NULL), 1);
	assert_int_equal(js_idmap_len(&m), 1);
	assert_true(js_idmap_get(&m, "x", &v));
	assert_ptr_equal(v, &a);
	/* replacing returns the old value */
	assert_int_equal(js_idmap_put(&m, "x", &b, &v), 0);
	assert_ptr_equal(v, &a);
	assert_int_equal(js_idmap_len(&m), 1);
	assert_int_equal(js_idmap_del(&m, "x", &v), 1);
	assert_ptr_equal(v, &b);
	assert_false(js_idmap_get(&m, "x", NULL));
	assert_int_equal(js_idmap_len(&m), 0);
	/* keys that cannot be ids are refused, not stored */
	assert_int_equal(js_idmap_put(&m, "", &a, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_idmap_put(&m, "-", &a, NULL), -1);
	assert_int_equal(js_idmap_put(&m,
	    "0123456789012345678901234567890123456789", &a, NULL), -1);
	assert_int_equal(js_idmap_len(&m), 0);
	js_idmap_free(&m, NULL);
}

/* Many ids, deletions in between (tombstones), growth, and iteration
 * that sees every key exactly once. */
static void
test_many(void **state)
{
	enum { N = 5000 };
	static char ids[N][JS_ID_SIZE];
	static unsigned char seen[N];
	struct js_idmap m;
	const char *id;
	void *v;
	size_t pos = 0, n = 0, odd = 0, i;

	(void)state;
	js_idmap_init(&m);
	for (i = 0; i < N; i++) {
		js_id_new(ids[i]);
		assert_int_equal(js_idmap_put(&m, ids[i], (void *)(i + 1), NULL),
		    1);
		/* delete every third id some time after it was put */
		if (i >= 10 && (i - 10) % 3 == 0)
			assert_int_equal(js_idmap_del(&m, ids[i - 10], NULL), 1);
	}
	for (i = 0; i < N; i++) {
		int want = !(i + 10 < N && i % 3 == 0);
		assert_int_equal(js_idmap_get(&m, ids[i], &v), want);
		if (want) {
			assert_true((size_t)v == i + 1);
			n++;
			odd += i % 2;
		}
	}
	assert_int_equal(js_idmap_len(&m), n);
	n = 0;
	while (js_idmap_next(&m, &pos, &id, &v)) {
		size_t k = (size_t)v - 1;
		assert_true(k < N);
		assert_string_equal(id, ids[k]);
		assert_int_equal(seen[k]++, 0);
		n++;
		if (k % 2 == 0)	/* deleting the current entry is allowed */
			assert_int_equal(js_idmap_del(&m, id, NULL), 1);
	}
	assert_int_equal(n, N - (N - 10 + 2) / 3);
	assert_int_equal(js_idmap_len(&m), odd);
	js_idmap_free(&m, NULL);
}

static void
test_free_values(void **state)
{
	struct js_idmap m;
	char id[JS_ID_SIZE];
	int i;

	(void)state;
	js_idmap_init(&m);
	for (i = 0; i < 100; i++) {
		js_id_new(id);
		assert_int_equal(js_idmap_put(&m, id, malloc(16), NULL), 1);
	}
	js_idmap_free(&m, free);	/* LeakSanitizer checks */
	assert_int_equal(js_idmap_len(&m), 0);
	assert_int_equal(js_idmap_put(&m, id, NULL, NULL), 1);
	js_idmap_free(&m, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_free_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
