/*
 * ticker.c - a thread that calls a function every so many milliseconds
 * until it is stopped; the stop wakes it at once (a condition variable on
 * the monotonic clock), so shutdown never waits a period.  The
 * header-timeout guard (guard.c) and lease recovery (leases.c) each run
 * one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "api.h"

struct ticker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	unsigned every_ms;
	void (*fn)(void *);
	void *arg;
	int stop;
};

static void
deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
run(void *arg)
{
	struct ticker *t = arg;
	struct timespec ts;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		deadline(&ts, t->every_ms);
		while (!t->stop &&
		    pthread_cond_timedwait(&t->cv, &t->mu, &ts) != ETIMEDOUT)
			;
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->mu);	/* fn may take its time */
		t->fn(t->arg);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct ticker *
ticker_start(unsigned every_ms, void (*fn)(void *), void *arg)
{
	struct ticker *t = calloc(1, sizeof *t);
	pthread_condattr_t ca;
	int e;

	if (t == NULL)
		return NULL;
	t->every_ms = every_ms;
	t->fn = fn;
	t->arg = arg;
	if ((e = pthread_condattr_init(&ca)) != 0) {
		free(t);
		errno = e;
		return NULL;
	}
	if ((e = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) == 0 &&
	    (e = pthread_cond_init(&t->cv, &ca)) == 0) {
		if ((e = pthread_mutex_init(&t->mu, NULL)) != 0)
			pthread_cond_destroy(&t->cv);
		else if ((e = pthread_create(&t->th, NULL, run, t)) != 0) {
			pthread_mutex_destroy(&t->mu);
			pthread_cond_destroy(&t->cv);
		}
	}
	pthread_condattr_destroy(&ca);
	if (e != 0) {
		free(t);
		errno = e;
		return NULL;
	}
	return t;
}

void
ticker_stop(struct ticker *t)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t);
}
