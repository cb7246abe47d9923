/* Unit tests for lib/util.c: ids, times, durations, sizes. */
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"

static void
test_id_valid(void **state)
{
	(void)state;
	assert_true(js_id_valid("0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"));
	assert_false(js_id_valid("0B1E6F0A-3C4D-4E5F-8A9B-0C1D2E3F4A5B"));
	assert_false(js_id_valid("0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5"));
	assert_false(js_id_valid("0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5bb"));
	assert_false(js_id_valid("0b1e6f0a3c4d-4e5f-8a9b-0c1d2e3f4a5b-"));
	assert_false(js_id_valid("../etc/passwd"));
	assert_false(js_id_valid("0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a/b"));
	assert_false(js_id_valid("0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b/../x"));
	assert_false(js_id_valid("0b1e6f0g-3c4d-4e5f-8a9b-0c1d2e3f4a5b"));
	assert_false(js_id_valid(""));
	assert_false(js_id_valid(NULL));
}

static void
test_id_new(void **state)
{
	char a[JS_ID_SIZE], b[JS_ID_SIZE];
	int i;

	(void)state;
	js_id_new(a);
	js_id_new(b);
	assert_true(js_id_valid(a));
	assert_true(js_id_valid(b));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');	/* version 4 */
	for (i = 0; i < 200; i++) {	/* every one: version 4, RFC 4122 variant */
		js_id_new(a);
		assert_true(js_id_valid(a));
		assert_int_equal(a[14], '4');
		assert_non_null(strchr("89ab", a[19]));
	}
}

static void
test_time(void **state)
{
	char buf[JS_TIME_SIZE];
	int64_t ms;

	(void)state;
	js_time_format(1700000000123LL, buf);
	assert_string_equal(buf, "2023-11-14T22:13:20.123Z");
	assert_int_equal(js_time_parse(buf, &ms), 0);
	assert_int_equal(ms, 1700000000123LL);
	assert_int_equal(js_time_parse("2023-11-14T22:13:20Z", &ms), 0);
	assert_int_equal(ms, 1700000000000LL);
	assert_int_equal(js_time_parse("2023-11-14 22:13:20", &ms), -1);
	assert_int_equal(js_time_parse("2023-11-14T22:13:20.1Z", &ms), -1);
	assert_int_equal(js_time_parse("yesterday", &ms), -1);
}

