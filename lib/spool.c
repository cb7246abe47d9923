/* spool.c - the on-disk protocol; see spool.h and man 5 jobspool. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "idmap.h"
#include "sched.h"
#include "spool.h"

#define LOCK_FILE "jobs.lock"
#define LOCK_SLOTS 65521	/* bytes of jobs.lock used as per-job locks */
#define JOB_FILE_MAX (64 << 20)	/* a state file larger than this is refused */

/* Group commit of the directory fsync (js_spool_sync): the callers are
 * numbered in the order they arrive; an fsync started after caller n
 * arrived covers n.  One fsync runs at a time; whoever finds none running
 * starts the next, covering everyone who arrived before it started.
 * Before it starts, it waits (JS_GROUP_WAIT_NS at most) while durable
 * writes begun by other threads are still under way, so that theirs
 * share it; a lone writer never waits. */
struct dirsync {
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* an fsync ended */
	pthread_cond_t drained;		/* no durable write under way */
	unsigned long long asked;	/* callers so far */
	unsigned long long done;	/* callers covered by a good fsync */
	unsigned long long failed;	/* callers covered by a failed one */
	unsigned long long syncs;	/* fsyncs of the directory run */
	unsigned writing;		/* durable writes not yet at the sync */
	int err;			/* that fsync's errno */
	int busy;			/* an fsync is running or gathering */
};

struct js_spool {
	int dirfd;
	int tmpfd;
	int nosync;		/* JS_SPOOL_VOLATILE: nothing is synced */
	char *path;
	struct dirsync ds;
};

