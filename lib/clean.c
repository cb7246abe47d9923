/* clean.c - spool primitives for the cleaner; see clean.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clean.h"
#include "idem.h"
#include "notify.h"
#include "pause.h"
#include "registry.h"
#include "revoke.h"

static int64_t
mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

int
js_clean_scan(struct js_spool *sp,
    int (*fn)(const struct js_scan_entry *e, void *arg), void *arg)
{
	struct js_scan_entry e;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dirfd = js_spool_fd(sp), saved, state;
	const char *side;

	d = js_spool_opendir(sp);
	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		memset(&e, 0, sizeof e);
		e.name = de->d_name;
		if (js_spool_parse_name(de->d_name, e.id, &state, &side) == 0) {
			if (state >= 0) {
				e.kind = JS_ENTRY_JOB;
				e.state = (enum js_state)state;
			} else if (strcmp(side, "log") == 0)
				e.kind = JS_ENTRY_LOG;
			else if (strcmp(side, "cancel") == 0)
				e.kind = JS_ENTRY_CANCEL;
			else
				e.kind = JS_ENTRY_HELD;
		} else if (strcmp(de->d_name, "tmp") == 0 ||
		    strcmp(de->d_name, "jobs.lock") == 0 ||
		    strcmp(de->d_name, JS_IDEM_DIR) == 0 ||
		    strcmp(de->d_name, JS_NOTIFY_DIR) == 0 ||
		    strcmp(de->d_name, JS_REGISTRY_DIR) == 0 ||
		    strcmp(de->d_name, JS_PAUSE_DIR) == 0 ||
		    strcmp(de->d_name, JS_REVOKE_DIR) == 0 ||
		    strcmp(de->d_name, JS_CLEANER_LOCK) == 0)
			e.kind = JS_ENTRY_INTERNAL;
		else
			e.kind = JS_ENTRY_OTHER;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;	/* moved on meanwhile */
			goto fail;
		}
		e.mtime_ms = mtime_ms(&st);
		e.size = st.st_size;
		e.mode = st.st_mode;
		if (fn(&e, arg) < 0)
			goto fail;
	}
	if (errno != 0)
		goto fail;
	closedir(d);
	return 0;
fail:
	saved = errno;
	closedir(d);
	errno = saved;
	return -1;
}

/* Removes (or, dry, reports) <id>.<ext> if present and, when not_after_ms
 * is >= 0, old enough.  Returns 1 if removed, 0 if absent or too young,
 * -1 on error. */
static int
purge_one(struct js_spool *sp, const char *id, const char *ext,
    int64_t not_after_ms, int flags, js_purge_fn fn, void *arg)
{
	char name[JS_NAME_SIZE];
	struct stat st;
	int dirfd = js_spool_fd(sp);

	if (js_spool_name(name, id, ext) < 0)
		return -1;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (not_after_ms >= 0 && mtime_ms(&st) > not_after_ms)
		return 0;
	if (!(flags & JS_PURGE_DRY_RUN) && unlinkat(dirfd, name, 0) < 0)
		return errno == ENOENT ? 0 : -1;
	if (fn != NULL)
		fn(name, st.st_size, arg);
	return 1;
}

int
js_clean_purge(struct js_spool *sp, const char *id, enum js_state state,
    int64_t not_after_ms, int flags, js_purge_fn fn, void *arg)
{
	char name[JS_NAME_SIZE];
	struct stat st;
	int lk, rc = -1, saved;

	if (state != JS_RETRIEVED && !(JS_FINAL_MASK & JS_STATE_BIT(state))) {
		errno = EINVAL;
		return -1;
	}
	if (js_spool_name(name, id, js_state_ext(state)) < 0)
		return -1;
	lk = js_spool_lock(sp, id);
	if (lk < 0)
		return -1;
	if (fstatat(js_spool_fd(sp), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOENT;	/* not a job file: leave it to a person */
		goto out;
	}
	if (mtime_ms(&st) > not_after_ms) {
		errno = EAGAIN;
		goto out;
	}
	if (purge_one(sp, id, js_state_ext(state), -1, flags, fn, arg) < 0 ||
	    purge_one(sp, id, "log", -1, flags, fn, arg) < 0 ||
	    purge_one(sp, id, "cancel", -1, flags, fn, arg) < 0 ||
	    purge_one(sp, id, "held", -1, flags, fn, arg) < 0)
		goto out;
	rc = 0;
out:
	saved = errno;
	js_spool_unlock(lk);
	errno = saved;
	return rc;
}

int
js_clean_purge_orphan(struct js_spool *sp, const char *id,
    int64_t not_after_ms, int flags, js_purge_fn fn, void *arg)
{
	enum js_state st;
	int lk, rc = -1, a, b, h, saved;

	lk = js_spool_lock_id(sp, id);
	if (lk < 0)
		return -1;
	if (js_spool_find(sp, id, &st) == 0) {
		errno = EEXIST;
		goto out;
	}
	if (errno != ENOENT)
		goto out;
	if ((a = purge_one(sp, id, "log", not_after_ms, flags, fn, arg)) < 0 ||
	    (b = purge_one(sp, id, "cancel", not_after_ms, flags, fn, arg)) < 0 ||
	    (h = purge_one(sp, id, "held", not_after_ms, flags, fn, arg)) < 0)
		goto out;
	rc = a + b + h;
out:
	saved = errno;
	js_spool_unlock(lk);
	errno = saved;
	return rc;
}

int
js_clean_sync(struct js_spool *sp)
{
	return fsync(js_spool_fd(sp));
}

int
js_clean_lock(struct js_spool *sp, int wait)
{
	int fd, saved;

	fd = openat(js_spool_fd(sp), JS_CLEANER_LOCK,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
