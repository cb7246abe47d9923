/* Unit tests for lib/buf.c: the growing byte string. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"
#include "buf.h"

static void
test_empty(void **state)
{
	struct js_buf b = JS_BUF_INIT;
	size_t len = 99;
	char *s;

	(void)state;
	s = js_buf_take(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	/* a zero-length append still leaves a string */
	assert_int_equal(js_buf_add(&b, "", 0), 0);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	js_buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

static void
test_append(void **state)
{
	struct js_buf b = JS_BUF_INIT;
	char big[5000];
	size_t i, len;
	char *s;

	(void)state;
	assert_int_equal(js_buf_puts(&b, "abc"), 0);
	assert_int_equal(js_buf_add(&b, "d\0e", 3), 0);	/* bytes, NUL too */
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.p, "abcd\0e", 7);
	/* growth across many doublings keeps what was there */
	memset(big, 'x', sizeof big);
	for (i = 0; i < 40; i++)
		assert_int_equal(js_buf_add(&b, big, sizeof big), 0);
	assert_int_equal(b.len, 6 + 40 * sizeof big);
	assert_true(b.cap > b.len);
	assert_memory_equal(b.p, "abcd\0e", 6);
	assert_int_equal(b.p[b.len - 1], 'x');
	assert_int_equal(b.p[b.len], '\0');
	s = js_buf_take(&b, &len);
	assert_int_equal(len, 6 + 40 * sizeof big);
	assert_null(b.p);	/* emptied: a new string starts */
	assert_int_equal(js_buf_puts(&b, "z"), 0);
	assert_string_equal(b.p, "z");
	free(s);
	js_buf_free(&b);
}

static void
test_printf(void **state)
{
	struct js_buf b = JS_BUF_INIT;
	char word[1000];
	size_t i;

	(void)state;
	assert_int_equal(js_buf_printf(&b, "%s=%d;", "a", 1), 0);
	assert_string_equal(b.p, "a=1;");
	/* longer than the room left: formatted again after growing */
	memset(word, 'w', sizeof word - 1);
	word[sizeof word - 1] = '\0';
	for (i = 0; i < 5; i++)
		assert_int_equal(js_buf_printf(&b, "[%s]", word), 0);
	assert_int_equal(b.len, 4 + 5 * (sizeof word + 1));
	assert_int_equal(strlen(b.p), b.len);
	assert_int_equal(b.p[4], '[');
	assert_int_equal(b.p[b.len - 1], ']');
	js_buf_free(&b);
}

/* A size that cannot be allocated fails the buffer for good: later
 * appends add nothing and take gives NULL, so a document is checked once. */
static void
test_failed(void **state)
{
	struct js_buf b = JS_BUF_INIT;
	size_t len = 7;

	(void)state;
	assert_int_equal(js_buf_puts(&b, "head"), 0);
	errno = 0;
	assert_int_equal(js_buf_add(&b, "x", SIZE_MAX - 2), -1);
	assert_int_equal(errno, ENOMEM);
	assert_true(b.failed);
	assert_int_equal(js_buf_puts(&b, "tail"), -1);
	assert_int_equal(js_buf_printf(&b, "%d", 5), -1);
	assert_string_equal(b.p, "head");	/* nothing half-added */
	assert_null(js_buf_take(&b, &len));
	assert_null(b.p);
	assert_false(b.failed);		/* emptied: usable again */
	assert_int_equal(js_buf_puts(&b, "new"), 0);
	assert_string_equal(b.p, "new");
	js_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
