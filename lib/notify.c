/* notify.c - the spool's queue of notifications; see notify.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify.h"

/* A sink's name: 1 to JS_NOTIFY_SINK_SIZE - 1 lowercase letters. */
static int
sink_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= JS_NOTIFY_SINK_SIZE)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < 'a' || s[i] > 'z')
			return 0;
	return 1;
}

/* Whether status names a final state (completed, failed, cancelled). */
static int
final_status(const char *status)
{
	int s = status != NULL ? js_state_from_ext(status) : -1;

	return s >= 0 && (JS_STATE_BIT(s) & JS_FINAL_MASK) != 0;
}

/* fsync(2)s notify/ so that a rename into it is durable. */
static int
sync_dir(struct js_spool *sp)
{
	int fd = openat(js_spool_fd(sp), JS_NOTIFY_DIR, O_RDONLY |
	    O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), rc, saved;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	saved = errno;
	if (close(fd) < 0 && rc == 0)
		return -1;
	errno = saved;
	return rc;
}

int
js_notify_put(struct js_spool *sp, const json_t *job, const char *sink)
{
	const char *id = js_job_str(job, "id"), *st = js_job_str(job, "status");
	char name[sizeof JS_NOTIFY_DIR + JS_NOTIFY_NAME_SIZE];
	json_t *rec;
	int rc, saved;

	if (!js_id_valid(id) || !final_status(st) ||
	    !sink_ok(sink, strlen(sink))) {
		errno = EINVAL;
		return -1;
	}
	if (mkdirat(js_spool_fd(sp), JS_NOTIFY_DIR, 0770) < 0 &&
	    errno != EEXIST)
		return -1;
	snprintf(name, sizeof name, JS_NOTIFY_DIR "/%s.%s.%s.json", id, st,
	    sink);
	rec = json_pack("{s:s, s:s, s:s, s:I, s:O}", "id", id, "status", st,
	    "sink", sink, "queued_at", (json_int_t)js_now_ms(), "job", job);
	if (rec == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* the record's data is synced before the rename; then the rename */
	rc = js_spool_write_json(sp, name, rec, JS_RELAXED);
	saved = errno;
	json_decref(rec);
	if (rc < 0) {
		errno = saved;
		return -1;
	}
	return sync_dir(sp);
}

int
js_notify_open(struct js_spool *sp, DIR **d)
{
	int r;

	if (mkdirat(js_spool_fd(sp), JS_NOTIFY_DIR, 0770) < 0 &&
	    errno != EEXIST)
		return -1;
	r = js_spool_opensub(sp, JS_NOTIFY_DIR, d);
	if (r == 0) {
		errno = ENOENT;		/* removed in between */
		return -1;
	}
	return r < 0 ? -1 : 0;
}

int
js_notify_parse_name(const char *name, char sink[JS_NOTIFY_SINK_SIZE])
{
	char id[JS_ID_SIZE];
	const char *p = name, *dot;
	size_t len = strlen(name);

	/* <id>.<outcome>.<sink>.json */
	if (len < JS_ID_LEN + 6 || strcmp(name + len - 5, ".json") != 0 ||
	    name[JS_ID_LEN] != '.')
		return 0;
	memcpy(id, name, JS_ID_LEN);
	id[JS_ID_LEN] = '\0';
	if (!js_id_valid(id))
		return 0;
	p = name + JS_ID_LEN + 1;
	if ((dot = strchr(p, '.')) == NULL || (size_t)(dot - p) > 15)
		return 0;
	{
		char st[16];
		memcpy(st, p, (size_t)(dot - p));
		st[dot - p] = '\0';
		if (!final_status(st))
			return 0;
	}
	p = dot + 1;
	len = (size_t)(name + len - 5 - p);
	if (!sink_ok(p, len))
		return 0;
	memcpy(sink, p, len);
	sink[len] = '\0';
	return 1;
}

int
js_notify_take(int dfd, const char *name, json_t **rec, int *fd)
{
	struct flock fl;
	struct stat st;
	int saved;

	*rec = NULL;
	*fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return errno == ENOENT ? 0 : -1;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(*fd, F_OFD_SETLK, &fl) < 0) {
		saved = errno;
		js_notify_release(*fd);
		*fd = -1;
		errno = saved;
		return saved == EAGAIN || saved == EACCES ? 0 : -1;
	}
	if (fstat(*fd, &st) < 0) {
		saved = errno;
		js_notify_release(*fd);
		*fd = -1;
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		js_notify_release(*fd);
		*fd = -1;
		errno = EBADMSG;
		return -1;
	}
	if (st.st_nlink == 0) {		/* removed by the sender before us */
		js_notify_release(*fd);
		*fd = -1;
		return 0;
	}
	*rec = json_loadfd(*fd, 0, NULL);
	if (!json_is_object(*rec)) {
		json_decref(*rec);
		*rec = NULL;
		errno = EBADMSG;
		return -1;	/* *fd stays open and locked: to remove */
	}
	return 1;
}

void
js_notify_release(int fd)
{
	if (fd >= 0)
		(void)close(fd);	/* read-only use: nothing to flush */
}

int
js_notify_remove(int dfd, const char *name, int fd)
{
	int rc = unlinkat(dfd, name, 0), saved = errno;

	js_notify_release(fd);	/* the lock goes with it */
	errno = saved;
	return rc;
}
