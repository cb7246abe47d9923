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
#include <time.h>

#include "api.h"
#include "log.h"
#include "sched.h"

#define RECOVER_EVERY_MS 1000

static atomic_ulong claims_total;
static pthread_mutex_t recover_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t recover_last;	/* js_mono_ms of the last recovery */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct api *a;
	pthread_t th;
	int running, stop;
} timer = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

void
leases_claimed(void)
{
	atomic_fetch_add(&claims_total, 1);
}

unsigned long
leases_claims(void)
{
	return atomic_load(&claims_total);
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
leases_recover(struct api *a, int64_t lease)
{
	struct js_entry *v = NULL;
	size_t n = 0, i;
	int64_t now = js_mono_ms(), wall;

	if (pthread_mutex_trylock(&recover_mu) != 0)
		return;
	if (recover_last != 0 && now - recover_last < RECOVER_EVERY_MS) {
		pthread_mutex_unlock(&recover_mu);
		return;
	}
	recover_last = now;
	if (js_spool_list(a->sp, JS_STATE_BIT(JS_WIP), JS_LIST_STAT, &v,
	    &n) < 0) {
		pthread_mutex_unlock(&recover_mu);
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
			follow_pending_kick();
			js_duration_format(lease, d);
			js_info("job %s: the lease of its remote worker expired "
			    "(%s without a heartbeat); recovered", v[i].id, d);
		} else if (r < 0) {
			js_warn("job %s: lease recovery: %s", v[i].id,
			    strerror(errno));
		}
	}
	free(v);
	pthread_mutex_unlock(&recover_mu);
}

static void *
tick(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&timer.mu);
	while (!timer.stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += RECOVER_EVERY_MS / 1000;
		pthread_cond_timedwait(&timer.cv, &timer.mu, &ts);
		if (timer.stop)
			break;
		/* only an apiserver that has served remote workers holds
		 * their leases; others leave recovery to local processors */
		if (atomic_load(&claims_total) == 0)
			continue;
		pthread_mutex_unlock(&timer.mu);	/* it reads the spool */
		leases_recover(timer.a, leases_ms(timer.a));
		pthread_mutex_lock(&timer.mu);
	}
	pthread_mutex_unlock(&timer.mu);
	return NULL;
}

int
leases_start(struct api *a)
{
	timer.a = a;
	timer.stop = 0;
	if ((errno = pthread_create(&timer.th, NULL, tick, NULL)) != 0)
		return -1;
	timer.running = 1;
	return 0;
}

void
leases_stop(void)
{
	if (!timer.running)
		return;
	pthread_mutex_lock(&timer.mu);
	timer.stop = 1;
	pthread_cond_signal(&timer.cv);
	pthread_mutex_unlock(&timer.mu);
	pthread_join(timer.th, NULL);
	timer.running = 0;
}