struct js_spool *
js_spool_open(const char *path, int flags, char *err, size_t errlen)
{
	struct js_spool *sp;
	struct stat st;

	sp = calloc(1, sizeof *sp);
	if (sp == NULL || (sp->path = strdup(path)) == NULL) {
		js_errf(err, errlen, "out of memory");
		free(sp);
		return NULL;
	}
	sp->tmpfd = -1;
	sp->nosync = (flags & JS_SPOOL_VOLATILE) != 0;
	sp->ds.mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	sp->ds.cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	sp->ds.drained = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
	sp->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0 && errno == ENOENT && (flags & JS_SPOOL_CREATE)) {
		if (mkdir(path, 0770) < 0 && errno != EEXIST) {
			js_errf(err, errlen, "cannot create spool directory %s: %s",
			    path, strerror(errno));
			goto fail;
		}
		sp->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (sp->dirfd < 0) {
		js_errf(err, errlen, "cannot open spool directory %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (fstat(sp->dirfd, &st) < 0) {
		js_errf(err, errlen, "cannot stat spool directory %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (st.st_mode & S_IWOTH) {
		js_errf(err, errlen, "spool directory %s is writable by other users "
		    "(mode %04o); refusing it: run 'chmod o-w %s'", path,
		    (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	if (mkdirat(sp->dirfd, "tmp", 0770) < 0 && errno != EEXIST) {
		js_errf(err, errlen, "cannot create %s/tmp: %s", path, strerror(errno));
		goto fail;
	}
	sp->tmpfd = openat(sp->dirfd, "tmp",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sp->tmpfd < 0) {
		js_errf(err, errlen, "cannot open %s/tmp: %s%s", path, strerror(errno),
		    (errno == ELOOP || errno == ENOTDIR) ?
		    " (it must be a real directory, not a symlink)" : "");
		goto fail;
	}
	if (fstat(sp->tmpfd, &st) < 0 || (st.st_mode & S_IWOTH)) {
		js_errf(err, errlen, "%s/tmp is writable by other users; refusing it",
		    path);
		goto fail;
	}
	return sp;
fail:
	js_spool_close(sp);
	return NULL;
}

void
js_spool_close(struct js_spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	if (sp->tmpfd >= 0)
		close(sp->tmpfd);
	pthread_cond_destroy(&sp->ds.cv);
	pthread_cond_destroy(&sp->ds.drained);
	pthread_mutex_destroy(&sp->ds.mu);
	free(sp->path);
	free(sp);
}

int js_spool_fd(const struct js_spool *sp) { return sp->dirfd; }
int js_spool_tmpfd(const struct js_spool *sp) { return sp->tmpfd; }
const char *js_spool_path(const struct js_spool *sp) { return sp->path; }

int
js_spool_check(struct js_spool *sp, char *err, size_t errlen)
{
	struct stat st;
	struct statvfs vfs;
	char probe[JS_ID_SIZE + 16];
	int fd;

	if (fstat(sp->dirfd, &st) < 0 || st.st_nlink == 0) {
		js_errf(err, errlen, "spool directory %s has been removed", sp->path);
		return -1;
	}
	{
		/* renamed away, or replaced by another directory: the other
		 * programs (opening the path) would not see our jobs */
		struct stat pst;
		if (stat(sp->path, &pst) < 0 || pst.st_dev != st.st_dev ||
		    pst.st_ino != st.st_ino) {
			js_errf(err, errlen, "spool directory %s has been moved or "
			    "replaced since it was opened", sp->path);
			return -1;
		}
	}
	if (fstatvfs(sp->dirfd, &vfs) == 0) {
		if (vfs.f_flag & ST_RDONLY) {
			js_errf(err, errlen, "spool %s is on a read-only filesystem",
			    sp->path);
			return -1;
		}
		if (vfs.f_bavail == 0 || (vfs.f_files > 0 && vfs.f_favail == 0)) {
			js_errf(err, errlen, "spool %s: no space left on device",
			    sp->path);
			return -1;
		}
	}
	memcpy(probe, "health-", 7);
	js_id_new(probe + 7);
	fd = openat(sp->tmpfd, probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd < 0) {
		js_errf(err, errlen, "spool %s is not writable: %s", sp->path,
		    strerror(errno));
		return -1;
	}
	close(fd);
	if (unlinkat(sp->tmpfd, probe, 0) < 0) {
		js_errf(err, errlen, "spool %s: cannot remove a file: %s", sp->path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
js_spool_name(char out[JS_NAME_SIZE], const char *id, const char *ext)
{
	if (!js_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(out, JS_NAME_SIZE, "%s.%s", id, ext);
	return 0;
}

int
js_spool_parse_name(const char *name, char id[JS_ID_SIZE], int *state,
    const char **sidecar)
{
	const char *ext;

	if (strlen(name) < JS_ID_LEN + 2 || name[JS_ID_LEN] != '.')
		return -1;
	memcpy(id, name, JS_ID_LEN);
	id[JS_ID_LEN] = '\0';
	if (!js_id_valid(id))
		return -1;
	ext = name + JS_ID_LEN + 1;
	*state = js_state_from_ext(ext);
	if (sidecar != NULL)
		*sidecar = NULL;
	if (*state >= 0)
		return 0;
	if (strcmp(ext, "log") == 0 || strcmp(ext, "cancel") == 0 ||
	    strcmp(ext, "held") == 0) {
		if (sidecar != NULL)
			*sidecar = ext;
		return 0;
	}
	return -1;
}

/* A directory stream over the directory dirfd refers to, on a descriptor
 * of its own (dirfd stays open and its offset untouched). */
static DIR *
opendir_fd(int dirfd)
{
	int fd, saved;
	DIR *d;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (d == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return d;
}

DIR *
js_spool_opendir(struct js_spool *sp)
{
	return opendir_fd(sp->dirfd);
}

int
js_spool_opensub(struct js_spool *sp, const char *sub, DIR **d)
{
	int fd, saved;

	*d = NULL;
	fd = openat(sp->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if ((*d = fdopendir(fd)) == NULL) {
		saved = errno;
		(void)close(fd);	/* a directory: nothing to flush */
		errno = saved;
		return -1;
	}
	return 1;
}

/* Writes data into a new file tmp/<uuid>.tmp, synced (unless nosync)
 * and closed, or kept open with its descriptor in *keep (keep not NULL);
 * its name goes into tmpname.  On failure nothing is left behind. */
static int
write_tmp_fd(struct js_spool *sp, const void *data, size_t len,
    char tmpname[JS_NAME_SIZE], int nosync, int *keep)
{
	char id[JS_ID_SIZE];
	int fd, saved;

	js_id_new(id);
	snprintf(tmpname, JS_NAME_SIZE, "%s.tmp", id);
	fd = openat(sp->tmpfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0660);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0660) < 0 || js_write_all(fd, data, len) < 0 ||
	    (!nosync && !sp->nosync && fsync(fd) < 0)) {
		saved = errno;
		close(fd);
		unlinkat(sp->tmpfd, tmpname, 0);
		errno = saved;
		return -1;
	}
	if (keep != NULL) {
		*keep = fd;
		return 0;
	}
	if (close(fd) < 0) {
		saved = errno;
		unlinkat(sp->tmpfd, tmpname, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

static int
write_tmp(struct js_spool *sp, const void *data, size_t len,
    char tmpname[JS_NAME_SIZE])
{
	return write_tmp_fd(sp, data, len, tmpname, 0, NULL);
}

/* unlinkat(dir, name), errno as it was */
static void
unlink_keep_errno(int dir, const char *name)
{
	int e = errno;

	(void)unlinkat(dir, name, 0);
	errno = e;
}

static int
publish(struct js_spool *sp, const char *tmpname, const char *name, int flags)
{
	int rc;

	if (flags & JS_WRITE_NOREPLACE) {
		rc = renameat2(sp->tmpfd, tmpname, sp->dirfd, name, RENAME_NOREPLACE);
		if (rc < 0 && errno == EINVAL) {
			/* filesystem without RENAME_NOREPLACE: link is exclusive */
			rc = linkat(sp->tmpfd, tmpname, sp->dirfd, name, 0);
			if (rc == 0)
				unlinkat(sp->tmpfd, tmpname, 0);
		}
	} else {
		rc = renameat(sp->tmpfd, tmpname, sp->dirfd, name);
	}
	if (rc < 0) {
		unlink_keep_errno(sp->tmpfd, tmpname);
		return -1;
	}
	return 0;
}

/* Puts tmp/<tmpname> in place of <name>, which exists: by exchanging the
 * two (then 1: the old file is now tmp/<tmpname>, the caller's to remove),
 * or, where the filesystem cannot exchange names or <name> is gone, by a
 * rename (then 0).  Not a plain rename over it: ext4 writes out, at that
 * very call, the data of a file renamed over another (its auto_da_alloc),
 * which a start record's data does not need (<id>.held stands in for it)
 * and whose write would hold up the caller, the processor's loop waiting
 * in vfork for the child that writes the record; exchanged, the data is
 * written when the kernel gets to it, or never, when the job ends before.
 * Only system calls: the child of a vfork calls it.  -1 with errno. */
static int
exchange_in(int tmpdir, const char *tmpname, int dir, const char *name)
{
	if (renameat2(tmpdir, tmpname, dir, name, RENAME_EXCHANGE) == 0)
		return 1;
	if (errno != EINVAL && errno != ENOENT)
		return -1;
	return renameat(tmpdir, tmpname, dir, name) < 0 ? -1 : 0;
}

/* One fsync of the directory for every caller numbered up to upto, run
 * by the caller holding ds->mu (released while it runs). */
static void
dirsync_lead(struct js_spool *sp)
{
	struct dirsync *ds = &sp->ds;
	unsigned long long upto;
	struct timespec until;
	int rc, e;

	ds->busy = 1;
	if (ds->writing > 0 && js_mono_deadline(&until, JS_GROUP_WAIT_NS) == 0)
		while (ds->writing > 0 && pthread_cond_clockwait(&ds->drained,
		    &ds->mu, CLOCK_MONOTONIC, &until) == 0)
			;
	upto = ds->asked;
	pthread_mutex_unlock(&ds->mu);
	rc = fsync(sp->dirfd);
	e = errno;
	pthread_mutex_lock(&ds->mu);
	ds->busy = 0;
	ds->syncs++;
	if (rc == 0) {
		ds->done = upto;
	} else {
		/* a later fsync may succeed without having written these
		 * changes (the error is reported once): they failed */
		ds->failed = upto;
		ds->err = e;
	}
	pthread_cond_broadcast(&ds->cv);
}

int
js_spool_write_json(struct js_spool *sp, const char *name, const json_t *o,
    int flags)
{
	char *text;
	size_t len;
	int rc, saved;

	if ((text = js_json_dumps(o, JSON_COMPACT, "\n", &len)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = js_spool_write_file(sp, name, text, len, flags);
	saved = errno;
	free(text);
	errno = saved;
	return rc;
}

int
js_spool_sync(struct js_spool *sp)
{
	struct dirsync *ds = &sp->ds;
	unsigned long long mine;
	int rc, e;

	if (sp->nosync)
		return 0;
	pthread_mutex_lock(&ds->mu);
	mine = ++ds->asked;
	while (ds->done < mine && ds->failed < mine) {
		if (!ds->busy)
			dirsync_lead(sp);
		else
			pthread_cond_wait(&ds->cv, &ds->mu);
	}
	/* covered by a failed fsync (even if a later one succeeded: it need
	 * not have written these changes again): failed */
	rc = ds->failed >= mine ? -1 : 0;
	e = ds->err;
	pthread_mutex_unlock(&ds->mu);
	if (rc < 0)
		errno = e;
	return rc;
}

unsigned long long
js_spool_syncs(struct js_spool *sp)
{
	unsigned long long n;

	pthread_mutex_lock(&sp->ds.mu);
	n = sp->ds.syncs;
	pthread_mutex_unlock(&sp->ds.mu);
	return n;
}

/* Counts a durable write under way (d 1) or at its sync (d -1): a sync's
 * leader waits for those under way (dirsync_lead). */
static void
dirsync_writing(struct dirsync *ds, int d)
{
	pthread_mutex_lock(&ds->mu);
	ds->writing += d;
	if (ds->writing == 0)	/* the leader gathering, if any; not
				 * those waiting for its fsync */
		pthread_cond_signal(&ds->drained);
	pthread_mutex_unlock(&ds->mu);
}

int
js_spool_write_file(struct js_spool *sp, const char *name, const void *data,
    size_t len, int flags)
{
	char tmpname[JS_NAME_SIZE];
	int durable = !(flags & (JS_RELAXED | JS_VOLATILE)) && !sp->nosync;
	int rc, e;

	if (durable)
		dirsync_writing(&sp->ds, 1);
	rc = write_tmp_fd(sp, data, len, tmpname, (flags & JS_VOLATILE) != 0,
	    NULL);
	if (rc == 0)
		rc = publish(sp, tmpname, name, flags);
	if (!durable)
		return rc;
	e = errno;
	dirsync_writing(&sp->ds, -1);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	return js_spool_sync(sp);
}

static int
write_job(struct js_spool *sp, const char *name, const json_t *job, int flags)
{
	size_t len;
	char *text = js_job_dump(job, &len);
	int rc, saved;

	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = js_spool_write_file(sp, name, text, len, flags);
	saved = errno;
	free(text);
	errno = saved;
	return rc;
}

static const char *
job_id(const json_t *job)
{
	const char *id = js_job_str(job, "id");

	if (!js_id_valid(id)) {
		errno = EINVAL;
		return NULL;
	}
	return id;
}

int
js_spool_submit(struct js_spool *sp, const json_t *job)
{
	char name[JS_NAME_SIZE];
	const char *id = job_id(job);

	if (id == NULL || js_spool_name(name, id, "pending") < 0)
		return -1;
	return write_job(sp, name, job, JS_WRITE_NOREPLACE);
}

int
js_spool_submit_many(struct js_spool *sp, json_t *const *jobs, size_t n)
{
	char (*tmp)[JS_NAME_SIZE] = NULL, name[JS_NAME_SIZE];
	size_t i, written = 0, published = 0;
	int saved = 0;

	if (n == 0)
		return 0;
	tmp = calloc(n, sizeof *tmp);
	if (tmp == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		size_t len;
		char *text;
		if (job_id(jobs[i]) == NULL) {
			saved = EINVAL;
			goto undo;
		}
		text = js_job_dump(jobs[i], &len);
		if (text == NULL) {
			saved = ENOMEM;
			goto undo;
		}
		if (write_tmp(sp, text, len, tmp[i]) < 0) {
			saved = errno;
			free(text);
			goto undo;
		}
		free(text);
		written++;
	}
	for (i = 0; i < n; i++) {
		js_spool_name(name, job_id(jobs[i]), "pending");
		if (publish(sp, tmp[i], name, JS_WRITE_NOREPLACE) < 0) {
			saved = errno;
			tmp[i][0] = '\0';	/* publish removed it */
			goto undo;
		}
		tmp[i][0] = '\0';
		published++;
	}
	free(tmp);
	return js_spool_sync(sp);
undo:
	/* take back what was published; a job a processor already claimed
	 * stays (and runs): rename is the only exclusive step we have */
	for (i = 0; i < published; i++) {
		js_spool_name(name, job_id(jobs[i]), "pending");
		unlinkat(sp->dirfd, name, 0);
	}
	for (i = 0; i < written; i++)
		if (tmp[i][0] != '\0')
			unlinkat(sp->tmpfd, tmp[i], 0);
	free(tmp);
	js_spool_sync(sp);
	errno = saved;
	return -1;
}

/* Reads and parses SPOOL/name.  -1/ENOENT if missing, EBADMSG if it is not
 * a regular file holding a JSON object.  With keep (not NULL), on success
 * the file stays open, its descriptor in *keep (see struct js_pin).  With
 * held, a bad <id>.wip is read from its <id>.held (read_held). */
static json_t *read_held(struct js_spool *sp, const char *name);

/* Opens SPOOL/name for reading as a job file: its descriptor, its size in
 * *size.  -1/ENOENT if missing, EBADMSG if it is not a regular file (a
 * symlink is never a job) or is larger than max. */
static int
open_job_file(struct js_spool *sp, const char *name, size_t max, size_t *size)
{
	struct stat st;
	int fd, saved;

	fd = openat(sp->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			errno = EBADMSG;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (uintmax_t)st.st_size > max) {
		close(fd);
		errno = EBADMSG;
		return -1;
	}
	*size = (size_t)st.st_size;
	return fd;
}

/* Reads size bytes of fd into buf: 0, or -1 with errno (EBADMSG if the
 * file is shorter). */
static int
read_job_bytes(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EBADMSG;
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

static json_t *
read_json_fd(struct js_spool *sp, const char *name, int *keep, int held)
{
	char *buf, err[160];
	size_t got;
	json_t *j;
	int fd, saved;

	if ((fd = open_job_file(sp, name, JOB_FILE_MAX, &got)) < 0)
		return NULL;
	buf = malloc(got + 1);
	if (buf == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	if (read_job_bytes(fd, buf, got) < 0) {
		saved = errno;
		free(buf);
		close(fd);
		errno = saved;
		return NULL;
	}
	j = js_job_parse(buf, got, err, sizeof err);
	saved = errno;
	free(buf);
	if (j != NULL && keep != NULL)
		*keep = fd;
	else
		close(fd);
	if (j == NULL)	/* ENOMEM is no fault of the file */
		errno = saved == ENOMEM ? ENOMEM : EBADMSG;
	if (j == NULL && errno == EBADMSG && held)
		j = read_held(sp, name);
	return j;
}

/* A running job's <id>.wip whose data a power loss took (its start record
 * is written without a data sync) is read from <id>.held, the claimed
 * file kept under a second name until the run ends (jobspool(5),
 * "Atomicity and durability").  NULL/EBADMSG when there is none. */
static json_t *
read_held(struct js_spool *sp, const char *name)
{
	char held[JS_NAME_SIZE];
	size_t n = strlen(name);
	json_t *j;

	if (n != JS_ID_LEN + 4 || strcmp(name + JS_ID_LEN, ".wip") != 0)
		return NULL;
	snprintf(held, sizeof held, "%.*s.held", JS_ID_LEN, name);
	j = read_json_fd(sp, held, NULL, 0);
	if (j == NULL)
		errno = EBADMSG;	/* it is the .wip that is bad */
	return j;
}

static json_t *
read_json(struct js_spool *sp, const char *name)
{
	return read_json_fd(sp, name, NULL, 1);
}

/* Makes "status" agree with the file's extension. */
static void
set_status_from_state(json_t *job, enum js_state st)
{
	const char *status = js_state_status(st);
	const char *cur = js_job_str(job, "status");

	if (status != NULL) {
		if (cur == NULL || strcmp(cur, status) != 0)
			json_object_set_new(job, "status", json_string(status));
	} else if (cur == NULL || js_state_from_status(cur) < JS_COMPLETED ||
	    js_state_from_status(cur) == JS_RETRIEVED) {
		/* a retrieved file whose status lost its outcome */
		json_object_set_new(job, "status", json_string("completed"));
	}
}

/* Makes "id" agree with the file's name, which is the job's id: a file
 * written by hand into the spool may have none (or another one). */
static void
set_id_from_name(json_t *job, const char *id)
{
	const char *cur = js_job_str(job, "id");

	if (cur == NULL || strcmp(cur, id) != 0)
		json_object_set_new(job, "id", json_string(id));
}

/* js_spool_read_state, the file read left open in *keep (keep: NULL, or
 * see read_json_fd). */
static json_t *
read_state_fd(struct js_spool *sp, const char *id, enum js_state state,
    int *keep)
{
	char name[JS_NAME_SIZE];
	json_t *job;

	if (js_spool_name(name, id, js_state_ext(state)) < 0)
		return NULL;
	job = read_json_fd(sp, name, keep, 1);
	if (job != NULL) {
		set_status_from_state(job, state);
		set_id_from_name(job, id);
	}
	return job;
}

json_t *
js_spool_read_state(struct js_spool *sp, const char *id, enum js_state state)
{
	return read_state_fd(sp, id, state, NULL);
}

json_t *
js_spool_read_wip_pin(struct js_spool *sp, const char *id,
    struct js_pin *pin)
{
	pin->wip = -1;
	return read_state_fd(sp, id, JS_WIP, &pin->wip);
}

int
js_spool_read_bytes(struct js_spool *sp, const char *id, char *buf,
    size_t cap, size_t *len, enum js_state *state)
{
	char name[JS_NAME_SIZE];
	size_t size;
	int s, fd, saved;

	/* js_spool_read's order, one pass */
	for (s = 0; s < JS_NSTATES; s++) {
		if (js_spool_name(name, id, js_state_ext((enum js_state)s)) < 0)
			return -1;
		fd = open_job_file(sp, name, cap, &size);
		if (fd >= 0)
			break;
		if (errno != ENOENT)
			return -1;
	}
	if (s == JS_NSTATES) {
		errno = ENOENT;
		return -1;
	}
	if (read_job_bytes(fd, buf, size) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	*len = size;
	*state = (enum js_state)s;
	return 0;
}

json_t *
js_spool_job_from_bytes(const char *buf, size_t len, const char *id,
    enum js_state state)
{
	char err[160];
	json_t *job = js_job_parse(buf, len, err, sizeof err);

	if (job == NULL) {
		if (errno != ENOMEM)
			errno = EBADMSG;
		return NULL;
	}
	set_status_from_state(job, state);
	set_id_from_name(job, id);
	return job;
}

int
js_spool_stat(struct js_spool *sp, const char *id, enum js_state state,
    int64_t *mtime_ms, off_t *size)
{
	char name[JS_NAME_SIZE];
	struct stat st;

	if (state >= JS_NSTATES ||
	    js_spool_name(name, id, js_state_ext(state)) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (fstatat(sp->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	*mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000;
	*size = st.st_size;
	return 0;
}

int
js_spool_find(struct js_spool *sp, const char *id, enum js_state *state)
{
	char name[JS_NAME_SIZE];
	struct stat st;
	int pass, s;

	if (!js_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	/* probe in the direction jobs move; a second pass covers a job that
	 * moved backwards (requeue) while we looked */
	for (pass = 0; pass < 2; pass++) {
		for (s = 0; s < JS_NSTATES; s++) {
			js_spool_name(name, id, js_state_ext((enum js_state)s));
			if (fstatat(sp->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
				*state = (enum js_state)s;
				return 0;
			}
			if (errno != ENOENT)
				return -1;
		}
	}
	errno = ENOENT;
	return -1;
}

/* Finds the job (under its lock if locked, see js_spool_locate) and reads
 * it, following it when it moved between the two; after tries moves,
 * fails with giveup (ENOENT, or EAGAIN when locked: it kept moving). */
static json_t *
read_following(struct js_spool *sp, const char *id, enum js_state *state,
    int locked)
{
	enum js_state st;
	json_t *job;
	int tries, max = locked ? JS_NSTATES : 4;

	for (tries = 0; tries < max; tries++) {
		if ((locked ? js_spool_locate(sp, id, &st) :
		    js_spool_find(sp, id, &st)) < 0)
			return NULL;
		job = js_spool_read_state(sp, id, st);
		if (job != NULL) {
			if (state != NULL)
				*state = st;
			return job;
		}
		if (errno != ENOENT)
			return NULL;
		/* it moved between find and read: look again */
	}
	errno = locked ? EAGAIN : ENOENT;
	return NULL;
}

/* js_spool_read: opening each name in the order jobs move is the probe (a
 * stat before the open cost one more path lookup per request); a second
 * pass covers a job that moved backwards (requeue) meanwhile. */
json_t *
js_spool_read(struct js_spool *sp, const char *id, enum js_state *state)
{
	json_t *job;
	int pass, s;

	for (pass = 0; pass < 2; pass++) {
		for (s = 0; s < JS_NSTATES; s++) {
			job = js_spool_read_state(sp, id, (enum js_state)s);
			if (job != NULL) {
				if (state != NULL)
					*state = (enum js_state)s;
				return job;
			}
			if (errno != ENOENT)
				return NULL;
		}
	}
	errno = ENOENT;
	return NULL;
}

int
js_spool_locate(struct js_spool *sp, const char *id, enum js_state *state)
{
	int lk, rc;

	/* under the lock only a claim or a cancel of a pending job can move
	 * it (.pending -> .wip or .cancelled), forward in the order probed */
	lk = js_spool_lock_id(sp, id);
	if (lk < 0)
		return -1;
	rc = js_spool_find(sp, id, state);
	js_spool_unlock(lk);
	return rc;
}

json_t *
js_spool_read_current(struct js_spool *sp, const char *id,
    enum js_state *state)
{
	/* each retry follows a move forward: a few are enough */
	return read_following(sp, id, state, 1);
}

int
js_spool_list(struct js_spool *sp, unsigned mask, int flags,
    struct js_entry **out, size_t *n)
{
	struct js_entry *v = NULL, *nv;
	size_t len = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int state, saved;

	*out = NULL;
	*n = 0;
	d = opendir_fd(sp->dirfd);
	if (d == NULL)
		return -1;
	/* errno is cleared before every readdir (a skipped entry's failed
	 * fstatat must not read as a failed readdir at the end) */
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		char id[JS_ID_SIZE];
		const char *side;

		if (de->d_name[0] == '.' ||
		    js_spool_parse_name(de->d_name, id, &state, &side) < 0 ||
		    state < 0 || !(mask & JS_STATE_BIT(state)))
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 256;
			nv = realloc(v, cap * sizeof *v);
			if (nv == NULL) {
				free(v);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			v = nv;
		}
		memcpy(v[len].id, id, JS_ID_SIZE);
		v[len].state = (enum js_state)state;
		v[len].mtime_ms = 0;
		v[len].size = 0;
		if (flags & JS_LIST_STAT) {
			if (fstatat(sp->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;	/* moved on meanwhile */
			v[len].mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
			    st.st_mtim.tv_nsec / 1000000;
			v[len].size = st.st_size;
		}
		len++;
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		free(v);
		errno = saved;
		return -1;
	}
	*out = v;
	*n = len;
	return 0;
}

static unsigned
lock_slot(const char *id)
{
	return (unsigned)(js_hash(JS_HASH_INIT, id, strlen(id)) % LOCK_SLOTS);
}

int
js_spool_lock(struct js_spool *sp, const char *id)
{
	struct flock fl;
	int fd, saved;

	/* without O_CREAT first: an open that may create takes the spool
	 * directory's lock, which every create and rename in it holds */
	fd = openat(sp->dirfd, LOCK_FILE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = openat(sp->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW |
		    O_CLOEXEC, 0660);
	if (fd < 0)
		return -1;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = lock_slot(id);
	fl.l_len = 1;
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno == EINTR)
			continue;
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
js_spool_lock_id(struct js_spool *sp, const char *id)
{
	if (!js_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	return js_spool_lock(sp, id);
}

void
js_spool_unlock(int lockfd)
{
	int saved = errno;

	if (lockfd >= 0)
		close(lockfd);	/* closing the description releases the lock */
	errno = saved;
}

static void
clear_run_fields(json_t *job)
{
	static const char *const fields[] = {
		"exit_code", "signal", "error", "finished_at", "pid", "pid_start",
		NULL
	};
	size_t i;

	for (i = 0; fields[i] != NULL; i++)
		if (json_object_get(job, fields[i]) != NULL)
			json_object_set_new(job, fields[i], json_null());
}

/* <id>.held: the claimed file of a running job under a second name, made
 * by js_spool_start_pin before it replaces <id>.wip with a start record
 * whose data is not synced; it goes when the run ends.  Links <id>.wip
 * there (a leftover of a crash is replaced): 0, or -1 with errno. */
static int
hold(struct js_spool *sp, const char *id)
{
	char wip[JS_NAME_SIZE], held[JS_NAME_SIZE];

	js_spool_name(wip, id, "wip");
	js_spool_name(held, id, "held");
	if (linkat(sp->dirfd, wip, sp->dirfd, held, 0) == 0)
		return 0;
	if (errno != EEXIST || unlinkat(sp->dirfd, held, 0) < 0)
		return -1;
	return linkat(sp->dirfd, wip, sp->dirfd, held, 0);
}

/* Removes <id>.<ext>: 0, also when there is none, or -1 with errno. */
static int
remove_side(struct js_spool *sp, const char *id, const char *ext)
{
	char name[JS_NAME_SIZE];

	js_spool_name(name, id, ext);
	return unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
}

/* Removes <id>.held once the run has ended (the job's file is no longer
 * <id>.wip); caller holds the lock.  A failure leaves it for the next
 * claim (replaced) or the cleaner (removed with the job). */
static void
drop_held(struct js_spool *sp, const char *id)
{
	(void)remove_side(sp, id, "held");
}

/* A claim found lost (check_claim: ESTALE) by its own run, caller holding
 * the lock: when no <id>.wip is left (taken away, not claimed again) its
 * <id>.held is nobody's and goes; a new claimer's is left alone.  errno
 * is kept. */
static void
lost_held(struct js_spool *sp, const char *id)
{
	char wip[JS_NAME_SIZE];
	struct stat st;
	int saved = errno;

	js_spool_name(wip, id, "wip");
	if (saved == ESTALE &&
	    fstatat(sp->dirfd, wip, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
	    errno == ENOENT)
		drop_held(sp, id);
	errno = saved;
}

/* Ends a job in place: writes <id>.<to> (failed or cancelled) with msg as
 * its error, then removes its <from> file; caller holds the lock. */
static int
end_in_place(struct js_spool *sp, const char *id, enum js_state from,
    json_t *job, enum js_state to, const char *msg)
{
	char name[JS_NAME_SIZE];

	json_object_set_new(job, "status", json_string(js_state_status(to)));
	json_object_set_new(job, "error", json_string(msg));
	js_job_set_time(job, "finished_at", 0);
	js_job_set_time(job, "updated_at", 0);
	js_spool_name(name, id, js_state_ext(to));
	if (write_job(sp, name, job, 0) < 0)
		return -1;
	js_spool_name(name, id, js_state_ext(from));
	if (unlinkat(sp->dirfd, name, 0) < 0 && errno != ENOENT &&
	    (errno != EISDIR ||	/* an (empty) directory planted as a job */
	    unlinkat(sp->dirfd, name, AT_REMOVEDIR) < 0))
		return -1;
	if (from == JS_WIP)
		drop_held(sp, id);
	return 0;
}

static int
fail_in_place(struct js_spool *sp, const char *id, enum js_state from,
    json_t *job, const char *msg)
{
	return end_in_place(sp, id, from, job, JS_FAILED, msg);
}

/* A claimed file that is not a valid job becomes <id>.failed. */
static json_t *
fail_invalid(struct js_spool *sp, const char *id, const char *why)
{
	char name[JS_NAME_SIZE], msg[512];
	json_t *job;
	int lk;

	job = json_object();
	if (job == NULL)
		return NULL;
	json_object_set_new(job, "id", json_string(id));
	js_job_set_time(job, "created_at", 0);
	json_object_set_new(job, "attempts", json_integer(0));
	snprintf(msg, sizeof msg, "invalid job file: %s", why);
	lk = js_spool_lock(sp, id);
	if (lk < 0) {
		json_decref(job);
		return NULL;
	}
	/* keep what the file held, if it was text, for the admin to see */
	js_spool_name(name, id, "wip");
	{
		int fd = openat(sp->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (fd >= 0) {
			char buf[4096];
			ssize_t n = read(fd, buf, sizeof buf);
			if (n > 0)
				json_object_set_new(job, "content",
				    json_stringn(buf, (size_t)n));
			close(fd);
		}
	}
	if (fail_in_place(sp, id, JS_WIP, job, msg) < 0) {
		js_spool_unlock(lk);
		json_decref(job);
		return NULL;
	}
	js_spool_unlock(lk);
	return job;
}

/*
 * A claimed job whose start time has not come (its file changed between
 * the claimer's look and its rename: a PUT of run_at) goes back to
 * .pending as it was, its times restored (a hand-written "delay" counts
 * from the mtime).  A cancel asked for in that instant (it saw a .wip and
 * left <id>.cancel) is honoured: the job ends cancelled.  -1/EAGAIN when
 * put back, -1/ENOENT when cancelled, -1 with errno on failure.
 */
static int
unclaim(struct js_spool *sp, const char *id, const struct stat *was)
{
	char pend[JS_NAME_SIZE], wip[JS_NAME_SIZE], cname[JS_NAME_SIZE];
	struct timespec ts[2];
	struct stat st;
	json_t *job;
	int lk, rc = -1, e = EAGAIN;

	js_spool_name(pend, id, "pending");
	js_spool_name(wip, id, "wip");
	js_spool_name(cname, id, "cancel");
	lk = js_spool_lock(sp, id);
	if (lk < 0)
		return -1;
	if (fstatat(sp->dirfd, cname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		job = read_json(sp, wip);
		if (job == NULL ||
		    end_in_place(sp, id, JS_WIP, job, JS_CANCELLED,
		    "cancelled before it started") < 0 ||
		    (unlinkat(sp->dirfd, cname, 0) < 0 && errno != ENOENT)) {
			e = errno;
			json_decref(job);
			goto out;
		}
		json_decref(job);
		e = ENOENT;
		goto out;
	}
	ts[0] = was->st_atim;
	ts[1] = was->st_mtim;
	if (utimensat(sp->dirfd, wip, ts, AT_SYMLINK_NOFOLLOW) < 0 ||
	    renameat2(sp->dirfd, wip, sp->dirfd, pend, RENAME_NOREPLACE) < 0 ||
	    js_spool_sync(sp) < 0)
		e = errno;
out:
	js_spool_unlock(lk);
	errno = e;
	return rc;
}

/* lib/deps' lookups in the spool (js_spool_deps): where a dependency is
 * now, under its lock so that a move is not missed (a retrieved job's
 * outcome is its status), and a pending one's file (the cycle check). */
static int
dep_outcome(const char *id, void *arg)
{
	struct js_spool *sp = arg;
	enum js_state st;
	const char *status;
	json_t *job;
	int o;

	if (js_spool_locate(sp, id, &st) < 0)
		return errno == ENOENT ? -1 : -2;
	if (st != JS_RETRIEVED)
		return (int)st;
	job = js_spool_read_state(sp, id, JS_RETRIEVED);
	if (job == NULL)
		return errno == ENOENT ? -1 : errno == EBADMSG ? JS_FAILED : -2;
	status = js_job_str(job, "status");
	o = status != NULL ? js_state_from_status(status) : -1;
	json_decref(job);
	return o == JS_COMPLETED || o == JS_CANCELLED ? o : JS_FAILED;
}

static json_t *
dep_pending(const char *id, void *arg)
{
	return js_spool_read_state(arg, id, JS_PENDING);
}

int
js_spool_deps(struct js_spool *sp, const char *id, const json_t *job,
    struct js_deps_result *r)
{
	const struct js_deps_lookup lk = { dep_outcome, dep_pending, sp };

	return js_deps_eval(id, job, &lk, r);
}

static int
deps_decide(struct js_spool *sp, const char *id, const json_t *raw,
    const struct stat *was, json_t **jobp)
{
	struct js_deps_result dr;
	char err[512];
	json_t *job;
	int lk, e;

	if (raw == NULL || !js_deps_has(raw))
		return 0;
	if (js_spool_deps(sp, id, raw, &dr) < 0) {
		e = errno;
		unclaim(sp, id, was);
		errno = e;
		return -1;
	}
	if (dr.verdict == JS_DEPS_WAIT)
		return unclaim(sp, id, was);
	if (dr.verdict == JS_DEPS_READY || dr.id[0] == '\0')
		return 0;	/* (a malformed list: the validator fails it) */
	job = js_job_normalize(raw, id, err, sizeof err);
	if (job == NULL)
		return 0;	/* not a valid job either: failed as such */
	lk = js_spool_lock(sp, id);
	if (lk < 0 || fail_in_place(sp, id, JS_WIP, job, dr.why) < 0) {
		e = errno;
		if (lk >= 0)
			js_spool_unlock(lk);
		json_decref(job);
		errno = e;
		return -1;	/* left as an unstarted .wip: lease recovery */
	}
	js_spool_unlock(lk);
	*jobp = job;
	errno = ENOLINK;
	return -1;
}

/*
 * The claim's own look at the dependencies (lib/deps) of the job it has
 * renamed to .wip (raw as read), whatever the claimer saw: 0 to go on;
 * -1/EAGAIN when one has not ended (put back as unclaim does; ENOENT if a
 * cancel came meanwhile); -1/ENOLINK when one ended without success: the
 * job is <id>.failed with an error naming it, *jobp holds it; -1 with
 * errno if they could not be looked at (put back).  raw is freed when
 * it returns -1.
 */
static int
claim_deps(struct js_spool *sp, const char *id, json_t *raw,
    const struct stat *was, json_t **jobp)
{
	int rc = deps_decide(sp, id, raw, was, jobp), e = errno;

	if (rc < 0) {
		json_decref(raw);
		errno = e;
	}
	return rc;
}

/* js_spool_claim; with keep (not NULL) the claimed <id>.wip it read stays
 * open, *keep its descriptor, when it returns 0 and when it returns -1
 * having read a job (the caller closes it then). */
static int
claim_body(struct js_spool *sp, const char *id, const char *worker,
    struct js_claim *c, json_t **jobp, int *keep)
{
	char pend[JS_NAME_SIZE], wip[JS_NAME_SIZE], err[512];
	json_t *raw, *job;
	long long gen;
	struct stat was;
	int64_t written;

	*jobp = NULL;
	if (js_spool_name(pend, id, "pending") < 0)
		return -1;
	js_spool_name(wip, id, "wip");
	/* when it was written: a hand-written "delay" counts from then */
	if (fstatat(sp->dirfd, pend, &was, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;	/* ENOENT: another processor won */
	written = (int64_t)was.st_mtim.tv_sec * 1000 +
	    was.st_mtim.tv_nsec / 1000000;
	/* fresh mtime first, so the new .wip never looks like an old lease */
	if (utimensat(sp->dirfd, pend, NULL, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (renameat(sp->dirfd, pend, sp->dirfd, wip) < 0)
		return -1;	/* ENOENT: another processor won */
	/* (what was pending: a crash's leftover .held is not the job) */
	raw = read_json_fd(sp, wip, keep, 0);
	if (raw == NULL && errno == ENOENT)
		return -1;
	if (raw == NULL && errno != EBADMSG) {
		/* out of descriptors or memory, an I/O error: not the job's
		 * fault.  Put it back as it was (failing that, lease recovery
		 * does, as for any claim that did not start). */
		int e = errno;
		unclaim(sp, id, &was);
		errno = e;
		return -1;
	}
	if (claim_deps(sp, id, raw, &was, jobp) < 0)
		return -1;	/* not before its dependencies allow */
	/* never before its start time (lib/sched), whatever the claimer saw */
	if (raw != NULL && !js_sched_ready(js_sched_start_ms(raw, written),
	    js_now_ms())) {
		json_decref(raw);
		return unclaim(sp, id, &was);
	}
	if (raw != NULL && json_object_get(raw, "delay") != NULL &&
	    json_object_get(raw, "run_at") == NULL &&
	    json_object_get(raw, "created_at") == NULL) {
		/* the hand-written delay as the start time it was */
		char t[JS_TIME_SIZE];
		js_time_format(js_sched_start_ms(raw, written), t);
		json_object_del(raw, "delay");
		json_object_set_new(raw, "run_at", json_string(t));
	}
	job = raw ? js_job_normalize(raw, id, err, sizeof err) : NULL;
	if (raw == NULL)
		snprintf(err, sizeof err, "%s", errno == EBADMSG ?
		    "not a JSON object (or not a regular file)" : strerror(errno));
	json_decref(raw);
	if (job == NULL) {
		*jobp = fail_invalid(sp, id, err);
		errno = EBADMSG;
		return -1;
	}
	gen = js_job_int(job, "generation", 0);
	memcpy(c->id, id, JS_ID_SIZE);
	c->generation = gen + 1;
	clear_run_fields(job);
	json_object_set_new(job, "status", json_string("running"));
	json_object_set_new(job, "attempts",
	    json_integer(js_job_int(job, "attempts", 0) + 1));
	json_object_set_new(job, "generation", json_integer(c->generation));
	json_object_set_new(job, "worker", worker ? json_string(worker) : json_null());
	js_job_set_time(job, "started_at", 0);
	js_job_set_time(job, "updated_at", 0);
	*jobp = job;
	return 0;
}

int
js_spool_claim(struct js_spool *sp, const char *id, const char *worker,
    struct js_claim *c, json_t **jobp)
{
	return claim_body(sp, id, worker, c, jobp, NULL);
}

int
js_spool_claim_pin(struct js_spool *sp, const char *id, const char *worker,
    struct js_claim *c, json_t **jobp, struct js_pin *pin)
{
	int fd = -1, rc, saved;

	pin->wip = -1;
	rc = claim_body(sp, id, worker, c, jobp, &fd);
	saved = errno;
	if (rc == 0)
		pin->wip = fd;
	else if (fd >= 0)
		close(fd);
	errno = saved;
	return rc;
}

/* Whether SPOOL/<name> (in the directory dfd) is the file open as fd: the
 * same inode, which cannot name another file while fd holds it open. */
static int
same_file(int dfd, const char *name, int fd)
{
	struct stat a, b;

	if (fd < 0 || fstat(fd, &a) < 0 ||
	    fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Under the job's lock: reads <id>.wip and checks the claim still holds:
 * its generation is want and, if running is set, its own status field says
 * "running" (a recovered job waiting in a new claimer's .wip says
 * "pending" and may carry the same generation). */
static int
check_claim(struct js_spool *sp, const char *id, long long want, int running)
{
	char name[JS_NAME_SIZE];
	const char *status;
	json_t *cur;
	int ok;

	js_spool_name(name, id, "wip");
	cur = read_json(sp, name);
	if (cur == NULL) {
		if (errno == ENOENT)
			errno = ESTALE;
		return -1;
	}
	status = js_job_str(cur, "status");
	ok = js_job_int(cur, "generation", 0) == want &&
	    (!running || (status != NULL && strcmp(status, "running") == 0));
	json_decref(cur);
	if (!ok) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

int
js_spool_start(struct js_spool *sp, const struct js_claim *c, json_t *job)
{
	/* js_spool_start_pin with nothing pinned: the claim is checked by
	 * reading <id>.wip, the claimed file kept as <id>.held and the
	 * record's data not synced, as for a processor's own start */
	struct js_pin pin = { -1 };
	int rc = js_spool_start_pin(sp, c, job, &pin);

	js_spool_unpin(&pin);
	return rc;
}

/* check_claim, done by one fstatat when <id>.wip is still the file open
 * as pin (the one the caller wrote or claimed: nobody changes a job file in
 * place, every change replaces it). */
static int
check_claim_pin(struct js_spool *sp, const char *id, long long want,
    int running, int pin)
{
	char name[JS_NAME_SIZE];

	js_spool_name(name, id, "wip");
	if (same_file(sp->dirfd, name, pin))
		return 0;
	return check_claim(sp, id, want, running);
}

int
js_spool_start_pin(struct js_spool *sp, const struct js_claim *c, json_t *job,
    struct js_pin *pin)
{
	char wip[JS_NAME_SIZE], tmpname[JS_NAME_SIZE], *text;
	size_t len;
	int lk, fd = -1, rc = -1, saved;

	if (!js_id_valid(c->id)) {
		errno = EINVAL;
		return -1;
	}
	if ((text = js_job_dump(job, &len)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	js_spool_name(wip, c->id, "wip");
	lk = js_spool_lock(sp, c->id);
	/* relaxed: the directory is not synced; nor is the file's data when
	 * the claimed file (whose data is on disk) is kept as <id>.held: it
	 * stands in for a start record a power loss emptied (read_held).
	 * Without it (a filesystem without hard links) the data is synced,
	 * the new .wip holding the only copy of the job.  A volatile spool
	 * keeps no copy: a power loss may take the job from it. */
	if (lk >= 0 && check_claim_pin(sp, c->id, c->generation - 1, 0,
	    pin->wip) == 0 &&
	    write_tmp_fd(sp, text, len, tmpname,
	    sp->nosync || hold(sp, c->id) == 0, &fd) == 0) {
		switch (exchange_in(sp->tmpfd, tmpname, sp->dirfd, wip)) {
		case 1:
			(void)unlinkat(sp->tmpfd, tmpname, 0);
			/* FALLTHROUGH */
		case 0:
			rc = 0;
			break;
		default:
			saved = errno;
			close(fd);
			(void)unlinkat(sp->tmpfd, tmpname, 0);
			errno = saved;
		}
	}
	saved = errno;
	js_spool_unlock(lk);
	free(text);
	if (rc == 0) {
		if (pin->wip >= 0)
			close(pin->wip);
		pin->wip = fd;
	}
	errno = saved;
	return rc;
}

int
js_spool_start_open(struct js_spool *sp, const struct js_claim *c,
    json_t *job, const struct js_pin *pin, struct js_start *st)
{
	int saved;

	memset(st, 0, sizeof *st);
	st->lock = st->fd = -1;
	if (!js_id_valid(c->id)) {
		errno = EINVAL;
		return -1;
	}
	/* the child adds them at the end, after the text */
	json_object_del(job, "pid");
	json_object_del(job, "pid_start");
	if ((st->text = js_job_dump(job, &st->len)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* the text up to (not including) the closing brace */
	while (st->len > 0 && st->text[st->len - 1] != '}')
		st->len--;
	if (st->len < 2 || st->text[0] != '{') {
		free(st->text);
		errno = EINVAL;
		return -1;
	}
	st->len--;
	st->tmpdir = sp->tmpfd;
	st->dir = sp->dirfd;
	js_spool_name(st->wip, c->id, "wip");
	st->lock = js_spool_lock(sp, c->id);
	/* as js_spool_start_pin: the data is synced only when the claimed
	 * file cannot be kept as <id>.held; the file is made empty, kept
	 * open for the child to write */
	if (st->lock >= 0 && check_claim_pin(sp, c->id, c->generation - 1, 0,
	    pin->wip) == 0) {
		st->sync = !sp->nosync && hold(sp, c->id) != 0;
		if (write_tmp_fd(sp, "", 0, st->tmpname, 1, &st->fd) == 0)
			return 0;
	}
	saved = errno;
	js_spool_unlock(st->lock);
	free(st->text);
	st->text = NULL;
	st->lock = st->fd = -1;
	errno = saved;
	return -1;
}

/* Appends ,"key":<v> to tail at *n (no comma when first): only memcpy,
 * async-signal-safe. */
static void
put_field(char *tail, size_t *n, int first, const char *key,
    unsigned long long v)
{
	char num[24], *p = num + sizeof num;
	size_t kl = strlen(key), k;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	k = (size_t)(num + sizeof num - p);
	if (!first)
		tail[(*n)++] = ',';
	tail[(*n)++] = '"';
	memcpy(tail + *n, key, kl);
	*n += kl;
	tail[(*n)++] = '"';
	tail[(*n)++] = ':';
	memcpy(tail + *n, p, k);
	*n += k;
}

int
js_spool_start_write(struct js_start *st, int pid, long long pid_start)
{
	/* ,"pid":<int>,"pid_start":<int>}\n */
	char tail[96];
	struct iovec iov[2];
	size_t n = 0, off = 0, total;
	ssize_t w;

	put_field(tail, &n, st->len <= 1, "pid", (unsigned long long)pid);
	if (pid_start >= 0)
		put_field(tail, &n, 0, "pid_start",
		    (unsigned long long)pid_start);
	tail[n++] = '}';
	tail[n++] = '\n';
	total = st->len + n;
	while (off < total) {
		int i = 0;
		if (off < st->len) {
			iov[i].iov_base = st->text + off;
			iov[i++].iov_len = st->len - off;
			iov[i].iov_base = tail;
			iov[i++].iov_len = n;
		} else {
			iov[i].iov_base = tail + (off - st->len);
			iov[i++].iov_len = total - off;
		}
		w = writev(st->fd, iov, i);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		off += (size_t)w;
	}
	if (st->sync && fsync(st->fd) < 0)
		return -1;
	if ((st->exchanged = exchange_in(st->tmpdir, st->tmpname, st->dir,
	    st->wip)) < 0) {
		st->exchanged = 0;
		return -1;
	}
	st->pid = pid;
	st->pid_start = pid_start;
	st->written = 1;
	return 0;
}

int
js_spool_start_close(struct js_start *st, json_t *job, struct js_pin *pin)
{
	int saved = errno;

	js_spool_unlock(st->lock);
	st->lock = -1;
	free(st->text);
	st->text = NULL;
	if (!st->written) {
		if (st->fd >= 0) {
			close(st->fd);
			unlinkat(st->tmpdir, st->tmpname, 0);
		}
		st->fd = -1;
		errno = saved;
		return -1;
	}
	if (st->exchanged)	/* the old <id>.wip (still <id>.held) */
		(void)unlinkat(st->tmpdir, st->tmpname, 0);
	json_object_set_new(job, "pid", json_integer(st->pid));
	if (st->pid_start >= 0)
		json_object_set_new(job, "pid_start",
		    json_integer((json_int_t)st->pid_start));
	if (pin->wip >= 0)
		close(pin->wip);
	pin->wip = st->fd;
	st->fd = -1;
	errno = saved;
	return 0;
}

void
js_spool_unpin(struct js_pin *pin)
{
	if (pin->wip >= 0)
		close(pin->wip);	/* read-only use: nothing to flush */
	pin->wip = -1;
}

int
js_spool_annotate(struct js_spool *sp, const char *id, long long generation,
    const char *key, json_t *value)
{
	char wip[JS_NAME_SIZE];
	json_t *cur;
	int lk, rc = -1, saved;

	if (js_spool_name(wip, id, "wip") < 0 || key == NULL || value == NULL) {
		errno = EINVAL;
		return -1;
	}
	lk = js_spool_lock(sp, id);
	if (lk < 0)
		return -1;
	if (check_claim(sp, id, generation, 1) == 0 &&
	    (cur = read_json(sp, wip)) != NULL) {
		if (json_object_set(cur, key, value) == 0)
			rc = write_job(sp, wip, cur, JS_RELAXED);
		else
			errno = ENOMEM;
		saved = errno;
		json_decref(cur);
		errno = saved;
	}
	saved = errno;
	js_spool_unlock(lk);
	errno = saved;
	return rc;
}

int
js_spool_heartbeat(struct js_spool *sp, const char *id)
{
	char wip[JS_NAME_SIZE];

	if (js_spool_name(wip, id, "wip") < 0)
		return -1;
	return utimensat(sp->dirfd, wip, NULL, AT_SYMLINK_NOFOLLOW);
}

int
js_spool_heartbeat_gen(struct js_spool *sp, const char *id,
    long long generation)
{
	char wip[JS_NAME_SIZE];
	int lk, rc = -1, saved;

	if (js_spool_name(wip, id, "wip") < 0)
		return -1;
	lk = js_spool_lock(sp, id);
	if (lk < 0)
		return -1;
	if (check_claim(sp, id, generation, 1) == 0)
		rc = utimensat(sp->dirfd, wip, NULL, AT_SYMLINK_NOFOLLOW);
	saved = errno;
	js_spool_unlock(lk);
	errno = saved;
	return rc;
}

int
js_spool_log_append(struct js_spool *sp, const char *id, long long generation,
    uint64_t offset, const void *buf, size_t len, uint64_t *size)
{
	struct stat st;
	uint64_t cur, skip;
	int lk, fd = -1, rc = -1, saved;

	lk = js_spool_lock_id(sp, id);
	if (lk < 0)
		return -1;
	if (check_claim(sp, id, generation, 1) < 0)
		goto out;
	/* the log is created by a write only: a call that writes nothing
	 * (the upload route's first check) or is refused leaves none */
	fd = js_spool_log_open(sp, id, 0);
	if (fd < 0 && errno != ENOENT)
		goto out;
	if (fd >= 0 && fstat(fd, &st) < 0)
		goto out;
	cur = fd >= 0 ? (uint64_t)st.st_size : 0;
	if (size != NULL)
		*size = cur;
	if (offset > cur) {
		errno = ERANGE;		/* a gap: bytes before offset are missing */
		goto out;
	}
	skip = cur - offset;	/* already stored: a resumed upload */
	if (skip < len) {
		int created = fd < 0;
		if (fd >= 0)
			close(fd);
		/* O_APPEND, O_NOFOLLOW, 0640; under the job's lock and claim
		 * nobody else appends */
		fd = js_spool_log_open(sp, id, 1);
		if (fd < 0)
			goto out;
		if (js_write_all(fd, (const char *)buf + skip,
		    len - (size_t)skip) < 0) {
			/* a log this call created holds nothing it stored
			 * (a full disk): it goes again */
			if (created) {
				char name[JS_NAME_SIZE];
				saved = errno;
				js_spool_name(name, id, "log");
				(void)unlinkat(sp->dirfd, name, 0);
				errno = saved;
			}
			goto out;
		}
		cur += len - (size_t)skip;
		if (size != NULL)
			*size = cur;
	}
	rc = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	js_spool_unlock(lk);
	errno = saved;
	return rc;
}

/* Removes what a run leaves once its final file is in place: <id>.wip,
 * <id>.held, <id>.cancel.  Caller holds the lock. */
static int
finish_remove(struct js_spool *sp, const char *id)
{
	if (remove_side(sp, id, "wip") < 0)
		return -1;
	drop_held(sp, id);
	return remove_side(sp, id, "cancel");
}

int
js_spool_final_ahead(struct js_spool *sp, const struct js_claim *c,
    json_t *job, enum js_state state, struct js_final *fin)
{
	json_t *copy;
	char *text;
	size_t len;
	int rc, saved;

	fin->fd = -1;
	fin->job = job;
	fin->set = NULL;
	if (state != JS_COMPLETED && state != JS_FAILED && state != JS_CANCELLED) {
		errno = EINVAL;
		return -1;
	}
	fin->state = state;
	/* the final fields go into job only once the file is in place (a
	 * finish refused leaves the job as it was); the file has them */
	if ((fin->set = json_object()) == NULL || (copy = json_copy(job)) ==
	    NULL) {
		errno = ENOMEM;
		goto fail;
	}
	json_object_set_new(fin->set, "status",
	    json_string(js_state_status(state)));
	json_object_set_new(fin->set, "generation",
	    json_integer(c->generation));
	js_job_set_time(fin->set, "finished_at", 0);
	js_job_set_time(fin->set, "updated_at", 0);
	json_object_update(copy, fin->set);
	text = js_job_dump(copy, &len);
	json_decref(copy);
	if (text == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	rc = write_tmp_fd(sp, text, len, fin->tmpname, 1, &fin->fd);
	saved = errno;
	free(text);
	errno = saved;
	if (rc < 0) {
		fin->fd = -1;	/* (write_tmp_fd left nothing) */
		goto fail;
	}
	/* the write to the disk starts now, and the sync of the final file
	 * (js_spool_finish_final) waits for less; a hint: the sync writes
	 * whatever this did not */
	if (!sp->nosync)
		(void)sync_file_range(fin->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
fail:
	js_spool_final_drop(sp, fin);	/* (keeps errno) */
	return -1;
}

void
js_spool_final_drop(struct js_spool *sp, struct js_final *fin)
{
	int e = errno;

	json_decref(fin->set);
	fin->set = NULL;
	if (fin->fd >= 0) {
		(void)close(fin->fd);
		fin->fd = -1;
		(void)unlinkat(sp->tmpfd, fin->tmpname, 0);
	}
	errno = e;
}

/* Syncs fin's data and renames it into place as the job's final file,
 * under the job's lock and while the claim (checked by pin,
 * check_claim_pin) holds, with the durability of flags (JS_RELAXED: the
 * directory not synced, and <id>.wip left for js_spool_finish_done).  fin
 * is used up either way. */
int
js_spool_finish_final(struct js_spool *sp, const struct js_claim *c,
    struct js_final *fin, const struct js_pin *pin, int flags)
{
	char name[JS_NAME_SIZE];
	int durable = !(flags & JS_RELAXED) && !sp->nosync;
	int lk, rc = -1, e;

	if (fin->fd < 0) {
		js_spool_final_drop(sp, fin);
		errno = EINVAL;
		return -1;
	}
	if ((lk = js_spool_lock_id(sp, c->id)) < 0) {
		js_spool_final_drop(sp, fin);
		return -1;
	}
	if (check_claim_pin(sp, c->id, c->generation, 1,
	    pin != NULL ? pin->wip : -1) < 0) {
		lost_held(sp, c->id);
		goto out;
	}
	if (durable)
		dirsync_writing(&sp->ds, 1);
	js_spool_name(name, c->id, js_state_ext(fin->state));
	if (sp->nosync || fsync(fin->fd) == 0) {
		e = close(fin->fd);
		fin->fd = -1;	/* (closed even when close fails) */
		if (e < 0)
			unlink_keep_errno(sp->tmpfd, fin->tmpname);
		else if ((rc = publish(sp, fin->tmpname, name, 0)) == 0)
			json_object_update(fin->job, fin->set);
	}
	if (durable) {
		e = errno;
		dirsync_writing(&sp->ds, -1);
		errno = e;
	}
	/* relaxed: the job stays running to every lookup (which finds
	 * <id>.wip first) until the caller's directory sync has made the
	 * final file durable (js_spool_finish_done) */
	if (rc == 0 && !(flags & JS_RELAXED) && (js_spool_sync(sp) < 0 ||
	    finish_remove(sp, c->id) < 0))
		rc = -1;
out:
	js_spool_final_drop(sp, fin);	/* (keeps errno) */
	js_spool_unlock(lk);
	return rc;
}

/* js_spool_finish, checking the claim by pin (-1: by its content). */
static int
finish_at(struct js_spool *sp, const struct js_claim *c, json_t *job,
    enum js_state state, int pin, int flags)
{
	struct js_final fin;
	struct js_pin p = { pin };

	if (js_spool_final_ahead(sp, c, job, state, &fin) < 0)
		return -1;
	return js_spool_finish_final(sp, c, &fin, &p, flags);
}

int
js_spool_finish(struct js_spool *sp, const struct js_claim *c, json_t *job,
    enum js_state state)
{
	return finish_at(sp, c, job, state, -1, JS_DURABLE);
}

int
js_spool_finish_pin(struct js_spool *sp, const struct js_claim *c,
    json_t *job, enum js_state state, const struct js_pin *pin, int flags)
{
	return finish_at(sp, c, job, state, pin->wip, flags);
}

int
js_spool_finish_done(struct js_spool *sp, const struct js_claim *c,
    const struct js_pin *pin)
{
	int lk, rc = 0;

	if ((lk = js_spool_lock_id(sp, c->id)) < 0)	/* (EINVAL: bad id) */
		return -1;
	/* only while <id>.wip is still the run's own file: one replaced
	 * meanwhile (an annotation of the job seen running, a recovery)
	 * is left to lease recovery, which removes a .wip beside a final
	 * file, and its .held and .cancel with it */
	if (check_claim_pin(sp, c->id, c->generation, 1, pin->wip) == 0)
		rc = finish_remove(sp, c->id);
	else if (errno != ESTALE)	/* (ESTALE: gone, or another's) */
		rc = -1;
	js_spool_unlock(lk);
	return rc;
}

/* Rewrites <id>.wip as pending content and renames it to <id>.pending;
 * caller holds the lock. */
static int
wip_to_pending(struct js_spool *sp, const char *id, json_t *job)
{
	char wip[JS_NAME_SIZE], pend[JS_NAME_SIZE];

	js_spool_name(wip, id, "wip");
	js_spool_name(pend, id, "pending");
	json_object_set_new(job, "status", json_string("pending"));
	json_object_set_new(job, "worker", json_null());
	json_object_set_new(job, "started_at", json_null());
	json_object_set_new(job, "pid", json_null());
	json_object_set_new(job, "pid_start", json_null());
	js_job_set_time(job, "updated_at", 0);
	/* the one directory fsync below covers both renames */
	if (write_job(sp, wip, job, JS_RELAXED) < 0)
		return -1;
	if (renameat(sp->dirfd, wip, sp->dirfd, pend) < 0)
		return -1;
	drop_held(sp, id);
	return js_spool_sync(sp);
}

int
js_spool_requeue(struct js_spool *sp, const struct js_claim *c, json_t *job,
    int give_back_attempt, int64_t not_before_ms)
{
	struct js_pin none = { -1 };

	return js_spool_requeue_pin(sp, c, job, give_back_attempt,
	    not_before_ms, &none);
}

int
js_spool_requeue_pin(struct js_spool *sp, const struct js_claim *c,
    json_t *job, int give_back_attempt, int64_t not_before_ms,
    const struct js_pin *pin)
{
	int lk, rc = -1;

	lk = js_spool_lock_id(sp, c->id);
	if (lk < 0)
		return -1;
	if (check_claim_pin(sp, c->id, c->generation, 0, pin->wip) < 0) {
		lost_held(sp, c->id);
		goto out;
	}
	if (give_back_attempt) {
		long long a = js_job_int(job, "attempts", 1);
		json_object_set_new(job, "attempts", json_integer(a > 0 ? a - 1 : 0));
	}
	json_object_set_new(job, "generation", json_integer(c->generation + 1));
	json_object_set_new(job, "not_before",
	    not_before_ms > 0 ? json_integer(not_before_ms) : json_null());
	rc = wip_to_pending(sp, c->id, job);
out:
	js_spool_unlock(lk);
	return rc;
}

/* Ends the lost run of job (read from id's .wip, under its lock): cancelled
 * if its cancel was asked for, failed if it has used all its attempts,
 * else pending again.  Each is a new generation: the lost run's late
 * finish (a remote worker retrying it) must not pass for its own.
 * 1 done, -1 error. */
static int
recover_end(struct js_spool *sp, const char *id, json_t *job)
{
	char cname[JS_NAME_SIZE], msg[512];
	const char *worker = js_job_str(job, "worker");
	struct stat st;
	int rc;

	if (worker == NULL)
		worker = "unknown";
	json_object_set_new(job, "generation",
	    json_integer(js_job_int(job, "generation", 0) + 1));
	js_spool_name(cname, id, "cancel");
	if (fstatat(sp->dirfd, cname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* its cancel was asked for and the processor is gone: the
		 * job ends cancelled instead of running again */
		snprintf(msg, sizeof msg, "cancelled; its processor (%s) "
		    "stopped heartbeating before it stopped the job", worker);
		rc = end_in_place(sp, id, JS_WIP, job, JS_CANCELLED, msg) < 0 ?
		    -1 : 1;
		if (rc == 1 && unlinkat(sp->dirfd, cname, 0) < 0 &&
		    errno != ENOENT)
			rc = -1;
		return rc;
	}
	if (js_job_int(job, "attempts", 0) >=
	    js_job_int(job, "max_attempts", 3)) {
		snprintf(msg, sizeof msg, "lease expired: its processor (%s) "
		    "stopped heartbeating, and the job has used all %lld "
		    "attempts (max_attempts)", worker,
		    js_job_int(job, "max_attempts", 3));
		return fail_in_place(sp, id, JS_WIP, job, msg) < 0 ? -1 : 1;
	}
	snprintf(msg, sizeof msg, "attempt %lld lost: its processor (%s) "
	    "stopped heartbeating; requeued", js_job_int(job, "attempts", 0),
	    worker);
	json_object_set_new(job, "error", json_string(msg));
	return wip_to_pending(sp, id, job) < 0 ? -1 : 1;
}

/* Recovers one stale .wip under its lock. Returns 1 if recovered, 0 if
 * not (fresh again, gone), -1 on error. */
static int
recover_one(struct js_spool *sp, const char *id, int64_t lease_ms,
    js_recover_fn fn, void *arg)
{
	char name[JS_NAME_SIZE];
	struct stat st;
	json_t *job;
	int lk, rc = 0, s;
	int64_t mtime;

	lk = js_spool_lock(sp, id);
	if (lk < 0)
		return -1;
	js_spool_name(name, id, "wip");
	if (fstatat(sp->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		goto out;	/* finished or recovered meanwhile */
	mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	if (!js_sched_lease_expired(mtime, lease_ms, js_now_ms()))
		goto out;	/* heartbeat came in */
	/* crash between writing the result and removing .wip: what the
	 * finish would have removed goes (.wip, .held, .cancel) */
	for (s = JS_COMPLETED; s < JS_NSTATES; s++) {
		char fin[JS_NAME_SIZE];
		js_spool_name(fin, id, js_state_ext((enum js_state)s));
		if (fstatat(sp->dirfd, fin, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			rc = finish_remove(sp, id) < 0 ? -1 : 1;
			goto out;
		}
	}
	job = read_json(sp, name);
	if (job == NULL) {
		if (errno == ENOENT)
			goto out;
		js_spool_unlock(lk);
		lk = -1;
		json_decref(fail_invalid(sp, id, "unreadable after its "
		    "processor was lost"));
		return 1;
	}
	if (fn != NULL)
		fn(id, job, arg);
	rc = recover_end(sp, id, job);
	json_decref(job);
out:
	js_spool_unlock(lk);
	return rc;
}

int
js_spool_recover_job(struct js_spool *sp, const char *id, int64_t lease_ms,
    js_recover_fn fn, void *arg)
{
	if (!js_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	return recover_one(sp, id, lease_ms, fn, arg);
}

int
js_spool_recover(struct js_spool *sp, int64_t lease_ms, js_recover_fn fn,
    void *arg)
{
	struct js_entry *v;
	size_t n, i;
	int count = 0, r, failed = 0, saved = 0;
	int64_t now = js_now_ms();

	if (js_spool_list(sp, JS_STATE_BIT(JS_WIP), JS_LIST_STAT, &v, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!js_sched_lease_expired(v[i].mtime_ms, lease_ms, now))
			continue;
		r = recover_one(sp, v[i].id, lease_ms, fn, arg);
		if (r < 0) {
			failed = 1;
			saved = errno;
		} else {
			count += r;
		}
	}
	free(v);
	if (failed && count == 0) {
		errno = saved;
		return -1;
	}
	return count;
}

int
js_spool_cancel_requested(struct js_spool *sp, const char *id)
{
	char name[JS_NAME_SIZE];
	struct stat st;

	if (js_spool_name(name, id, "cancel") < 0)
		return -1;
	if (fstatat(sp->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* Swaps the content of <id>.pending for job's, never creating it: -1/ENOENT
 * if a processor claimed it meanwhile (no second .pending appears).
 * Caller holds the lock. */
static int
replace_pending(struct js_spool *sp, const char *name, const json_t *job)
{
	char tmpname[JS_NAME_SIZE];
	size_t len;
	char *text;
	int saved;

	text = js_job_dump(job, &len);
	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (write_tmp(sp, text, len, tmpname) < 0) {
		saved = errno;
		free(text);
		errno = saved;
		return -1;
	}
	free(text);
	if (renameat2(sp->tmpfd, tmpname, sp->dirfd, name, RENAME_EXCHANGE) < 0) {
		saved = errno;
		unlinkat(sp->tmpfd, tmpname, 0);
		errno = saved;
		return -1;
	}
	unlinkat(sp->tmpfd, tmpname, 0);	/* the old content */
	return js_spool_sync(sp);
}

/* Cancels a pending job as the edited job: its content is written to
 * tmp/ first (a full disk refuses the cancel with the job still pending),
 * then the rename .pending -> .cancelled is the same race as a claim (one
 * wins; -1/ENOENT if the claim did), then the edited content replaces the
 * file (failing that, the job is put back pending).  Caller holds the
 * lock. */
static int
cancel_pending(struct js_spool *sp, const char *id, json_t *job)
{
	char pend[JS_NAME_SIZE], canc[JS_NAME_SIZE], tmpname[JS_NAME_SIZE];
	char *text = NULL;
	size_t len;
	int rc, saved;

	js_spool_name(pend, id, "pending");
	js_spool_name(canc, id, "cancelled");
	if (json_object_set_new(job, "status", json_string("cancelled")) < 0 ||
	    (!json_is_string(json_object_get(job, "error")) &&
	    json_object_set_new(job, "error", json_string("cancelled")) < 0) ||
	    js_job_set_time(job, "finished_at", 0) < 0 ||
	    js_job_set_time(job, "updated_at", 0) < 0 ||
	    (text = js_job_dump(job, &len)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = write_tmp(sp, text, len, tmpname);
	saved = errno;
	free(text);
	if (rc < 0) {
		errno = saved;
		return -1;
	}
	if (renameat2(sp->dirfd, pend, sp->dirfd, canc, RENAME_NOREPLACE) < 0 &&
	    (errno != EINVAL || renameat(sp->dirfd, pend, sp->dirfd, canc) < 0)) {
		saved = errno;
		unlinkat(sp->tmpfd, tmpname, 0);
		errno = saved;
		return -1;
	}
	if (publish(sp, tmpname, canc, 0) < 0) {
		saved = errno;
		(void)renameat(sp->dirfd, canc, sp->dirfd, pend);
		errno = saved == ENOENT ? EIO : saved;	/* not "claimed" */
		return -1;
	}
	return js_spool_sync(sp);
}

/* Carries out act (JS_EDIT_*, not NONE) on job, read in state *st under
 * id's lock: 0 done (*st is the new state), -1 with errno, 1 if the
 * .pending file was claimed meanwhile (the caller reads it again). */
static int
edit_apply(struct js_spool *sp, const char *id, json_t *job, int act,
    enum js_state *st)
{
	char name[JS_NAME_SIZE];
	const char *why;
	int rc;

	if (act != JS_EDIT_WRITE && act != JS_EDIT_CANCEL) {
		errno = EINVAL;
		return -1;
	}
	js_spool_name(name, id, js_state_ext(*st));
	if (act == JS_EDIT_WRITE && *st == JS_WIP) {
		errno = EBUSY;	/* its processor owns the file */
		return -1;
	}
	if (act == JS_EDIT_WRITE && *st != JS_PENDING)
		return write_job(sp, name, job, 0);	/* final files change
							 * only under this lock */
	if (act == JS_EDIT_CANCEL && *st == JS_WIP) {
		/* a request for its processor, which holds the file; one
		 * already there stays as it is */
		why = js_job_str(job, "error");
		if (why == NULL)
			why = "cancel";
		js_spool_name(name, id, "cancel");
		rc = js_spool_write_file(sp, name, why, strlen(why),
		    JS_WRITE_NOREPLACE);
		return rc < 0 && errno == EEXIST ? 0 : rc;
	}
	if (act == JS_EDIT_CANCEL && *st != JS_PENDING) {
		errno = EALREADY;
		return -1;
	}
	if ((act == JS_EDIT_WRITE ? replace_pending(sp, name, job) :
	    cancel_pending(sp, id, job)) == 0) {
		if (act == JS_EDIT_CANCEL)
			*st = JS_CANCELLED;
		return 0;
	}
	return errno == ENOENT ? 1 : -1;
}

int
js_spool_edit(struct js_spool *sp, const char *id, js_edit_fn fn, void *arg,
    json_t **jobp, enum js_state *statep)
{
	enum js_state st;
	json_t *job = NULL;
	int lk, tries, act, rc = -1;

	if (jobp != NULL)
		*jobp = NULL;
	lk = js_spool_lock_id(sp, id);
	if (lk < 0)
		return -1;
	for (tries = 0; tries < 8; tries++) {
		/* under the lock only a claim (.pending -> .wip) can move it */
		job = js_spool_read(sp, id, &st);
		if (job == NULL)
			goto out;
		act = fn(job, st, arg);
		if (act < 0)
			goto out;
		rc = act == JS_EDIT_NONE ? 0 : edit_apply(sp, id, job, act, &st);
		if (rc <= 0)
			goto out;
		rc = -1;
		json_decref(job);	/* claimed meanwhile: decide again */
		job = NULL;
	}
	errno = EAGAIN;
out:
	if (rc == 0 && jobp != NULL) {
		*jobp = job;
		job = NULL;
	}
	if (rc == 0 && statep != NULL)
		*statep = st;
	json_decref(job);
	js_spool_unlock(lk);
	return rc;
}

/* js_spool_cancel's decision: pending and running jobs are cancelled. */
static int
cancel_edit(json_t *job, enum js_state st, void *arg)
{
	const char *reason = arg;

	if (st != JS_PENDING && st != JS_WIP) {
		errno = EALREADY;
		return -1;
	}
	if (json_object_set_new(job, "error",
	    json_string(reason ? reason : "cancelled")) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return JS_EDIT_CANCEL;
}

int
js_spool_cancel(struct js_spool *sp, const char *id, const char *reason,
    json_t **jobp)
{
	enum js_state st;
	json_t *job;

	if (jobp != NULL)
		*jobp = NULL;
	if (js_spool_edit(sp, id, cancel_edit, (void *)reason, &job, &st) < 0)
		return -1;
	if (st == JS_WIP) {
		json_decref(job);
		errno = EINPROGRESS;
		return -1;
	}
	if (jobp != NULL)
		*jobp = job;
	else
		json_decref(job);
	return 0;
}

json_t *
js_spool_retrieve(struct js_spool *sp, const char *id)
{
	char from[JS_NAME_SIZE], to[JS_NAME_SIZE];
	enum js_state st;
	json_t *job = NULL;
	int lk;

	if (!js_id_valid(id)) {
		errno = EINVAL;
		return NULL;
	}
	lk = js_spool_lock(sp, id);
	if (lk < 0)
		return NULL;
	job = js_spool_read(sp, id, &st);
	if (job == NULL || st == JS_RETRIEVED)
		goto out;
	if (!(JS_FINAL_MASK & JS_STATE_BIT(st))) {
		json_decref(job);
		job = NULL;
		errno = EBUSY;
		goto out;
	}
	js_job_set_time(job, "retrieved_at", 0);
	js_spool_name(from, id, js_state_ext(st));
	js_spool_name(to, id, "retrieved");
	if (write_job(sp, to, job, 0) < 0 ||
	    (unlinkat(sp->dirfd, from, 0) < 0 && errno != ENOENT)) {
		json_decref(job);
		job = NULL;
	}
out:
	js_spool_unlock(lk);
	return job;
}

/* js_spool_update's decision: the changes, unless the job runs. */
static int
update_edit(json_t *job, enum js_state st, void *arg)
{
	char err[256];

	if (st == JS_WIP || (st != JS_PENDING && js_job_pending_only(arg))) {
		errno = EBUSY;	/* running; or it has started: too late */
		return -1;
	}
	if (js_job_update(job, arg, err, sizeof err) < 0) {
		errno = EINVAL;
		return -1;
	}
	return JS_EDIT_WRITE;
}

json_t *
js_spool_update(struct js_spool *sp, const char *id, const json_t *changes)
{
	json_t *job;

	if (js_spool_edit(sp, id, update_edit, (void *)changes, &job, NULL) < 0)
		return NULL;
	return job;
}

/* Removes the sidecars of job id (<id>.log, <id>.cancel, <id>.held), the
 * caller holding its lock: 0, or -1 with errno when one could not go (a
 * log that is a directory), the job's file then left as it was. */
static int
drop_sidecars(struct js_spool *sp, const char *id)
{
	if (remove_side(sp, id, "log") < 0 || remove_side(sp, id, "cancel") < 0)
		return -1;
	drop_held(sp, id);	/* a crash's leftover */
	return 0;
}

int
js_spool_drop_damaged(struct js_spool *sp, const char *id,
    enum js_state state)
{
	char name[JS_NAME_SIZE];
	json_t *j;
	int lk, rc = -1, saved;

	if (js_spool_name(name, id, js_state_ext(state)) < 0)
		return -1;
	if ((lk = js_spool_lock_id(sp, id)) < 0)
		return -1;
	j = read_json_fd(sp, name, NULL, 0);
	if (j != NULL) {
		json_decref(j);
		errno = EEXIST;
	} else if (errno == EBADMSG && drop_sidecars(sp, id) == 0 &&
	    unlinkat(sp->dirfd, name, 0) == 0) {
		rc = 0;
	}
	saved = errno;
	js_spool_unlock(lk);
	errno = saved;
	return rc;
}

int
js_spool_remove(struct js_spool *sp, const char *id)
{
	char name[JS_NAME_SIZE];
	enum js_state st;
	int lk, rc = -1;

	lk = js_spool_lock_id(sp, id);
	if (lk < 0)
		return -1;
	if (js_spool_find(sp, id, &st) < 0)
		goto out;
	if (st == JS_PENDING || st == JS_WIP) {
		errno = EBUSY;
		goto out;
	}
	/* the sidecars first: a removal that fails there (a log that is a
	 * directory) leaves the job as it was, not a log without its job */
	if (drop_sidecars(sp, id) < 0)
		goto out;
	js_spool_name(name, id, js_state_ext(st));
	if (unlinkat(sp->dirfd, name, 0) < 0)
		goto out;
	rc = js_spool_sync(sp);
out:
	js_spool_unlock(lk);
	return rc;
}

int
js_spool_log_open(struct js_spool *sp, const char *id, int write)
{
	char name[JS_NAME_SIZE];
	struct stat st;
	int fd, saved;

	if (js_spool_name(name, id, "log") < 0)
		return -1;
	if (write)	/* O_NONBLOCK: a FIFO planted as the log must not
			 * block the processor (ENXIO without a reader) */
		fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_APPEND |
		    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0640);
	else
		fd = openat(sp->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
	if (fd < 0)
		return -1;
	if ((saved = fstat(fd, &st)) < 0 || !S_ISREG(st.st_mode)) {
		saved = saved < 0 ? errno : EBADMSG;
		close(fd);
		errno = saved;
		return -1;
	}
	/* group-readable whatever the umask: the apiserver may run as another
	 * user of the spool's group */
	if ((write && (st.st_mode & 0640) != 0640 &&
	    fchmod(fd, (st.st_mode & 07777) | 0640) < 0) ||
	    fcntl(fd, F_SETFL, write ? O_APPEND : 0) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
js_spool_clean_tmp(struct js_spool *sp, int64_t age_ms, int dry_run,
    void (*fn)(const char *name, off_t size, void *arg), void *arg)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int count = 0;
	int64_t now = js_now_ms();

	d = opendir_fd(sp->tmpfd);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		int64_t mtime;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(sp->tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		mtime = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
		if (now - mtime < age_ms || S_ISDIR(st.st_mode))
			continue;
		if (!dry_run && unlinkat(sp->tmpfd, de->d_name, 0) < 0)
			continue;
		if (fn != NULL)
			fn(de->d_name, st.st_size, arg);
		count++;
	}
	closedir(d);
	return count;
}
