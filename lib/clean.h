/*
 * clean.h - spool primitives for jobspool-cleaner: walking the whole spool
 * directory once, removing one finished job's files safely, and the lock
 * that keeps two cleaners apart.
 *
 * SPOOL/cleaner.lock   flock(2)ed (exclusive) by a cleaner for its whole
 *                      pass; an admin can hold it with flock(1) to pause
 *                      cleaning.  Never removed.
 *
 * Return convention as in spool.h: 0 on success, -1 with errno set.
 */
#ifndef JS_CLEAN_H
#define JS_CLEAN_H

#include <stdint.h>
#include <sys/types.h>

#include "spool.h"

#define JS_CLEANER_LOCK "cleaner.lock"

/* What a directory entry of the spool is. */
enum js_entry_kind {
	JS_ENTRY_JOB,		/* <id>.<state>: state is set */
	JS_ENTRY_LOG,		/* <id>.log */
	JS_ENTRY_CANCEL,	/* <id>.cancel */
	JS_ENTRY_HELD,		/* <id>.held (the claimed file of a run) */
	JS_ENTRY_INTERNAL,	/* tmp/, idem/, notify/, processors/,
				 * paused.d/, revoked/, jobs.lock, cleaner.lock */
	JS_ENTRY_OTHER,		/* anything else: not ours, left alone */
};

struct js_scan_entry {
	const char *name;	/* valid only during the callback */
	enum js_entry_kind kind;
	char id[JS_ID_SIZE];	/* JOB, LOG, CANCEL */
	enum js_state state;	/* JOB */
	int64_t mtime_ms;
	off_t size;
	mode_t mode;		/* from lstat: a symlink is S_IFLNK */
};

/*
 * Reads the spool directory once and calls fn for every entry but "." and
 * "..", with one fstatat (not following symlinks) each.  An entry that
 * vanishes between readdir and fstatat is skipped.  fn returns 0 to go on,
 * or -1 to stop (js_clean_scan then returns -1 with fn's errno).
 * Returns 0, or -1 with errno set.
 */
int js_clean_scan(struct js_spool *sp,
    int (*fn)(const struct js_scan_entry *e, void *arg), void *arg);

/* Called with each file removed (or, with JS_PURGE_DRY_RUN, that would be). */
typedef void (*js_purge_fn)(const char *name, off_t size, void *arg);
#define JS_PURGE_DRY_RUN 0x1

/*
 * Removes one finished job under its job lock: <id>.<state>, then <id>.log,
 * <id>.cancel and a leftover <id>.held, but only if <id>.<state> still exists, is a regular
 * file, and its mtime is at or before not_after_ms (a job retrieved or
 * updated since the caller looked is left alone).  state must be final or
 * JS_RETRIEVED (EINVAL otherwise: pending and running jobs are never
 * purged).  The directory is not fsync'ed: call js_clean_sync once after a
 * batch.  Returns 0; -1/ENOENT if the job is no longer in that state;
 * -1/EAGAIN if it changed since not_after_ms.
 */
int js_clean_purge(struct js_spool *sp, const char *id, enum js_state state,
    int64_t not_after_ms, int flags, js_purge_fn fn, void *arg);

/*
 * Removes <id>.log, <id>.cancel and <id>.held of a job that has no state
 * file at all
 * (checked under the job lock), each only if its own mtime is at or before
 * not_after_ms.  Returns the number of files removed (>= 0), -1/EEXIST if
 * the job exists after all, or -1.
 */
int js_clean_purge_orphan(struct js_spool *sp, const char *id,
    int64_t not_after_ms, int flags, js_purge_fn fn, void *arg);

/* fsync(2)s the spool directory. */
int js_clean_sync(struct js_spool *sp);

/*
 * Takes the exclusive cleaner lock (SPOOL/cleaner.lock, created 0660).
 * With wait, blocks until it is free; otherwise -1/EWOULDBLOCK when another
 * process holds it.  Returns an fd: closing it releases the lock.
 */
int js_clean_lock(struct js_spool *sp, int wait);

#endif
