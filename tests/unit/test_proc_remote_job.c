/*
 * Unit tests for processor/remote_job.c: the per-job state machine of
 * remote mode, transition by transition.  Every state (lease x copy x
 * paused x ended) meets every event, and every state takes a turn in each
 * of a set of views; the tables below say what must happen, refusals and
 * no-ops included.
 */
#include "testutil.h"

#include "../../processor/remote_job.h"

#define A(x) rj_action_name(x)

/* Every state but the ended ones. */
#define FOR_STATES(m)							\
	for (int l_ = 0; l_ < RJ_NLEASES; l_++)				\
	for (int c_ = 0; c_ < RJ_NCOPIES; c_++)				\
	for (int p_ = 0; p_ < 2; p_++)					\
	for (int once_ = 1; once_ &&					\
	    ((m).lease = (enum rj_lease)l_, (m).copy = (enum rj_copy)c_, \
	    (m).paused = p_, (m).ended = 0, 1); once_ = 0)

static const char *const lease_names[] = { "HELD", "EXPIRED", "LOST",
	"LOST_EXPIRED" };
static const char *const copy_names[] = { "RUNS", "CANCELLED", "KILLED" };

static void
check_state(const struct rj *m, enum rj_lease lease, enum rj_copy copy,
    int paused, int ended, const char *what)
{
	if (m->lease != lease || m->copy != copy || m->paused != paused ||
	    m->ended != ended)
		fail_msg("%s: state %s/%s/%d/%d, expected %s/%s/%d/%d", what,
		    lease_names[m->lease], copy_names[m->copy], m->paused,
		    m->ended, lease_names[lease], copy_names[copy], paused,
		    ended);
}

static void
check_action(enum rj_action got, enum rj_action want, const char *what)
{
	if (got != want)
		fail_msg("%s: action %s, expected %s", what, A(got), A(want));
}

static void
test_init(void **state)
{
	struct rj m;

	(void)state;
	memset(&m, 0xff, sizeof m);
	rj_init(&m);
	check_state(&m, RJ_HELD, RJ_RUNS, 0, 0, "init");
	assert_false(rj_lost(&m));
}

static void
test_lost(void **state)
{
	struct rj m;

	(void)state;
	rj_init(&m);
	m.lease = RJ_EXPIRED;
	assert_false(rj_lost(&m));
	m.lease = RJ_LOST;
	assert_true(rj_lost(&m));
	m.lease = RJ_LOST_EXPIRED;
	assert_true(rj_lost(&m));
}

/* ---- events ---- */

/* An event in state (lease, copy): the state after and the action. */
struct ev_row {
	enum rj_lease lease;
	enum rj_copy copy;
	enum rj_lease lease2;
	enum rj_copy copy2;
	enum rj_action act;
};

/* The server asks for a cancel: forwarded once, to a copy that runs,
 * while the lease is not lost. */
static const struct ev_row cancel_rows[] = {
	{ RJ_HELD, RJ_RUNS, RJ_HELD, RJ_CANCELLED, RJ_CANCEL_LOCAL },
	{ RJ_HELD, RJ_CANCELLED, RJ_HELD, RJ_CANCELLED, RJ_NONE },
	{ RJ_HELD, RJ_KILLED, RJ_HELD, RJ_KILLED, RJ_NONE },
	{ RJ_EXPIRED, RJ_RUNS, RJ_EXPIRED, RJ_CANCELLED, RJ_CANCEL_LOCAL },
	{ RJ_EXPIRED, RJ_CANCELLED, RJ_EXPIRED, RJ_CANCELLED, RJ_NONE },
	{ RJ_EXPIRED, RJ_KILLED, RJ_EXPIRED, RJ_KILLED, RJ_NONE },
	{ RJ_LOST, RJ_RUNS, RJ_LOST, RJ_RUNS, RJ_NONE },
	{ RJ_LOST, RJ_CANCELLED, RJ_LOST, RJ_CANCELLED, RJ_NONE },
	{ RJ_LOST, RJ_KILLED, RJ_LOST, RJ_KILLED, RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_RUNS, RJ_LOST_EXPIRED, RJ_RUNS, RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_CANCELLED, RJ_LOST_EXPIRED, RJ_CANCELLED,
	    RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_KILLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_NONE },
};

