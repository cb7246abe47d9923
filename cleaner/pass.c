/*
 * pass.c - one cleaning pass.
 *
 * 1. Old files in tmp/ go (js_spool_clean_tmp), and old Idempotency-Key
 *    records in idem/ (js_idem_expire).
 * 2. One readdir of the spool (js_clean_scan) collects every job file and
 *    sidecar with its mtime; the entries are sorted by id so that all the
 *    files of one job sit together.
 * 3. For each job: if any of its files is .pending or .wip, nothing of it
 *    is touched, nor is a job that a pending job waits for (lib/deps:
 *    "after", "after_any"), whose outcome the dependent has yet to see.  Otherwise an old .retrieved (retrieved-age) or an old
 *    final file (max-age) is removed with its .log and .cancel by
 *    js_clean_purge, which checks again under the job's lock that the file
 *    is still there and still old.  A .log or .cancel whose job file is
 *    gone is removed once older than max-age.
 * 4. Anything else in the directory is counted as unexpected and left.
 * The directory is fsync'ed once at the end, not once per job.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clean.h"
#include "cleaner.h"
#include "idem.h"
#include "idmap.h"
#include "log.h"
#include "util.h"

#define UNEXPECTED_NAMES 20	/* named in the log; the rest only counted */

enum { K_LOG = JS_NSTATES, K_CANCEL, K_HELD };	/* after the job states */

struct ent {
	char id[JS_ID_SIZE];
	unsigned char kind;	/* enum js_state, K_LOG, K_CANCEL or K_HELD */
	int64_t mtime_ms;
};

struct scan {
	struct ent *v;
	size_t n, cap;
	struct cleaner_stats *st;
};

static int
collect(const struct js_scan_entry *e, void *arg)
{
	struct scan *s = arg;
	struct ent *nv;
	unsigned char kind;

	switch (e->kind) {
	case JS_ENTRY_INTERNAL:
		return 0;
	case JS_ENTRY_JOB:
		kind = (unsigned char)e->state;
		break;
	case JS_ENTRY_LOG:
		kind = K_LOG;
		break;
	case JS_ENTRY_CANCEL:
		kind = K_CANCEL;
		break;
	case JS_ENTRY_HELD:
		kind = K_HELD;
		break;
	default:
		kind = 0xff;
		break;
	}
	if (kind == 0xff || !S_ISREG(e->mode)) {
		if (s->st->unexpected < UNEXPECTED_NAMES)
			js_info("leaving unexpected %s alone: %s",
			    S_ISREG(e->mode) ? "file" : "non-regular entry",
			    e->name);
		else if (s->st->unexpected == UNEXPECTED_NAMES)
			js_info("more unexpected entries; only counting them");
		s->st->unexpected++;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		nv = realloc(s->v, cap * sizeof *nv);
		if (nv == NULL) {
			errno = ENOMEM;
			return -1;
		}
		s->v = nv;
		s->cap = cap;
	}
	memcpy(s->v[s->n].id, e->id, JS_ID_SIZE);
	s->v[s->n].kind = kind;
	s->v[s->n].mtime_ms = e->mtime_ms;
	s->n++;
	return 0;
}

static int
cmp_ent(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = memcmp(x->id, y->id, JS_ID_LEN);

	return c != 0 ? c : (int)x->kind - (int)y->kind;
}

struct ctx {
	const struct cleaner_opts *o;
	struct cleaner_stats *st;
	const char *spool;
	const char *dir;	/* "" or "tmp/" for the listing */
	long long files;	/* files reported by the current purge */
};

/* Called for every file removed (or, dry, that would be). */
static void
removed(const char *name, off_t size, void *arg)
{
	struct ctx *c = arg;

	c->st->bytes += size;
	c->files++;
	if (c->o->dry_run)
		fprintf(c->o->out, "%s/%s%s\n", c->spool, c->dir, name);
	else
		js_debug("removed %s%s", c->dir, name);
}

