/*
 * presence.c - what the processor tells the spool and what it obeys there
 * besides jobs (jobspool(5)): its entry in the processor registry
 * (lib/registry: written at start, every lease/3 and when its running
 * count changed, removed at a clean stop), and the pauses of the spool or
 * of labels (lib/pause: looked at before claims; a job held by a paused
 * label is handed back to the loop's index every JS_PAUSE_RECHECK_MS, so
 * a resume is seen within that).  And what it tells a service manager
 * (lib/sdnotify, NOTIFY_SOCKET): READY=1 at the loop's first timer turn,
 * which presence_next makes due at once: after its set-up (signals, the
 * spool watch), its first scan and its first claims; STATUS= with each
 * registry write; WATCHDOG=1 every half WATCHDOG_USEC (the loop wakes for
 * it through presence_next too); STOPPING=1 when a shutdown begins
 * (SIGTERM, before the running jobs' grace period), or at the loop's end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pause.h"
#include "proc.h"
#include "registry.h"
#include "sched.h"
#include "sdnotify.h"

#define RUNNING_REFRESH_MS 1000	/* a changed running count, at most so often */

struct presence {
	struct js_spool *sp;
	const struct proc_config *cfg;
	struct js_proc_info self;
	int registered;
	int stopping_sent;		/* STOPPING=1 told */
	int64_t next_write;		/* monotonic */
	int64_t last_write;		/* monotonic */
	struct js_pause pause;		/* as read by presence_pause_read */
	int paused;			/* something was paused at the last read */
	int64_t next_recheck;		/* monotonic; 0: none due */
	char (*held)[JS_ID_SIZE];	/* jobs held back by a label pause */
	size_t nheld, capheld;
	int64_t ready_at;		/* monotonic: READY=1 due; 0: sent */
	int64_t watchdog_ms;		/* half of WATCHDOG_USEC; 0: none */
	int64_t next_ping;		/* monotonic */
};

/* Tells the service manager state; on failure a warning (what: what it
 * was told) if warn, else a debug line, so a STATUS every few seconds
 * cannot fill the log. */
static void
tell_manager(const char *state, const char *what, int warn)
{
	if (js_sd_notify(state) < 0)
		js_log(warn ? JS_LOG_WARN : JS_LOG_DEBUG, "cannot tell the "
		    "service manager %s (NOTIFY_SOCKET): %s", what,
		    strerror(errno));
}

/* Writes the registry entry now. */
static void
write_self(struct presence *p, size_t running, int64_t now)
{
	int64_t started = p->self.started_ms;
	const struct proc_config *cfg = p->cfg;

	js_proc_info_self(&p->self, cfg->all_labels, cfg->nall_labels,
	    cfg->exclusive, cfg->jobs, cfg->lease_ms);
	if (started > 0)
		p->self.started_ms = started;
	p->self.running = (int)running;
	if (js_registry_write(p->sp, &p->self) < 0)
		js_warn("cannot write %s/%s/%s.json: %s", js_spool_path(p->sp),
		    JS_REGISTRY_DIR, p->self.id, strerror(errno));
	else
		p->registered = 1;
	if (getenv("NOTIFY_SOCKET") != NULL) {
		char st[1024];
		snprintf(st, sizeof st, "STATUS=processing %s: %zu of %d "
		    "slots busy", js_spool_path(p->sp), running, cfg->jobs);
		tell_manager(st, "its status", 0);
	}
	p->last_write = now;
	p->next_write = now + (cfg->lease_ms / 3 > 0 ? cfg->lease_ms / 3 : 1);
}

struct presence *
presence_new(struct js_spool *sp, const struct proc_config *cfg)
{
	struct presence *p = calloc(1, sizeof *p);
	int r;

	if (p == NULL)
		return NULL;
	p->sp = sp;
	p->cfg = cfg;
	if ((r = js_registry_prune(sp, js_now_ms())) < 0)
		js_warn("cannot prune the processor registry: %s",
		    strerror(errno));
	else if (r > 0)
		js_info("removed %d registry entr%s of dead processors", r,
		    r == 1 ? "y" : "ies");
	write_self(p, 0, js_mono_ms());
	p->ready_at = js_mono_ms();
	p->watchdog_ms = (int64_t)(js_sd_watchdog_usec() / 2000);
	if (js_sd_watchdog_usec() > 0 && p->watchdog_ms == 0)
		p->watchdog_ms = 1;
	p->next_ping = p->watchdog_ms > 0 ? js_mono_ms() + p->watchdog_ms : 0;
	return p;
}

