/*
 * remote_spool.c - the local work spool as the threads of the link process
 * share it (see remote_link.h): the wake-up on a change (inotify in the
 * link's main thread, or the link's own state), the removal of a job's
 * local copy, what is left of a run whose processor is gone, and the
 * leftovers of an earlier run dropped at start-up (remote_prepare).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "remote.h"
#include "remote_link.h"

void
link_wake(struct link *lk)
{
	pthread_mutex_lock(&lk->mu);
	lk->change++;
	pthread_cond_broadcast(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
}

void
link_wait(struct link *lk, const unsigned long *own, unsigned long *seen,
    int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lk->mu);
	/* (the sum of two counters that only grow changes when either does) */
	while (lk->change + (own ? *own : 0) == *seen &&
	    !atomic_load(&lk->give_up))
		if (pthread_cond_timedwait(&lk->cv, &lk->mu, &ts) == ETIMEDOUT)
			break;
	*seen = lk->change + (own ? *own : 0);
	pthread_mutex_unlock(&lk->mu);
}

void
link_kill_run_group(const json_t *job)
{
	pid_t pg = run_recorded_group(job, 0);

	if (pg > 0)
		kill(-pg, SIGKILL);
}

void
link_drop_local(struct js_spool *sp, const char *id)
{
	enum js_state st;
	int tries;

	for (tries = 0; tries < 10; tries++) {
		json_t *job = js_spool_read(sp, id, &st);
		if (job == NULL) {
			/* a file a power loss emptied (nothing here is
			 * synced): the first one js_spool_read found, which
			 * js_spool_find names; then look again */
			if (errno != EBADMSG || js_spool_find(sp, id, &st) < 0 ||
			    js_spool_drop_damaged(sp, id, st) < 0)
				return;
			js_warn("job %s: its %s file here was damaged (a power "
			    "loss?); removed", id, js_state_ext(st));
			continue;
		}
		if (st == JS_PENDING) {
			js_spool_cancel(sp, id, "dropped by the remote link", NULL);
		} else if (st == JS_WIP) {
			struct js_claim c;
			memcpy(c.id, id, JS_ID_SIZE);
			c.generation = js_job_int(job, "generation", 0);
			json_object_set_new(job, "error",
			    json_string("dropped by the remote link"));
			js_spool_finish(sp, &c, job, JS_CANCELLED);
		} else if (js_spool_remove(sp, id) == 0) {
			json_decref(job);
			return;
		}
		json_decref(job);
	}
	js_warn("job %s: cannot remove the local copy: %s", id, strerror(errno));
}

int
remote_prepare(struct js_spool *sp)
{
	struct js_entry *v;
	size_t n, i;
	int dropped = 0;

	if (js_spool_list(sp, JS_STATE_BIT(JS_PENDING) | JS_STATE_BIT(JS_WIP), 0,
	    &v, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *job = js_spool_read(sp, v[i].id, NULL);

		if (v[i].state == JS_WIP && job != NULL)
			link_kill_run_group(job);	/* what is left of our run */
		json_decref(job);
		js_info("job %s: left %s by an earlier run; dropped here (the "
		    "server recovers it when its lease expires)", v[i].id,
		    v[i].state == JS_WIP ? "running" : "pending");
		link_drop_local(sp, v[i].id);
		dropped++;
	}
	free(v);
	return dropped;
}