/* The server refused a call: the lease is lost (said once); the copy is
 * left to the next turn. */
static const struct ev_row refused_rows[] = {
	{ RJ_HELD, RJ_RUNS, RJ_LOST, RJ_RUNS, RJ_SAY_LOST },
	{ RJ_HELD, RJ_CANCELLED, RJ_LOST, RJ_CANCELLED, RJ_SAY_LOST },
	{ RJ_HELD, RJ_KILLED, RJ_LOST, RJ_KILLED, RJ_SAY_LOST },
	{ RJ_EXPIRED, RJ_RUNS, RJ_LOST_EXPIRED, RJ_RUNS, RJ_SAY_LOST },
	{ RJ_EXPIRED, RJ_CANCELLED, RJ_LOST_EXPIRED, RJ_CANCELLED,
	    RJ_SAY_LOST },
	{ RJ_EXPIRED, RJ_KILLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_SAY_LOST },
	{ RJ_LOST, RJ_RUNS, RJ_LOST, RJ_RUNS, RJ_NONE },
	{ RJ_LOST, RJ_CANCELLED, RJ_LOST, RJ_CANCELLED, RJ_NONE },
	{ RJ_LOST, RJ_KILLED, RJ_LOST, RJ_KILLED, RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_RUNS, RJ_LOST_EXPIRED, RJ_RUNS, RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_CANCELLED, RJ_LOST_EXPIRED, RJ_CANCELLED,
	    RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_KILLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_NONE },
};

/* The watchdog found the lease out but did not stop the copy: noted once
 * (its reason taken), the copy as it was. */
static const struct ev_row expired_rows[] = {
	{ RJ_HELD, RJ_RUNS, RJ_EXPIRED, RJ_RUNS, RJ_TAKE_WHY },
	{ RJ_HELD, RJ_CANCELLED, RJ_EXPIRED, RJ_CANCELLED, RJ_TAKE_WHY },
	{ RJ_HELD, RJ_KILLED, RJ_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_EXPIRED, RJ_RUNS, RJ_EXPIRED, RJ_RUNS, RJ_NONE },
	{ RJ_EXPIRED, RJ_CANCELLED, RJ_EXPIRED, RJ_CANCELLED, RJ_NONE },
	{ RJ_EXPIRED, RJ_KILLED, RJ_EXPIRED, RJ_KILLED, RJ_NONE },
	{ RJ_LOST, RJ_RUNS, RJ_LOST_EXPIRED, RJ_RUNS, RJ_TAKE_WHY },
	{ RJ_LOST, RJ_CANCELLED, RJ_LOST_EXPIRED, RJ_CANCELLED, RJ_TAKE_WHY },
	{ RJ_LOST, RJ_KILLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_LOST_EXPIRED, RJ_RUNS, RJ_LOST_EXPIRED, RJ_RUNS, RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_CANCELLED, RJ_LOST_EXPIRED, RJ_CANCELLED,
	    RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_KILLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_NONE },
};

/* ... and stopped the copy: killed, whatever stopped it before (its end
 * is then offered back), unless the expiry was noted already. */
static const struct ev_row expired_killed_rows[] = {
	{ RJ_HELD, RJ_RUNS, RJ_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_HELD, RJ_CANCELLED, RJ_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_HELD, RJ_KILLED, RJ_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_EXPIRED, RJ_RUNS, RJ_EXPIRED, RJ_RUNS, RJ_NONE },
	{ RJ_EXPIRED, RJ_CANCELLED, RJ_EXPIRED, RJ_CANCELLED, RJ_NONE },
	{ RJ_EXPIRED, RJ_KILLED, RJ_EXPIRED, RJ_KILLED, RJ_NONE },
	{ RJ_LOST, RJ_RUNS, RJ_LOST_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_LOST, RJ_CANCELLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_LOST, RJ_KILLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_TAKE_WHY },
	{ RJ_LOST_EXPIRED, RJ_RUNS, RJ_LOST_EXPIRED, RJ_RUNS, RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_CANCELLED, RJ_LOST_EXPIRED, RJ_CANCELLED,
	    RJ_NONE },
	{ RJ_LOST_EXPIRED, RJ_KILLED, RJ_LOST_EXPIRED, RJ_KILLED, RJ_NONE },
};