/* Sleeps as needed to keep at most max_rate removals per second. */
static void
pace(const struct cleaner_opts *o, int64_t start_ms, long long done)
{
	int64_t due, now;
	struct timespec ts;

	if (o->max_rate <= 0 || o->dry_run)
		return;
	due = start_ms + done * 1000 / o->max_rate;
	now = js_mono_ms();
	if (due <= now)
		return;
	ts.tv_sec = (due - now) / 1000;
	ts.tv_nsec = (long)((due - now) % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int
add_waited(const char *id, int any, void *arg)
{
	(void)any;
	if (js_id_valid(id) && js_idmap_put(arg, id, NULL, NULL) < 0)
		return -1;
	return 0;
}

/* The jobs the pending jobs of s wait for (lib/deps) into w (a new map
 * to free).  A pending job that cannot be read (gone, being written) names
 * none.  0, or -1 (logged, w freed). */
static int
waited_for(struct js_spool *sp, const struct scan *s, struct js_idmap *w)
{
	json_t *job;
	size_t i;
	int rc;

	js_idmap_init(w);
	for (i = 0; i < s->n; i++) {
		if (s->v[i].kind != JS_PENDING)
			continue;
		job = js_spool_read_state(sp, s->v[i].id, JS_PENDING);
		if (job == NULL)
			continue;
		rc = js_deps_foreach(job, add_waited, w);
		json_decref(job);
		if (rc < 0) {
			js_err("cannot read the pending jobs of %s: %s",
			    js_spool_path(sp), strerror(errno));
			js_idmap_free(w, NULL);
			return -1;
		}
	}
	return 0;
}

static void
purge_job(struct js_spool *sp, struct ctx *c, const struct ent *e,
    int64_t cutoff, long long *counter)
{
	int flags = c->o->dry_run ? JS_PURGE_DRY_RUN : 0;

	c->files = 0;
	if (js_clean_purge(sp, e->id, (enum js_state)e->kind, cutoff, flags,
	    removed, c) == 0) {
		(*counter)++;
		return;
	}
	if (errno == ENOENT || errno == EAGAIN) {
		js_debug("job %s changed meanwhile; left alone", e->id);
		return;
	}
	c->st->errors++;
	js_err("cannot remove job %s (%s.%s): %s", e->id, e->id,
	    js_state_ext((enum js_state)e->kind), strerror(errno));
}

static void
purge_orphan(struct js_spool *sp, struct ctx *c, const struct ent *e,
    int64_t cutoff)
{
	int n, flags = c->o->dry_run ? JS_PURGE_DRY_RUN : 0;

	n = js_clean_purge_orphan(sp, e->id, cutoff, flags, removed, c);
	if (n >= 0) {
		c->st->orphans += n;
		return;
	}
	if (errno == EEXIST)
		return;
	c->st->errors++;
	js_err("cannot remove the log or cancel request of job %s: %s", e->id,
	    strerror(errno));
}

/* Step 1: old files in tmp/ and old Idempotency-Key records.  A step
 * that fails is logged and counted as an error; the other step and the
 * jobs are still cleaned (a damaged idem/ must not keep the spool from
 * being cleaned). */
static void
clean_aside(struct js_spool *sp, struct ctx *c)
{
	const struct cleaner_opts *o = c->o;
	int n;

	c->dir = "tmp/";
	n = js_spool_clean_tmp(sp, o->tmp_age_ms, o->dry_run, removed, c);
	if (n < 0) {
		js_err("cannot clean %s/tmp: %s", c->spool, strerror(errno));
		c->st->errors++;
	} else {
		c->st->tmp = n;
	}
	c->dir = "";
	n = js_idem_expire(sp, o->idem_age_ms, o->dry_run, removed, c);
	if (n < 0) {
		js_err("cannot clean %s/%s: %s", c->spool, JS_IDEM_DIR,
		    strerror(errno));
		c->st->errors++;
	} else {
		c->st->idem = n;
	}
}

int
cleaner_pass(struct js_spool *sp, const struct cleaner_opts *o,
    struct cleaner_stats *st)
{
	struct scan s = { .st = st };
	struct ctx c = { .o = o, .st = st, .spool = js_spool_path(sp) };
	struct js_idmap waited;
	int64_t now = js_now_ms(), start = js_mono_ms();
	int64_t ret_cut = now - o->retrieved_age_ms, max_cut = now - o->max_age_ms;
	long long jobs_done = 0;
	size_t i, j;

	memset(st, 0, sizeof *st);
	clean_aside(sp, &c);
	if (js_clean_scan(sp, collect, &s) < 0) {
		js_err("cannot read spool directory %s: %s", c.spool,
		    strerror(errno));
		free(s.v);
		return -1;
	}
	if (s.n > 1)	/* qsort(NULL, 0, ...) is undefined */
		qsort(s.v, s.n, sizeof *s.v, cmp_ent);
	if (waited_for(sp, &s, &waited) < 0) {
		free(s.v);
		return -1;
	}

	for (i = 0; i < s.n; i = j) {
		const struct ent *fin = NULL, *ret = NULL;
		int busy = 0, has_job = 0;

		for (j = i; j < s.n && memcmp(s.v[j].id, s.v[i].id, JS_ID_LEN) == 0;
		    j++) {
			const struct ent *e = &s.v[j];
			if (e->kind == JS_PENDING || e->kind == JS_WIP)
				busy = 1;
			else if (e->kind == JS_RETRIEVED)
				ret = e;
			else if (e->kind < JS_NSTATES && fin == NULL)
				fin = e;
			if (e->kind < JS_NSTATES)
				has_job = 1;
		}
		if (busy || js_idmap_get(&waited, s.v[i].id, NULL))
			continue;	/* pending, running, or waited for */
		if (ret != NULL && ret->mtime_ms <= ret_cut) {
			purge_job(sp, &c, ret, ret_cut, &st->retrieved);
			pace(o, start, ++jobs_done);
		} else if (ret == NULL && fin != NULL && fin->mtime_ms <= max_cut) {
			purge_job(sp, &c, fin, max_cut, &st->expired);
			pace(o, start, ++jobs_done);
		} else if (!has_job) {
			for (; i < j; i++)
				if (s.v[i].mtime_ms <= max_cut)
					break;
			if (i < j) {
				purge_orphan(sp, &c, &s.v[i], max_cut);
				pace(o, start, ++jobs_done);
			}
		}
	}
	free(s.v);
	js_idmap_free(&waited, NULL);
	if (!o->dry_run && jobs_done > 0 && js_clean_sync(sp) < 0) {
		js_err("cannot fsync spool directory %s: %s", c.spool,
		    strerror(errno));
		st->errors++;
	}
	return 0;
}

static void
human_size(char *buf, size_t len, long long bytes)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, len, "%lld B", bytes);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u]);
}

void
cleaner_summary(char *buf, size_t len, const struct cleaner_stats *st,
    int dry_run)
{
	char size[32];

	human_size(size, sizeof size, st->bytes);
	snprintf(buf, len, "%s %lld retrieved, %lld expired, %lld orphaned, "
	    "%lld tmp files, %lld idempotency keys; %s %s; kept %lld "
	    "unexpected files%s",
	    dry_run ? "would remove" : "removed", st->retrieved, st->expired,
	    st->orphans, st->tmp, st->idem, dry_run ? "would free" : "freed",
	    size,
	    st->unexpected, st->errors ? "; errors: see above" : "");
}