static void
test_duration(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(js_parse_duration_ms("90", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(js_parse_duration_ms("90s", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(js_parse_duration_ms("15m", &ms), 0);
	assert_int_equal(ms, 900000);
	assert_int_equal(js_parse_duration_ms("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(js_parse_duration_ms("7d", &ms), 0);
	assert_int_equal(ms, 604800000);
	assert_int_equal(js_parse_duration_ms("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(js_parse_duration_ms("-5", &ms), -1);
	assert_int_equal(js_parse_duration_ms("5x", &ms), -1);
	assert_int_equal(js_parse_duration_ms("", &ms), -1);
	assert_int_equal(js_parse_duration_ms("s", &ms), -1);
	assert_int_equal(js_parse_duration_ms("99999999999999999999", &ms), -1);
	assert_int_equal(js_parse_duration_ms("9999999999999999d", &ms), -1);
	/* weeks and combined forms, largest unit first */
	assert_int_equal(js_parse_duration_ms("1w", &ms), 0);
	assert_int_equal(ms, 604800000);
	assert_int_equal(js_parse_duration_ms("1h30m", &ms), 0);
	assert_int_equal(ms, 5400000);
	assert_int_equal(js_parse_duration_ms("1m30s", &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(js_parse_duration_ms("2d3h4m5s6ms", &ms), 0);
	assert_int_equal(ms, 2 * 86400000LL + 3 * 3600000 + 4 * 60000 + 5006);
	assert_int_equal(js_parse_duration_ms("30m1h", &ms), -1);
	assert_int_equal(js_parse_duration_ms("1h1h", &ms), -1);
	assert_int_equal(js_parse_duration_ms("1h30", &ms), -1);
	assert_int_equal(js_parse_duration_ms("1h 30m", &ms), -1);
	assert_int_equal(js_parse_duration_ms("1hm", &ms), -1);
	assert_int_equal(js_parse_duration_ms("16000000000w", &ms), -1);
	assert_int_equal(js_parse_duration_ms("9223372036854775s808ms", &ms), -1);
	assert_int_equal(js_parse_duration_ms("9223372036854775s807ms", &ms), 0);
	assert_true(ms == INT64_MAX);
}

static void
test_duration_format(void **state)
{
	static const struct { int64_t ms; const char *s; } cases[] = {
		{ 0, "0ms" }, { 250, "250ms" }, { 850, "850ms" },
		{ 999, "999ms" }, { 1000, "1.0s" }, { 2500, "2.5s" },
		{ 12345, "12.3s" }, { 59999, "59.9s" }, { 60000, "1m00s" },
		{ 119999, "1m59s" }, { 125000, "2m05s" }, { 245000, "4m05s" },
		{ 3599999, "59m59s" }, { 3600000, "1h00m" },
		{ 5400000, "1h30m" }, { 7380000, "2h03m" },
		{ 86399999, "23h59m" }, { 86400000, "1d00h" },
		{ 277200000, "3d05h" }, { 604800000, "7d00h" },
		{ -5, "-5ms" }, { -1500, "-1.5s" },
		{ INT64_MAX, "106751991167d07h" },
		{ INT64_MIN, "-106751991167d07h" },
	};
	char out[JS_DURATION_SIZE];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_ptr_equal(js_duration_format(cases[i].ms, out), out);
		assert_string_equal(out, cases[i].s);
	}
}

static void
test_netfs(void **state)
{
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_string_equal(js_netfs_type_name(0x6969UL), "nfs");
	assert_string_equal(js_netfs_type_name(0xFF534D42UL), "cifs");
	assert_string_equal(js_netfs_type_name(0xFE534D42UL), "smb2");
	assert_string_equal(js_netfs_type_name(0x65735546UL), "fuse");
	assert_null(js_netfs_type_name(0xEF53UL));	/* ext4 */
	assert_null(js_netfs_type_name(0x01021994UL));	/* tmpfs */
	assert_null(js_netfs_type_name(0x58465342UL));	/* xfs */
	assert_true(fd >= 0);
	/* /tmp of a test machine is local */
	assert_null(js_netfs_name(fd));
	close(fd);
	assert_null(js_netfs_name(-1));
}

static void
test_size(void **state)
{
	uint64_t b;

	(void)state;
	assert_int_equal(js_parse_size("512", &b), 0);
	assert_int_equal(b, 512);
	assert_int_equal(js_parse_size("512M", &b), 0);
	assert_int_equal(b, 512ULL << 20);
	assert_int_equal(js_parse_size("2G", &b), 0);
	assert_int_equal(b, 2ULL << 30);
	assert_int_equal(js_parse_size("64KiB", &b), 0);
	assert_int_equal(b, 64ULL << 10);
	assert_int_equal(js_parse_size("1k", &b), 0);
	assert_int_equal(b, 1ULL << 10);
	assert_int_equal(js_parse_size("7B", &b), 0);
	assert_int_equal(b, 7);
	/* ambiguous: bits, SI or binary, milli */
	assert_int_equal(js_parse_size("1Gb", &b), -1);
	assert_int_equal(js_parse_size("1GB", &b), -1);
	assert_int_equal(js_parse_size("1mb", &b), -1);
	assert_int_equal(js_parse_size("1m", &b), -1);
	assert_int_equal(js_parse_size("1Mi", &b), -1);
	assert_int_equal(js_parse_size("1Mib", &b), -1);
	assert_int_equal(js_parse_size("1b", &b), -1);
	assert_int_equal(js_parse_size("1X", &b), -1);
	assert_int_equal(js_parse_size("M", &b), -1);
	assert_int_equal(js_parse_size("-1M", &b), -1);
	assert_int_equal(js_parse_size("99999999999T", &b), -1);
}

static void
test_parse_int(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(js_parse_int("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(js_parse_int("101", 0, 100, &v), -1);
	assert_int_equal(js_parse_int("4x", 0, 100, &v), -1);
	assert_int_equal(js_parse_int(" 4", 0, 100, &v), -1);
	assert_int_equal(js_parse_int("", 0, 100, &v), -1);
	assert_int_equal(js_parse_int("99999999999999999999", 0, 100, &v), -1);
}

static void
test_proc_start_time(void **state)
{
	unsigned long long a, b;

	(void)state;
	assert_int_equal(js_proc_start_time(getpid(), &a), 0);
	assert_int_equal(js_proc_start_time(getpid(), &b), 0);
	assert_true(a == b && a > 0);
	assert_int_equal(js_proc_start_time(-5, &a), -1);
}

/* js_read_ptr: whole pointers back in order; EAGAIN on an empty
 * non-blocking pipe, EIO on a short read, EPIPE once the writers are gone */
static void
test_read_ptr(void **state)
{
	int p[2], a = 1, b = 2;
	int *pa = &a, *pb = &b;
	char half[sizeof pa / 2] = { 0 };

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(js_write_all(p[1], &pa, sizeof pa), 0);
	assert_int_equal(js_write_all(p[1], &pb, sizeof pb), 0);
	assert_ptr_equal(js_read_ptr(p[0]), &a);
	assert_ptr_equal(js_read_ptr(p[0]), &b);
	errno = 0;
	assert_null(js_read_ptr(p[0]));
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(js_write_all(p[1], half, sizeof half), 0);
	assert_null(js_read_ptr(p[0]));
	assert_int_equal(errno, EIO);
	close(p[1]);
	assert_null(js_read_ptr(p[0]));
	assert_int_equal(errno, EPIPE);
	close(p[0]);
}

/* js_mono_deadline: ns from now on the monotonic clock, normalised, and
 * never before the clock read after it minus ns. */
static void
test_mono_deadline(void **state)
{
	struct timespec a, b, d;
	long long da, db, dd;

	(void)state;
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &a), 0);
	assert_int_equal(js_mono_deadline(&d, 999999999L), 0);
	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &b), 0);
	assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
	da = a.tv_sec * 1000000000LL + a.tv_nsec;
	db = b.tv_sec * 1000000000LL + b.tv_nsec;
	dd = d.tv_sec * 1000000000LL + d.tv_nsec;
	assert_true(dd >= da + 999999999LL);
	assert_true(dd <= db + 999999999LL);
	assert_int_equal(js_mono_deadline(&d, 0), 0);
	assert_true(d.tv_nsec < 1000000000L);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_id_new),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_netfs),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_proc_start_time),
		cmocka_unit_test(test_read_ptr),
		cmocka_unit_test(test_mono_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