/* Runs one event table over every (lease, copy), paused or not. */
static void
run_rows(enum rj_event ev, const char *evname, const struct ev_row *rows,
    size_t n)
{
	int seen[RJ_NLEASES][RJ_NCOPIES] = { { 0 } };
	size_t i;

	assert_int_equal(n, RJ_NLEASES * RJ_NCOPIES);
	for (i = 0; i < n; i++) {
		const struct ev_row *r = &rows[i];
		int paused;

		seen[r->lease][r->copy]++;
		for (paused = 0; paused < 2; paused++) {
			struct rj m = { r->lease, r->copy, paused, 0 };
			char what[128];

			snprintf(what, sizeof what, "%s in %s/%s%s", evname,
			    lease_names[r->lease], copy_names[r->copy],
			    paused ? "/paused" : "");
			check_action(rj_on(&m, ev), r->act, what);
			/* the pause is not the event's business */
			check_state(&m, r->lease2, r->copy2, paused, 0, what);
		}
	}
	/* the table names each state once */
	for (i = 0; i < RJ_NLEASES * RJ_NCOPIES; i++)
		assert_int_equal(seen[i / RJ_NCOPIES][i % RJ_NCOPIES], 1);
}

static void
test_ev_cancel(void **state)
{
	(void)state;
	run_rows(RJ_EV_CANCEL, "CANCEL", cancel_rows,
	    sizeof cancel_rows / sizeof cancel_rows[0]);
}

static void
test_ev_refused(void **state)
{
	(void)state;
	run_rows(RJ_EV_REFUSED, "REFUSED", refused_rows,
	    sizeof refused_rows / sizeof refused_rows[0]);
}

static void
test_ev_expired(void **state)
{
	(void)state;
	run_rows(RJ_EV_EXPIRED, "EXPIRED", expired_rows,
	    sizeof expired_rows / sizeof expired_rows[0]);
}

static void
test_ev_expired_killed(void **state)
{
	(void)state;
	run_rows(RJ_EV_EXPIRED_KILLED, "EXPIRED_KILLED", expired_killed_rows,
	    sizeof expired_killed_rows / sizeof expired_killed_rows[0]);
}

/* PAUSED and RESUMED record the pause in every state, ended ones too,
 * and change nothing else. */
static void
test_ev_pause(void **state)
{
	struct rj m;
	int ended;

	(void)state;
	for (ended = 0; ended < 2; ended++) {
		FOR_STATES(m) {
			struct rj before;

			m.ended = ended;
			before = m;
			check_action(rj_on(&m, RJ_EV_PAUSED), RJ_NONE,
			    "PAUSED");
			check_state(&m, before.lease, before.copy, 1, ended,
			    "PAUSED");
			check_action(rj_on(&m, RJ_EV_PAUSED), RJ_NONE,
			    "PAUSED again");
			check_state(&m, before.lease, before.copy, 1, ended,
			    "PAUSED again");
			check_action(rj_on(&m, RJ_EV_RESUMED), RJ_NONE,
			    "RESUMED");
			check_state(&m, before.lease, before.copy, 0, ended,
			    "RESUMED");
			check_action(rj_on(&m, RJ_EV_RESUMED), RJ_NONE,
			    "RESUMED again");
			check_state(&m, before.lease, before.copy, 0, ended,
			    "RESUMED again");
		}
	}
}

/* DELIVERED ends every state and asks for the local copy to go; the
 * second time it is refused. */
