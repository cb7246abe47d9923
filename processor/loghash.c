/*
 * loghash.c - the SHA-256 of a finished job's log in a thread of its own
 * (see loghash.h).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loghash.h"
#include "util.h"

struct loghash {
	pthread_t thread;
	int joined;		/* the thread has been joined */
	int fd;			/* the log, read by the thread only */
	int notify_fd;
	/* written by the thread before it notifies; read after the join */
	int rc, err;
	char hex[JS_SHA256_HEX_SIZE];
	uint64_t size;
};

static void *
hash_main(void *arg)
{
	struct loghash *h = arg;
	h->rc = js_sha256_fd(h->fd, h->hex, &h->size);
	h->err = h->rc < 0 ? errno : 0;
	/* a pipe's write end, the read end the loop's for as long as a
	 * hashing runs: one whole pointer (js_read_ptr) */
	(void)js_write_all(h->notify_fd, &h, sizeof h);
	return NULL;
}

struct loghash *
loghash_start(int fd, int notify_fd)
{
	struct loghash *h = calloc(1, sizeof *h);
	sigset_t all, old;
	int e;

	if (h == NULL)
		return NULL;
	h->fd = fd;
	h->notify_fd = notify_fd;
	/* the thread starts with this mask: every signal blocked */
	sigfillset(&all);
	if ((e = pthread_sigmask(SIG_SETMASK, &all, &old)) != 0) {
		free(h);
		errno = e;
		return NULL;
	}
	e = pthread_create(&h->thread, NULL, hash_main, h);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		free(h);
		errno = e;
		return NULL;
	}
	/* its name in /proc/PID/task/TID/comm (15 bytes at most) */
	(void)pthread_setname_np(h->thread, "jobspool-hash");
	return h;
}

struct loghash *
loghash_read(int readfd)
{
	struct loghash *h = js_read_ptr(readfd);
	int e;

	if (h == NULL)
		return NULL;
	if ((e = pthread_join(h->thread, NULL)) != 0) {
		errno = e;
		return NULL;
	}
	h->joined = 1;
	return h;
}

int
loghash_result(const struct loghash *h, char hex[JS_SHA256_HEX_SIZE],
    uint64_t *size)
{
	if (h->rc < 0) {
		errno = h->err;
		return -1;
	}
	memcpy(hex, h->hex, JS_SHA256_HEX_SIZE);
	*size = h->size;
	return 0;
}

void
loghash_free(struct loghash *h)
{
	if (h == NULL)
		return;
	if (!h->joined)
		(void)pthread_join(h->thread, NULL);
	(void)close(h->fd);	/* read-only: nothing to lose */
	free(h);
}
