/*
 * loghash.c - the SHA-256 of a finished job's log in the hasher's thread
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

struct loghasher {
	pthread_t thread;
	int notify_fd;
	pthread_mutex_t mu;
	pthread_cond_t work;	/* a hashing was queued, or stop */
	pthread_cond_t done;	/* a hashing is done */
	struct loghash *head, *tail;	/* queued, oldest first */
	int stop;
};

struct loghash {
	struct loghasher *hs;
	struct loghash *next;	/* in the queue */
	int done;		/* under hs->mu: the thread is done with it */
	int fd;			/* the log, read by the thread only */
	/* written by the thread before it notifies; read after done */
	int rc, err;
	char hex[JS_SHA256_HEX_SIZE];
	uint64_t size;
};

static void *
hasher_main(void *arg)
{
	struct loghasher *hs = arg;
	struct loghash *h;

	pthread_mutex_lock(&hs->mu);
	for (;;) {
		while (hs->head == NULL && !hs->stop)
			pthread_cond_wait(&hs->work, &hs->mu);
		if (hs->head == NULL)
			break;	/* stopped, and nothing left */
		h = hs->head;
		hs->head = h->next;
		if (hs->head == NULL)
			hs->tail = NULL;
		pthread_mutex_unlock(&hs->mu);
		h->rc = js_sha256_fd(h->fd, h->hex, &h->size);
		h->err = h->rc < 0 ? errno : 0;
		pthread_mutex_lock(&hs->mu);
		h->done = 1;
		pthread_cond_broadcast(&hs->done);
		/* a pipe's write end, the read end the loop's: one whole
		 * pointer (js_read_ptr); the lock is held so that a
		 * loghash_free waiting for h cannot free it first */
		(void)js_write_all(hs->notify_fd, &h, sizeof h);
	}
	pthread_mutex_unlock(&hs->mu);
	return NULL;
}

struct loghasher *
loghasher_new(int notify_fd)
{
	struct loghasher *hs = calloc(1, sizeof *hs);
	sigset_t all, old;
	int e;

	if (hs == NULL)
		return NULL;
	hs->notify_fd = notify_fd;
	if ((e = pthread_mutex_init(&hs->mu, NULL)) != 0)
		goto fail;
	if ((e = pthread_cond_init(&hs->work, NULL)) != 0)
		goto fail_mu;
	if ((e = pthread_cond_init(&hs->done, NULL)) != 0)
		goto fail_work;
	/* the thread starts with this mask: every signal blocked */
	sigfillset(&all);
	if ((e = pthread_sigmask(SIG_SETMASK, &all, &old)) != 0)
		goto fail_done;
	e = pthread_create(&hs->thread, NULL, hasher_main, hs);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		goto fail_done;
	/* its name in /proc/PID/task/TID/comm (15 bytes at most) */
	(void)pthread_setname_np(hs->thread, "jobspool-hash");
	return hs;
fail_done:
	pthread_cond_destroy(&hs->done);
fail_work:
	pthread_cond_destroy(&hs->work);
fail_mu:
	pthread_mutex_destroy(&hs->mu);
fail:
	free(hs);
	errno = e;
	return NULL;
}

void
loghasher_free(struct loghasher *hs)
{
	if (hs == NULL)
		return;
	pthread_mutex_lock(&hs->mu);
	hs->stop = 1;
	pthread_cond_signal(&hs->work);
	pthread_mutex_unlock(&hs->mu);
	(void)pthread_join(hs->thread, NULL);
	pthread_cond_destroy(&hs->done);
	pthread_cond_destroy(&hs->work);
	pthread_mutex_destroy(&hs->mu);
	free(hs);
}

struct loghash *
loghash_start(struct loghasher *hs, int fd)
{
	struct loghash *h = calloc(1, sizeof *h);

	if (h == NULL)
		return NULL;
	h->hs = hs;
	h->fd = fd;
	pthread_mutex_lock(&hs->mu);
	if (hs->tail != NULL)
		hs->tail->next = h;
	else
		hs->head = h;
	hs->tail = h;
	pthread_cond_signal(&hs->work);
	pthread_mutex_unlock(&hs->mu);
	return h;
}

struct loghash *
loghash_read(int readfd)
{
	struct loghash *h = js_read_ptr(readfd);

	/* the thread wrote the address holding the lock, after the result:
	 * taking the lock once orders that result before our reads of it */
	if (h != NULL) {
		pthread_mutex_lock(&h->hs->mu);
		pthread_mutex_unlock(&h->hs->mu);
	}
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
	struct loghasher *hs;

	if (h == NULL)
		return;
	hs = h->hs;
	pthread_mutex_lock(&hs->mu);
	while (!h->done)
		pthread_cond_wait(&hs->done, &hs->mu);
	pthread_mutex_unlock(&hs->mu);
	(void)close(h->fd);	/* read-only: nothing to lose */
	free(h);
}