static void
test_ev_delivered(void **state)
{
	struct rj m;

	(void)state;
	FOR_STATES(m) {
		struct rj before = m;

		check_action(rj_on(&m, RJ_EV_DELIVERED), RJ_DROP, "DELIVERED");
		check_state(&m, before.lease, before.copy, before.paused, 1,
		    "DELIVERED");
		check_action(rj_on(&m, RJ_EV_DELIVERED), RJ_NONE,
		    "DELIVERED again");
		check_state(&m, before.lease, before.copy, before.paused, 1,
		    "DELIVERED again");
	}
}

/* An ended job refuses CANCEL, REFUSED, EXPIRED, EXPIRED_KILLED and
 * DELIVERED, unchanged. */
static void
test_ev_ended(void **state)
{
	static const enum rj_event evs[] = { RJ_EV_CANCEL, RJ_EV_REFUSED,
		RJ_EV_EXPIRED, RJ_EV_EXPIRED_KILLED, RJ_EV_DELIVERED };
	struct rj m;
	size_t i;

	(void)state;
	FOR_STATES(m) {
		for (i = 0; i < sizeof evs / sizeof evs[0]; i++) {
			struct rj e = m;

			e.ended = 1;
			check_action(rj_on(&e, evs[i]), RJ_NONE, "ended");
			check_state(&e, m.lease, m.copy, m.paused, 1, "ended");
		}
	}
	/* an event out of range is refused */
	rj_init(&m);
	check_action(rj_on(&m, RJ_NEVENTS), RJ_NONE, "RJ_NEVENTS");
	check_state(&m, RJ_HELD, RJ_RUNS, 0, 0, "RJ_NEVENTS");
}

/* ---- turns ---- */

#define BUF 1000		/* the log buffer of every view */

/*
 * A view and what a turn in it must decide:
 *   net[lost][killed]    the network step, for a lease held or expired
 *                        (lost 0) or lost (1), and a copy that was not
 *                        (killed 0) or was killed (1) once the turn's own
 *                        kill is done
 *   pace[held][paused]   the pace, for a lease HELD (1) or not (0), and a
 *                        run not paused (0) or paused (1)
 *   kills                a lost lease whose copy runs kills it (a copy
 *                        that is not final)
 */
struct turn_row {
	const char *name;
	struct rj_view v;
	enum rj_action net[2][2];
	enum rj_action pace[2][2];
	int kills;
};

#define WIP(sz, ack) .local = JS_WIP, .log_size = (sz), \
	.acked = (ack), .log_buffer = BUF, .has_log = 1
#define NET(a, b, c, d) { { a, b }, { c, d } }
#define SAME(a) NET(a, a, a, a)
#define LOSTNET(held, lost) NET(held, held, lost, lost)
#define NOPACE SAME(RJ_NONE)
/* pace when the run is paused but should not be */
#define UNPAUSE { { RJ_NONE, RJ_RESUME }, { RJ_NONE, RJ_RESUME } }

