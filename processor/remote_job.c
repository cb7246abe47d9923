/*
 * remote_job.c - the rules of one claimed job in remote mode: a pure state
 * machine (see remote_job.h for the states, events and actions).
 */
#include "remote_job.h"
#include "sched.h"

void
rj_init(struct rj *m)
{
	m->lease = RJ_HELD;
	m->copy = RJ_RUNS;
	m->paused = 0;
	m->ended = 0;
}

int
rj_lost(const struct rj *m)
{
	return m->lease == RJ_LOST || m->lease == RJ_LOST_EXPIRED;
}

static enum rj_action
on_cancel(struct rj *m)
{
	/* a lost lease takes no orders (a cancel comes with a heartbeat the
	 * server took, which a lost lease no longer sends) */
	if (rj_lost(m) || m->copy != RJ_RUNS)
		return RJ_NONE;
	m->copy = RJ_CANCELLED;
	return RJ_CANCEL_LOCAL;
}

static enum rj_action
on_refused(struct rj *m)
{
	if (rj_lost(m))
		return RJ_NONE;		/* known already */
	/* the local copy is stopped at the next turn, unless it ended */
	m->lease = m->lease == RJ_EXPIRED ? RJ_LOST_EXPIRED : RJ_LOST;
	return RJ_SAY_LOST;
}

static enum rj_action
on_expired(struct rj *m, int killed)
{
	if (m->lease == RJ_EXPIRED || m->lease == RJ_LOST_EXPIRED)
		return RJ_NONE;		/* the watchdog says it once */
	m->lease = m->lease == RJ_LOST ? RJ_LOST_EXPIRED : RJ_EXPIRED;
	if (killed)
		m->copy = RJ_KILLED;
	return RJ_TAKE_WHY;
}

enum rj_action
rj_on(struct rj *m, enum rj_event ev)
{
	if (m->ended && ev != RJ_EV_PAUSED && ev != RJ_EV_RESUMED)
		return RJ_NONE;
	switch (ev) {
	case RJ_EV_CANCEL:
		return on_cancel(m);
	case RJ_EV_REFUSED:
		return on_refused(m);
	case RJ_EV_EXPIRED:
	case RJ_EV_EXPIRED_KILLED:
		return on_expired(m, ev == RJ_EV_EXPIRED_KILLED);
	case RJ_EV_PAUSED:
		m->paused = 1;
		return RJ_NONE;
	case RJ_EV_RESUMED:
		m->paused = 0;
		return RJ_NONE;
	case RJ_EV_DELIVERED:
		m->ended = 1;
		return RJ_DROP;
	case RJ_NEVENTS:
		break;
	}
	return RJ_NONE;
}

/* Pause while more than the buffer is unsent, resume below half of it (or
 * when the lease is not held, the run ended, or the link is stopping).  A
 * link that is stopping pauses nothing: the resume it asks for stands (a
 * pause there would be undone at the next turn, stop and continue in turn
 * for as long as the link hands jobs back). */
static enum rj_action
pace(const struct rj *m, const struct rj_view *v)
{
	uint64_t unsent = v->log_size - v->acked;

	if (!m->paused && m->lease == RJ_HELD && v->local == JS_WIP &&
	    v->log_size > v->acked && unsent > v->log_buffer &&
	    !v->give_up && !v->shutdown)
		return RJ_PAUSE;
	if (m->paused && (m->lease != RJ_HELD || v->local != JS_WIP ||
	    unsent <= v->log_buffer / 2 || v->give_up || v->shutdown))
		return RJ_RESUME;
	return RJ_NONE;
}

/* The network step: keep the lease, send the log, then the end. */
static enum rj_action
net(struct rj *m, const struct rj_view *v)
{
	int lost = rj_lost(m), final = js_sched_final(v->local);

	if (v->give_up)
		return RJ_END;
	if (!v->net_due)
		return RJ_WAIT;
	if (!lost && v->hb_due)
		return RJ_HEARTBEAT;
	if (!lost && v->log_size > v->acked && v->has_log)
		return RJ_SEND_LOG;
	/* a copy killed for a lost lease is offered back, not as cancelled:
	 * if the server has not recovered it yet, it runs again */
	if (final)
		return m->copy == RJ_KILLED ? RJ_OFFER_BACK : RJ_FINISH;
	/* not run, or the processor is gone: back to the server for someone
	 * else */
	if ((v->shutdown && v->local == JS_PENDING) || (v->gone && !lost)) {
		if (v->local == JS_PENDING && v->attempt_unused)
			return RJ_GIVE_BACK;
		return v->gone && v->local == JS_WIP ? RJ_KILL_HAND_BACK :
		    RJ_HAND_BACK;
	}
	if (v->gone && lost) {
		m->ended = 1;
		return RJ_DROP;
	}
	return RJ_WAIT;
}

void
rj_turn(struct rj *m, const struct rj_view *v, struct rj_turn *t)
{
	t->local = t->pace = RJ_NONE;
	if (m->ended) {
		t->net = RJ_END;
		return;
	}
	if (rj_lost(m) && m->copy == RJ_RUNS && !js_sched_final(v->local)) {
		m->copy = RJ_KILLED;
		t->local = RJ_KILL_LOCAL;
	}
	t->pace = pace(m, v);
	t->net = net(m, v);
}

const char *
rj_action_name(enum rj_action a)
{
	static const char *const names[RJ_NACTIONS] = {
		[RJ_NONE] = "none",
		[RJ_CANCEL_LOCAL] = "cancel-local",
		[RJ_SAY_LOST] = "say-lost",
		[RJ_TAKE_WHY] = "take-why",
		[RJ_DROP] = "drop",
		[RJ_KILL_LOCAL] = "kill-local",
		[RJ_PAUSE] = "pause",
		[RJ_RESUME] = "resume",
		[RJ_END] = "end",
		[RJ_WAIT] = "wait",
		[RJ_HEARTBEAT] = "heartbeat",
		[RJ_SEND_LOG] = "send-log",
		[RJ_FINISH] = "finish",
		[RJ_OFFER_BACK] = "offer-back",
		[RJ_HAND_BACK] = "hand-back",
		[RJ_GIVE_BACK] = "give-back",
		[RJ_KILL_HAND_BACK] = "kill-hand-back",
	};

	return (unsigned)a < RJ_NACTIONS ? names[a] : "?";
}

long
rj_stall_secs(int64_t lease_ms)
{
	long s = (long)(lease_ms / 3000);

	return s < 2 ? 2 : s > 15 ? 15 : s;
}

long
rj_heartbeat_stall_secs(int64_t hb_ms, int64_t lease_ms)
{
	long s = (long)(hb_ms / 2000), max = rj_stall_secs(lease_ms);

	return s < 1 ? 1 : s < max ? s : max;
}

int64_t
rj_retry_max_ms(int64_t retry_max_ms, int64_t hb_ms)
{
	if (retry_max_ms < hb_ms / 2)
		return retry_max_ms;
	return hb_ms / 2 > 250 ? hb_ms / 2 : 250;
}
