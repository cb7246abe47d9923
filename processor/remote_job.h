/*
 * remote_job.h - the rules of one claimed job in remote mode, as a pure
 * state machine: no I/O, no clock, no globals.  The job's thread
 * (remote_mirror.c) tells it what happened (rj_on: an event) and what it
 * sees at each turn of its loop (rj_turn: a struct rj_view), and carries
 * out the actions it answers.
 *
 * A job's state has four parts:
 *
 *   lease  HELD          the server holds the lease as ours
 *          EXPIRED       the lease watchdog saw no heartbeat taken for
 *                        (almost) a lease: the server may recover the job
 *                        any moment.  Heartbeats, log and end are still
 *                        offered; the server takes them while it has not.
 *          LOST          the server refused a call about the job (409, 404,
 *                        400, or its log is shorter than at the claim): no
 *                        more heartbeats or log, only the end
 *          LOST_EXPIRED  both (acts as LOST)
 *   copy   RUNS          the local copy is left to run
 *          CANCELLED     told to stop because the server asked: its end is
 *                        reported as it is
 *          KILLED        stopped because the lease was lost (by the job's
 *                        turn or by the watchdog): its end is offered back
 *                        as pending, to run again if the server still can
 *   paused the local run is SIGSTOPped: too many log bytes unsent
 *   ended  the server answered the end for good, or the copy was dropped
 *
 * Events and what each answers (anything not listed: RJ_NONE, no change):
 *   CANCEL          lease HELD or EXPIRED, copy RUNS: copy CANCELLED,
 *                   RJ_CANCEL_LOCAL
 *   REFUSED         lease HELD/EXPIRED: LOST/LOST_EXPIRED, RJ_SAY_LOST
 *   EXPIRED         lease HELD/LOST: EXPIRED/LOST_EXPIRED, RJ_TAKE_WHY
 *   EXPIRED_KILLED  as EXPIRED, and copy KILLED
 *   PAUSED/RESUMED  paused set/cleared
 *   DELIVERED       ended, RJ_DROP
 * Once ended, every event but PAUSED/RESUMED is refused and every turn
 * answers RJ_END.
 */
#ifndef JS_REMOTE_JOB_H
#define JS_REMOTE_JOB_H

#include <stdint.h>

#include "spool.h"

enum rj_lease { RJ_HELD, RJ_EXPIRED, RJ_LOST, RJ_LOST_EXPIRED };
#define RJ_NLEASES 4
enum rj_copy { RJ_RUNS, RJ_CANCELLED, RJ_KILLED };
#define RJ_NCOPIES 3

struct rj {
	enum rj_lease lease;
	enum rj_copy copy;
	int paused;
	int ended;
};

enum rj_event {
	RJ_EV_CANCEL,		/* a heartbeat's answer asks for a cancel */
	RJ_EV_REFUSED,		/* the server refused a call about the job */
	RJ_EV_EXPIRED,		/* the watchdog: lease out, copy not stopped */
	RJ_EV_EXPIRED_KILLED,	/* the watchdog: lease out, copy stopped */
	RJ_EV_PAUSED,		/* the SIGSTOP was delivered */
	RJ_EV_RESUMED,		/* the pause ended */
	RJ_EV_DELIVERED,	/* the server answered the end for good */
	RJ_NEVENTS
};

enum rj_action {
	RJ_NONE,		/* nothing (an event refused or only noted) */
	/* answers to events */
	RJ_CANCEL_LOCAL,	/* cancel the local copy: the server asked */
	RJ_SAY_LOST,		/* note why the lease is lost and log it */
	RJ_TAKE_WHY,		/* take the watchdog's reason as why */
	RJ_DROP,		/* drop every local trace of the job, end */
	/* a turn's actions on the local copy */
	RJ_KILL_LOCAL,		/* cancel the local copy: the lease is lost */
	RJ_PAUSE,		/* SIGSTOP the local run */
	RJ_RESUME,		/* SIGCONT it */
	/* a turn's network step (or its absence) */
	RJ_END,			/* end the thread, leave the local files */
	RJ_WAIT,		/* nothing to send now: wait for a change */
	RJ_HEARTBEAT,
	RJ_SEND_LOG,		/* the log from the acknowledged offset */
	RJ_FINISH,		/* post the final job as it is */
	RJ_OFFER_BACK,		/* post the final job as pending (killed) */
	RJ_HAND_BACK,		/* post the job back as pending, the attempt
				 * counted */
	RJ_GIVE_BACK,		/* ... the attempt given back (never run) */
	RJ_KILL_HAND_BACK,	/* kill what is left of the run (the
				 * processor is gone), then hand back */
	RJ_NACTIONS
};

/* What the job's thread sees at one turn. */
struct rj_view {
	enum js_state local;	/* the local copy's state */
	uint64_t log_size;	/* of the local log */
	uint64_t acked;		/* local log bytes the server has */
	uint64_t log_buffer;	/* unsent bytes before a pause */
	int has_log;		/* the local log is open */
	int net_due;		/* a network step may be made (no backoff) */
	int hb_due;		/* a heartbeat is due */
	int shutdown;		/* the link hands back what is not running */
	int give_up;		/* the link's shutdown took too long */
	int gone;		/* the processor is gone */
	int attempt_unused;	/* the local copy counts fewer attempts than
				 * the server did at the claim */
};

/* A turn's decisions, carried out in this order. */
struct rj_turn {
	enum rj_action local;	/* RJ_KILL_LOCAL or RJ_NONE */
	enum rj_action pace;	/* RJ_PAUSE, RJ_RESUME or RJ_NONE */
	enum rj_action net;	/* RJ_END, RJ_WAIT, RJ_DROP, or a request */
};

/* A job just claimed: HELD, RUNS, not paused. */
void rj_init(struct rj *m);
/* Applies an event; returns the action it asks for. */
enum rj_action rj_on(struct rj *m, enum rj_event ev);
/* Decides a turn (RJ_KILL_LOCAL takes effect at once: copy KILLED; RJ_DROP
 * ends the job). */
void rj_turn(struct rj *m, const struct rj_view *v, struct rj_turn *t);
/* Whether the lease is lost (LOST or LOST_EXPIRED). */
int rj_lost(const struct rj *m);
/* The action's name ("heartbeat"), for logs and tests. */
const char *rj_action_name(enum rj_action a);

/* How long a request about the job may stall (no byte either way) before
 * it counts as a network failure: a third of the lease, 2 to 15 s. */
long rj_stall_secs(int64_t lease_ms);
/* ... a heartbeat: half a heartbeat period, 1 s to rj_stall_secs, so that
 * a short cut does not cost the lease. */
long rj_heartbeat_stall_secs(int64_t hb_ms, int64_t lease_ms);
/* The longest backoff after failed requests about the job: retry_max_ms
 * if that is below half a heartbeat period, else half the period but at
 * least 250 ms, so that a request is retried at least twice a period and
 * a short outage does not cost the lease. */
int64_t rj_retry_max_ms(int64_t retry_max_ms, int64_t hb_ms);

#endif