void
presence_free(struct presence *p)
{
	if (p == NULL)
		return;
	presence_stopping(p);
	if (p->registered && js_registry_remove(p->sp, p->self.id) < 0)
		js_warn("cannot remove %s/%s/%s.json: %s",
		    js_spool_path(p->sp), JS_REGISTRY_DIR, p->self.id,
		    strerror(errno));
	js_pause_free(&p->pause);
	free(p->held);
	free(p);
}

void
presence_stopping(struct presence *p)
{
	if (p == NULL || p->stopping_sent)
		return;
	p->stopping_sent = 1;
	tell_manager("STOPPING=1\nSTATUS=stopping", "that the processor "
	    "stops", 1);
}

void
presence_tick(struct presence *p, size_t running, int64_t now)
{
	if (now >= p->next_write || ((int)running != p->self.running &&
	    now >= p->last_write + RUNNING_REFRESH_MS))
		write_self(p, running, now);
	if (p->ready_at != 0) {
		tell_manager("READY=1", "that the processor is ready", 1);
		p->ready_at = 0;
	}
	if (p->next_ping != 0 && now >= p->next_ping) {
		tell_manager("WATCHDOG=1", "the watchdog keep-alive", 1);
		p->next_ping = now + p->watchdog_ms;
	}
}

int64_t
presence_next(const struct presence *p)
{
	int64_t t = p->next_write;

	if (p->next_recheck != 0 && p->next_recheck < t)
		t = p->next_recheck;
	if (p->next_ping != 0 && p->next_ping < t)
		t = p->next_ping;
	if (p->ready_at != 0 && p->ready_at < t)
		t = p->ready_at;
	return t;
}

int
presence_pause_read(struct presence *p)
{
	js_pause_free(&p->pause);
	if (js_pause_read(p->sp, &p->pause) < 0) {
		js_warn("cannot read what is paused in %s: %s; claiming as if "
		    "nothing were", js_spool_path(p->sp), strerror(errno));
		return 0;
	}
	if (js_pause_any(&p->pause) && !p->paused)
		js_info("claims paused (%s)", p->pause.all ? "the spool" :
		    "some labels");
	else if (!js_pause_any(&p->pause) && p->paused)
		js_info("claims resumed");
	p->paused = js_pause_any(&p->pause);
	if (p->paused && p->next_recheck == 0)
		p->next_recheck = js_mono_ms() + JS_PAUSE_RECHECK_MS;
	return p->pause.all;
}

int
presence_hold(struct presence *p, const char *id)
{
	const char *label = NULL;
	json_t *job;
	int held;

	if (p->pause.nlabels == 0)
		return 0;
	job = js_spool_read_state(p->sp, id, JS_PENDING);
	if (job == NULL)
		return 0;	/* the claim finds out */
	held = js_sched_paused(&p->pause, job, &label) != 0;
	if (held) {
		js_debug("job %s: label %s is paused", id, label ? label : "?");
		if (p->nheld == p->capheld) {
			size_t nc = p->capheld ? p->capheld * 2 : 16;
			void *nv = realloc(p->held, nc * sizeof *p->held);
			if (nv == NULL) {
				json_decref(job);
				return 1;	/* the next rescan indexes it */
			}
			p->held = nv;
			p->capheld = nc;
		}
		memcpy(p->held[p->nheld++], id, JS_ID_SIZE);
	}
	json_decref(job);
	return held;
}

size_t
presence_release(struct presence *p, int64_t now, char (**ids)[JS_ID_SIZE])
{
	size_t n;

	*ids = NULL;
	if (p->next_recheck == 0 || now < p->next_recheck)
		return 0;
	p->next_recheck = p->paused || p->nheld > 0 ?
	    now + JS_PAUSE_RECHECK_MS : 0;
	n = p->nheld;
	*ids = p->held;
	p->held = NULL;
	p->nheld = p->capheld = 0;
	return n;
}