static const struct turn_row turn_rows[] = {
	{ "idle", { WIP(0, 0), .net_due = 1 },
	    SAME(RJ_WAIT),
	    { { RJ_NONE, RJ_RESUME }, { RJ_NONE, RJ_RESUME } }, 1 },
	{ "heartbeat due", { WIP(0, 0), .net_due = 1, .hb_due = 1 },
	    LOSTNET(RJ_HEARTBEAT, RJ_WAIT), UNPAUSE, 1 },
	{ "heartbeat due, log unsent", { WIP(10, 0), .net_due = 1,
	    .hb_due = 1 },
	    LOSTNET(RJ_HEARTBEAT, RJ_WAIT), UNPAUSE, 1 },
	{ "log unsent", { WIP(10, 0), .net_due = 1 },
	    LOSTNET(RJ_SEND_LOG, RJ_WAIT), UNPAUSE, 1 },
	{ "log unsent, no log open", { .local = JS_WIP, .log_size = 10,
	    .log_buffer = BUF, .net_due = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "log all sent", { WIP(10, 10), .net_due = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "in backoff", { WIP(10, 0), .hb_due = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	/* pacing: pause over the buffer, resume at half of it */
	{ "over the buffer", { WIP(BUF + 1, 0) },
	    SAME(RJ_WAIT),
	    { { RJ_NONE, RJ_RESUME }, { RJ_PAUSE, RJ_NONE } }, 1 },
	{ "at the buffer", { WIP(BUF, 0) },
	    SAME(RJ_WAIT),
	    { { RJ_NONE, RJ_RESUME }, { RJ_NONE, RJ_NONE } }, 1 },
	{ "between half and all of it", { WIP(BUF, BUF / 2 - 1) },
	    SAME(RJ_WAIT),
	    { { RJ_NONE, RJ_RESUME }, { RJ_NONE, RJ_NONE } }, 1 },
	{ "at half of it", { WIP(BUF, BUF / 2) },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "over the buffer, giving up", { WIP(BUF + 1, 0), .give_up = 1 },
	    SAME(RJ_END), UNPAUSE, 1 },
	/* a link that is stopping resumes and pauses nothing (no stop and
	 * continue in turn while it hands jobs back) */
	{ "over the buffer, shutting down", { WIP(BUF + 1, 0),
	    .shutdown = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "over the buffer, pending", { .local = JS_PENDING,
	    .log_size = BUF + 1, .log_buffer = BUF, .has_log = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "over the buffer, ended", { .local = JS_COMPLETED,
	    .log_size = BUF + 1, .log_buffer = BUF, .has_log = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 0 },
	/* the end */
	{ "completed", { .local = JS_COMPLETED, .log_buffer = BUF,
	    .net_due = 1 },
	    NET(RJ_FINISH, RJ_OFFER_BACK, RJ_FINISH, RJ_OFFER_BACK),
	    UNPAUSE, 0 },
	{ "failed", { .local = JS_FAILED, .log_buffer = BUF, .net_due = 1 },
	    NET(RJ_FINISH, RJ_OFFER_BACK, RJ_FINISH, RJ_OFFER_BACK),
	    UNPAUSE, 0 },
	{ "cancelled", { .local = JS_CANCELLED, .log_buffer = BUF,
	    .net_due = 1 },
	    NET(RJ_FINISH, RJ_OFFER_BACK, RJ_FINISH, RJ_OFFER_BACK),
	    UNPAUSE, 0 },
	{ "retrieved", { .local = JS_RETRIEVED, .log_buffer = BUF,
	    .net_due = 1 },
	    NET(RJ_FINISH, RJ_OFFER_BACK, RJ_FINISH, RJ_OFFER_BACK),
	    UNPAUSE, 0 },
	{ "completed, heartbeat due", { .local = JS_COMPLETED,
	    .log_buffer = BUF, .net_due = 1, .hb_due = 1 },
	    NET(RJ_HEARTBEAT, RJ_HEARTBEAT, RJ_FINISH, RJ_OFFER_BACK),
	    UNPAUSE, 0 },
	{ "completed, log unsent", { .local = JS_COMPLETED, .log_size = 5,
	    .log_buffer = BUF, .has_log = 1, .net_due = 1 },
	    NET(RJ_SEND_LOG, RJ_SEND_LOG, RJ_FINISH, RJ_OFFER_BACK),
	    UNPAUSE, 0 },
	{ "completed, in backoff", { .local = JS_COMPLETED,
	    .log_buffer = BUF },
	    SAME(RJ_WAIT), UNPAUSE, 0 },
	{ "completed, processor gone", { .local = JS_COMPLETED,
	    .log_buffer = BUF, .net_due = 1, .gone = 1 },
	    NET(RJ_FINISH, RJ_OFFER_BACK, RJ_FINISH, RJ_OFFER_BACK),
	    UNPAUSE, 0 },
	/* handing back */
	{ "shutdown, pending, attempt unused", { .local = JS_PENDING,
	    .log_buffer = BUF, .net_due = 1, .shutdown = 1,
	    .attempt_unused = 1 },
	    SAME(RJ_GIVE_BACK), UNPAUSE, 1 },
	{ "shutdown, pending, attempt used", { .local = JS_PENDING,
	    .log_buffer = BUF, .net_due = 1, .shutdown = 1 },
	    SAME(RJ_HAND_BACK), UNPAUSE, 1 },
	{ "shutdown, running", { WIP(0, 0), .net_due = 1, .shutdown = 1,
	    .attempt_unused = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "shutdown, pending, in backoff", { .local = JS_PENDING,
	    .log_buffer = BUF, .shutdown = 1, .attempt_unused = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "processor gone, pending", { .local = JS_PENDING,
	    .log_buffer = BUF, .net_due = 1, .gone = 1,
	    .attempt_unused = 1 },
	    LOSTNET(RJ_GIVE_BACK, RJ_DROP), UNPAUSE, 1 },
	{ "processor gone, pending, attempt used", { .local = JS_PENDING,
	    .log_buffer = BUF, .net_due = 1, .gone = 1 },
	    LOSTNET(RJ_HAND_BACK, RJ_DROP), UNPAUSE, 1 },
	{ "processor gone, running", { WIP(0, 0), .net_due = 1, .gone = 1,
	    .attempt_unused = 1 },
	    LOSTNET(RJ_KILL_HAND_BACK, RJ_DROP), UNPAUSE, 1 },
	{ "processor gone, running, heartbeat due", { WIP(0, 0),
	    .net_due = 1, .hb_due = 1, .gone = 1 },
	    LOSTNET(RJ_HEARTBEAT, RJ_DROP), UNPAUSE, 1 },
	{ "processor gone, in backoff", { WIP(0, 0), .gone = 1 },
	    SAME(RJ_WAIT), UNPAUSE, 1 },
	{ "giving up", { WIP(0, 0), .net_due = 1, .hb_due = 1,
	    .give_up = 1 },
	    SAME(RJ_END), UNPAUSE, 1 },
	{ "giving up, completed, gone", { .local = JS_COMPLETED,
	    .log_buffer = BUF, .give_up = 1, .gone = 1 },
	    SAME(RJ_END), UNPAUSE, 0 },
};

static void
test_turns(void **state)
{
	size_t i;
	struct rj m;

	(void)state;
	for (i = 0; i < sizeof turn_rows / sizeof turn_rows[0]; i++) {
		const struct turn_row *r = &turn_rows[i];

		FOR_STATES(m) {
			struct rj before = m;
			struct rj_turn t;
			int lost = rj_lost(&before), kill, killed;
			enum rj_action net;
			char what[200];

			snprintf(what, sizeof what, "turn \"%s\" in %s/%s%s",
			    r->name, lease_names[before.lease],
			    copy_names[before.copy],
			    before.paused ? "/paused" : "");
			memset(&t, 0xff, sizeof t);
			rj_turn(&m, &r->v, &t);
			kill = lost && before.copy == RJ_RUNS && r->kills;
			killed = before.copy == RJ_KILLED || kill;
			net = r->net[lost][killed];
			check_action(t.local, kill ? RJ_KILL_LOCAL : RJ_NONE,
			    what);
			check_action(t.pace, r->pace[before.lease == RJ_HELD]
			    [before.paused], what);
			check_action(t.net, net, what);
			/* a turn changes the copy by its kill, ends by a
			 * drop, and changes nothing else */
			check_state(&m, before.lease, kill ? RJ_KILLED :
			    before.copy, before.paused, net == RJ_DROP, what);
		}
	}
}

/* Once ended, a turn only ends the thread, whatever it sees. */
static void
test_turns_ended(void **state)
{
	size_t i;
	struct rj m;

	(void)state;
	for (i = 0; i < sizeof turn_rows / sizeof turn_rows[0]; i++) {
		FOR_STATES(m) {
			struct rj before;
			struct rj_turn t;

			m.ended = 1;
			before = m;
			rj_turn(&m, &turn_rows[i].v, &t);
			check_action(t.local, RJ_NONE, turn_rows[i].name);
			check_action(t.pace, RJ_NONE, turn_rows[i].name);
			check_action(t.net, RJ_END, turn_rows[i].name);
			assert_memory_equal(&m, &before, sizeof m);
		}
	}
}

/* ---- lives: events and turns in order ---- */

static enum rj_action
net_of(struct rj *m, const struct rj_view *v)
{
	struct rj_turn t;

	rj_turn(m, v, &t);
	return t.net;
}

/* Claimed, heartbeats, streams its log, completes, is delivered. */
static void
test_life_plain(void **state)
{
	struct rj m;
	struct rj_view v = { WIP(0, 0), .net_due = 1, .hb_due = 1 };

	(void)state;
	rj_init(&m);
	assert_int_equal(net_of(&m, &v), RJ_HEARTBEAT);
	v.hb_due = 0;
	v.log_size = 300;
	assert_int_equal(net_of(&m, &v), RJ_SEND_LOG);
	v.acked = 300;
	assert_int_equal(net_of(&m, &v), RJ_WAIT);
	v.local = JS_COMPLETED;
	assert_int_equal(net_of(&m, &v), RJ_FINISH);
	assert_int_equal(rj_on(&m, RJ_EV_DELIVERED), RJ_DROP);
	assert_int_equal(net_of(&m, &v), RJ_END);
}

/* The server fences the job off mid-run: the copy is killed once, its end
 * offered back, and the refusal of that end delivers it. */
static void
test_life_lost(void **state)
{
	struct rj m;
	struct rj_view v = { WIP(50, 0), .net_due = 1, .hb_due = 1 };
	struct rj_turn t;

	(void)state;
	rj_init(&m);
	assert_int_equal(rj_on(&m, RJ_EV_REFUSED), RJ_SAY_LOST);
	rj_turn(&m, &v, &t);
	assert_int_equal(t.local, RJ_KILL_LOCAL);
	assert_int_equal(t.net, RJ_WAIT);	/* no heartbeat, no log */
	rj_turn(&m, &v, &t);
	assert_int_equal(t.local, RJ_NONE);	/* killed once */
	v.local = JS_CANCELLED;
	assert_int_equal(net_of(&m, &v), RJ_OFFER_BACK);
	assert_int_equal(rj_on(&m, RJ_EV_REFUSED), RJ_NONE);
	assert_int_equal(rj_on(&m, RJ_EV_DELIVERED), RJ_DROP);
}

/* The server cancels: forwarded once; the cancelled end is reported as
 * such even if the lease is lost afterwards. */
static void
test_life_cancel(void **state)
{
	struct rj m;
	struct rj_view v = { .local = JS_CANCELLED, .log_buffer = BUF,
		.net_due = 1 };

	(void)state;
	rj_init(&m);
	assert_int_equal(rj_on(&m, RJ_EV_CANCEL), RJ_CANCEL_LOCAL);
	assert_int_equal(rj_on(&m, RJ_EV_CANCEL), RJ_NONE);
	assert_int_equal(rj_on(&m, RJ_EV_REFUSED), RJ_SAY_LOST);
	assert_int_equal(net_of(&m, &v), RJ_FINISH);
}

/* The watchdog stops the run: heartbeats go on (the server may still take
 * them), no pause, and the end is offered back. */
static void
test_life_watchdog(void **state)
{
	struct rj m;
	struct rj_view v = { WIP(BUF + 1, 0), .net_due = 1, .hb_due = 1 };
	struct rj_turn t;

	(void)state;
	rj_init(&m);
	assert_int_equal(rj_on(&m, RJ_EV_EXPIRED_KILLED), RJ_TAKE_WHY);
	assert_int_equal(rj_on(&m, RJ_EV_EXPIRED_KILLED), RJ_NONE);
	rj_turn(&m, &v, &t);
	assert_int_equal(t.local, RJ_NONE);	/* the watchdog did it */
	assert_int_equal(t.pace, RJ_NONE);
	assert_int_equal(t.net, RJ_HEARTBEAT);
	v.local = JS_CANCELLED;
	v.hb_due = 0;
	v.acked = v.log_size;
	assert_int_equal(net_of(&m, &v), RJ_OFFER_BACK);
}

/* Paused for its log when the link starts to stop: resumed once, and not
 * paused again in the turns that follow while the log stays unsent (the
 * link takes up to 15 s to hand jobs back, a turn every 200 ms). */
static void
test_life_shutdown_paused(void **state)
{
	struct rj m;
	struct rj_view v = { WIP(BUF + 1, 0) };
	struct rj_turn t;
	int i, pauses = 0, resumes = 0;

	(void)state;
	rj_init(&m);
	rj_turn(&m, &v, &t);
	assert_int_equal(t.pace, RJ_PAUSE);
	assert_int_equal(rj_on(&m, RJ_EV_PAUSED), RJ_NONE);
	v.shutdown = 1;
	for (i = 0; i < 75; i++) {
		v.log_size += 100;	/* (a stopped run writes nothing, but
					 * a continued one does) */
		rj_turn(&m, &v, &t);
		if (t.pace == RJ_PAUSE) {
			pauses++;
			rj_on(&m, RJ_EV_PAUSED);
		} else if (t.pace == RJ_RESUME) {
			resumes++;
			rj_on(&m, RJ_EV_RESUMED);
		}
		assert_int_equal(t.net, RJ_WAIT);
	}
	assert_int_equal(pauses, 0);
	assert_int_equal(resumes, 1);
	assert_false(m.paused);
	/* the run ends: its log and its end go out as usual */
	v.local = JS_COMPLETED;
	v.net_due = 1;
	rj_turn(&m, &v, &t);
	assert_int_equal(t.pace, RJ_NONE);
	assert_int_equal(t.net, RJ_SEND_LOG);
}

/* ---- pure helpers ---- */

static void
test_stall(void **state)
{
	(void)state;
	assert_int_equal(rj_stall_secs(0), 2);
	assert_int_equal(rj_stall_secs(5999), 2);
	assert_int_equal(rj_stall_secs(9000), 3);
	assert_int_equal(rj_stall_secs(45000), 15);
	assert_int_equal(rj_stall_secs(3600000), 15);
	/* a heartbeat: half its period, 1 s to the stall above */
	assert_int_equal(rj_heartbeat_stall_secs(500, 60000), 1);
	assert_int_equal(rj_heartbeat_stall_secs(6000, 60000), 3);
	assert_int_equal(rj_heartbeat_stall_secs(20000, 60000), 10);
	assert_int_equal(rj_heartbeat_stall_secs(20000, 9000), 3);
	assert_int_equal(rj_heartbeat_stall_secs(0, 0), 1);
}

static void
test_retry_max(void **state)
{
	(void)state;
	/* below half a period: as configured */
	assert_int_equal(rj_retry_max_ms(1000, 20000), 1000);
	assert_int_equal(rj_retry_max_ms(100, 20000), 100);
	/* else half the period ... */
	assert_int_equal(rj_retry_max_ms(60000, 20000), 10000);
	assert_int_equal(rj_retry_max_ms(10000, 20000), 10000);
	/* ... but at least 250 ms */
	assert_int_equal(rj_retry_max_ms(60000, 300), 250);
	assert_int_equal(rj_retry_max_ms(200, 300), 250);
}

static void
test_names(void **state)
{
	int a;

	(void)state;
	for (a = 0; a < RJ_NACTIONS; a++) {
		assert_non_null(rj_action_name((enum rj_action)a));
		assert_string_not_equal(rj_action_name((enum rj_action)a), "?");
	}
	assert_string_equal(rj_action_name(RJ_HEARTBEAT), "heartbeat");
	assert_string_equal(rj_action_name(RJ_NACTIONS), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_lost),
		cmocka_unit_test(test_ev_cancel),
		cmocka_unit_test(test_ev_refused),
		cmocka_unit_test(test_ev_expired),
		cmocka_unit_test(test_ev_expired_killed),
		cmocka_unit_test(test_ev_pause),
		cmocka_unit_test(test_ev_delivered),
		cmocka_unit_test(test_ev_ended),
		cmocka_unit_test(test_turns),
		cmocka_unit_test(test_turns_ended),
		cmocka_unit_test(test_life_plain),
		cmocka_unit_test(test_life_lost),
		cmocka_unit_test(test_life_cancel),
		cmocka_unit_test(test_life_watchdog),
		cmocka_unit_test(test_life_shutdown_paused),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_retry_max),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
