/* leases.c - the leases of remote workers' jobs: a job a worker claimed
 * (routes_workers.c) whose heartbeat stopped for longer than --lease goes
 * back to the queue.  Recovery runs before claims and, once this apiserver
 * has handed out a job, once a second on this module's own thread, so a
 * silent worker's job returns even while no worker claims.  The rule for
 * "expired" is lib/sched's; the requeue is js_spool_recover_job. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "sched.h"

#define RECOVER_EVERY_MS 1000

struct leases {
	struct api *a;
	atomic_ulong claims;		/* jobs handed to workers */
	pthread_mutex_t recover_mu;	/* one recovery at a time */
	int64_t recover_last;		/* js_mono_ms of the last recovery */
	struct ticker *timer;
};

struct leases *
leases_new(struct api *a)
{
	struct leases *l = calloc(1, sizeof *l);
	int e;

	if (l == NULL)
		return NULL;
	l->a = a;
	if ((e = pthread_mutex_init(&l->recover_mu, NULL)) != 0) {
		free(l);
		errno = e;
		return NULL;
	}
	return l;
}

void
leases_free(struct leases *l)
{
	if (l == NULL)
		return;
	ticker_stop(l->timer);
	pthread_mutex_destroy(&l->recover_mu);
	free(l);
}

void
leases_claimed(struct leases *l)
{
	atomic_fetch_add(&l->claims, 1);
}

unsigned long
leases_claims(struct leases *l)
{
	return atomic_load(&l->claims);
}

int64_t
leases_ms(struct api *a)
{
	int64_t l;

	pthread_rwlock_rdlock(&a->lock);
	l = a->conf->lease_ms;
	pthread_rwlock_unlock(&a->lock);
	return l;
}

/* A job a local processor ran (it has a "pid") is left to the local
 * processors: their recovery kills what is left of the old run on this
 * host before the job runs again, which the apiserver cannot do. */
void
leases_recover(struct leases *l, int64_t lease)
{
	struct api *a = l->a;
	struct js_entry *v = NULL;
	size_t n = 0, i;
	int64_t now = js_mono_ms(), wall;

	if (pthread_mutex_trylock(&l->recover_mu) != 0)
		return;
	if (l->recover_last != 0 && now - l->recover_last < RECOVER_EVERY_MS) {
		pthread_mutex_unlock(&l->recover_mu);
		return;
	}
	l->recover_last = now;
	if (js_spool_list(a->sp, JS_STATE_BIT(JS_WIP), JS_LIST_STAT, &v,
	    &n) < 0) {
		pthread_mutex_unlock(&l->recover_mu);
		js_warn("lease recovery: %s", strerror(errno));
		return;
	}
	wall = js_now_ms();
	for (i = 0; i < n; i++) {
		json_t *job, *pid;
		int local, r;

		if (!js_sched_lease_expired(v[i].mtime_ms, lease, wall))
			continue;
		job = js_spool_read_state(a->sp, v[i].id, JS_WIP);
		if (job == NULL && errno == ENOENT)
			continue;	/* finished meanwhile */
		pid = json_object_get(job, "pid");
		local = json_is_integer(pid) && json_integer_value(pid) > 0;
		json_decref(job);
		if (local)
			continue;
		r = js_spool_recover_job(a->sp, v[i].id, lease, NULL, NULL);
		if (r > 0) {
			char d[JS_DURATION_SIZE];
			bus_pending_kick(a->bus);
			js_duration_format(lease, d);
			js_info("job %s: the lease of its remote worker expired "
			    "(%s without a heartbeat); recovered", v[i].id, d);
		} else if (r < 0) {
			js_warn("job %s: lease recovery: %s", v[i].id,
			    strerror(errno));
		}
	}
	free(v);
	pthread_mutex_unlock(&l->recover_mu);
}

/* Once a second: only an apiserver that has served remote workers holds
 * their leases; others leave recovery to local processors. */
static void
tick(void *arg)
{
	struct leases *l = arg;

	if (atomic_load(&l->claims) == 0)
		return;
	leases_recover(l, leases_ms(l->a));
}

int
leases_start(struct leases *l)
{
	l->timer = ticker_start(RECOVER_EVERY_MS, tick, l);
	return l->timer != NULL ? 0 : -1;
}
