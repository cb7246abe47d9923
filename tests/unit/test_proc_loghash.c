/* Unit tests for processor/loghash.c: logs hashed by the hasher's one
 * thread, reported over a pipe in the order queued, each digest and size
 * those of its file; a descriptor that cannot be read reported as an
 * error; a hashing freed before it was read back waited for; many
 * hashings through the same thread. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "testutil.h"
#include "../../processor/loghash.h"

static struct loghash *
wait_read(int rfd)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
	return loghash_read(rfd);
}

/* The next address on the pipe, not followed (its hashing was freed). */
static void *
wait_addr(int rfd)
{
	struct pollfd p = { .fd = rfd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, 10000), 1);
	return js_read_ptr(rfd);
}

/* Two logs hashed at once: each reported once, with the SHA-256 and size
 * of its file (the known digest of "abc"; 200 kB of a pattern checked
 * against js_sha256_fd); nothing more on the pipe. */
static void
test_loghash_two(void **state)
{
	char *dir = tu_tempdir(), a[600], b[600], hex[JS_SHA256_HEX_SIZE],
	    want[JS_SHA256_HEX_SIZE];
	struct loghasher *hs;
	struct loghash *ha, *hb, *r;
	uint64_t size, wsize;
	int p[2], fd, i, got = 0;

	(void)state;
	snprintf(a, sizeof a, "%s/a.log", dir);
	snprintf(b, sizeof b, "%s/b.log", dir);
	fd = open(a, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	fd = open(b, O_WRONLY | O_CREAT, 0600);
	for (i = 0; i < 200000; i++)
		assert_int_equal(write(fd, &"0123456789"[i % 10], 1), 1);
	close(fd);
	fd = open(b, O_RDONLY);
	assert_int_equal(js_sha256_fd(fd, want, &wsize), 0);
	close(fd);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	hs = loghasher_new(p[1]);
	assert_non_null(hs);
	/* the big one first: the small one is reported after it */
	hb = loghash_start(hs, open(b, O_RDONLY | O_CLOEXEC));
	ha = loghash_start(hs, open(a, O_RDONLY | O_CLOEXEC));
	assert_non_null(ha);
	assert_non_null(hb);
	for (i = 0; i < 2; i++) {
		r = wait_read(p[0]);
		assert_ptr_equal(r, i == 0 ? hb : ha);
		assert_int_equal(loghash_result(r, hex, &size), 0);
		if (r == ha) {
			assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
			assert_int_equal(size, 3);
			got |= 1;
		} else {
			assert_string_equal(hex, want);
			assert_int_equal(size, 200000);
			assert_int_equal(wsize, 200000);
			got |= 2;
		}
		loghash_free(r);
	}
	assert_int_equal(got, 3);
	errno = 0;
	assert_null(loghash_read(p[0]));
	assert_int_equal(errno, EAGAIN);
	loghasher_free(hs);
	close(p[0]);
	close(p[1]);
	tu_rm_tree(dir);
}

/* A descriptor that cannot be read (a directory: EISDIR): the hashing
 * still reports, and its result is -1 with that errno; loghash_free of a
 * hashing never read back joins its thread. */
static void
test_loghash_unreadable(void **state)
{
	char *dir = tu_tempdir(), hex[JS_SHA256_HEX_SIZE];
	struct loghasher *hs;
	struct loghash *h, *r;
	uint64_t size;
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	hs = loghasher_new(p[1]);
	assert_non_null(hs);
	h = loghash_start(hs, open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	assert_non_null(h);
	r = wait_read(p[0]);
	assert_ptr_equal(r, h);
	assert_int_equal(loghash_result(r, hex, &size), -1);
	assert_int_equal(errno, EISDIR);
	loghash_free(r);
	/* not read back: freed while (or after) it runs, which waits for it;
	 * its address still reaches the pipe */
	h = loghash_start(hs, open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	assert_non_null(h);
	loghash_free(h);
	assert_ptr_equal(wait_addr(p[0]), h);
	loghasher_free(hs);
	close(p[0]);
	close(p[1]);
	tu_rm_tree(dir);
}

/* 500 hashings through the one thread, read back as they come, then a
 * hasher stopped with hashings still queued: it hashes them first (each
 * reported), and frees cleanly. */
static void
test_loghash_many(void **state)
{
	char *dir = tu_tempdir(), path[600], hex[JS_SHA256_HEX_SIZE];
	struct loghasher *hs;
	struct loghash *h[8], *r;
	uint64_t size;
	int p[2], fd, i, n = 0;

	(void)state;
	snprintf(path, sizeof path, "%s/x.log", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	hs = loghasher_new(p[1]);
	assert_non_null(hs);
	for (i = 0; i < 500; i++) {
		assert_non_null(loghash_start(hs, open(path, O_RDONLY |
		    O_CLOEXEC)));
		r = wait_read(p[0]);
		assert_non_null(r);
		assert_int_equal(loghash_result(r, hex, &size), 0);
		assert_int_equal(size, 3);
		loghash_free(r);
		n++;
	}
	assert_int_equal(n, 500);
	for (i = 0; i < 8; i++)
		assert_non_null(h[i] = loghash_start(hs, open(path, O_RDONLY |
		    O_CLOEXEC)));
	for (i = 0; i < 8; i++)
		loghash_free(h[i]);	/* each waited for */
	loghasher_free(hs);
	for (i = 0; i < 8; i++)
		assert_ptr_equal(wait_addr(p[0]), h[i]);
	close(p[0]);
	close(p[1]);
	tu_rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loghash_two),
		cmocka_unit_test(test_loghash_unreadable),
		cmocka_unit_test(test_loghash_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
