/*
 * lossyfs - a FUSE filesystem, held in memory, that forgets on demand what
 * was not synced: the model of a power loss for the fault_power suite.
 *
 *   lossyfs MOUNTPOINT [FUSE options]      (runs in the foreground)
 *   kill -USR1 PID   power loss: every file's data goes back to what its
 *                    last fsync(2) wrote (empty if none) and every
 *                    directory's entries to what its last fsync(2) saw
 *   kill -USR2 PID   a checkpoint: everything as it is now counts as synced
 *
 * The model is the weakest POSIX promise: a file's data is durable after an
 * fsync of the file, a name (creation, rename, unlink) after an fsync of its
 * directory, nothing else.  Modes and times are kept as they are.  Each
 * loss or checkpoint is done before the next request and reported on stderr
 * ("lossyfs: dropped" / "lossyfs: checkpoint").  Single-threaded (-s is
 * added); no page cache (direct_io) and no attribute cache, so readers see
 * the dropped state at once.  Byte-range locks are the kernel's own.
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct node;
struct ent {
	char *name;
	struct node *node;
};
struct ents {
	struct ent *v;
	size_t n;
};
struct node {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	ino_t ino;
	struct timespec atime, mtime, ctime;
	char *data;		/* current data */
	size_t len;
	char *ddata;		/* what the last fsync wrote */
	size_t dlen;
	struct ents ents;	/* a directory's current entries */
	struct ents dents;	/* and those its last fsync saw */
	struct node *next;	/* every node ever made */
};

static struct node *all, *root;
static ino_t next_ino = 1;
static volatile sig_atomic_t want_drop, want_checkpoint;

static void *
xalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL) {
		perror("lossyfs");
		abort();
	}
	return p;
}

static char *
xdup(const char *s, size_t n)
{
	char *p = xalloc(n + 1);

	memcpy(p, s, n);
	return p;
}

static struct node *
node_new(mode_t mode)
{
	struct node *nd = xalloc(sizeof *nd);

	nd->mode = mode;
	nd->uid = getuid();
	nd->gid = getgid();
	nd->ino = next_ino++;
	clock_gettime(CLOCK_REALTIME, &nd->mtime);
	nd->atime = nd->ctime = nd->mtime;
	nd->next = all;
	all = nd;
	return nd;
}

static void
ents_copy(struct ents *to, const struct ents *from)
{
	size_t i;

	for (i = 0; i < to->n; i++)
		free(to->v[i].name);
	free(to->v);
	to->v = xalloc(from->n * sizeof *to->v);
	to->n = from->n;
	for (i = 0; i < from->n; i++) {
		to->v[i].name = xdup(from->v[i].name, strlen(from->v[i].name));
		to->v[i].node = from->v[i].node;
	}
}

static void
data_sync(struct node *nd)
{
	free(nd->ddata);
	nd->ddata = xdup(nd->data ? nd->data : "", nd->len);
	nd->dlen = nd->len;
}

/* the signals' work, before the next request */
static void
pending_events(void)
{
	struct node *nd;

	if (want_drop) {
		want_drop = 0;
		for (nd = all; nd != NULL; nd = nd->next) {
			if (S_ISDIR(nd->mode)) {
				ents_copy(&nd->ents, &nd->dents);
			} else {
				free(nd->data);
				nd->data = xdup(nd->ddata ? nd->ddata : "", nd->dlen);
				nd->len = nd->dlen;
			}
		}
		fprintf(stderr, "lossyfs: dropped\n");
	}
	if (want_checkpoint) {
		want_checkpoint = 0;
		for (nd = all; nd != NULL; nd = nd->next) {
			if (S_ISDIR(nd->mode))
				ents_copy(&nd->dents, &nd->ents);
			else
				data_sync(nd);
		}
		fprintf(stderr, "lossyfs: checkpoint\n");
	}
}

static struct ent *
ent_find(struct node *dir, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < dir->ents.n; i++)
		if (strlen(dir->ents.v[i].name) == len &&
		    memcmp(dir->ents.v[i].name, name, len) == 0)
			return &dir->ents.v[i];
	return NULL;
}

/* The node at path, or NULL (errno ENOENT or ENOTDIR). */
static struct node *
lookup(const char *path)
{
	struct node *nd = root;
	const char *p = path, *e;
	struct ent *en;

	pending_events();
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return nd;
		if (!S_ISDIR(nd->mode)) {
			errno = ENOTDIR;
			return NULL;
		}
		e = strchr(p, '/');
		if (e == NULL)
			e = p + strlen(p);
		en = ent_find(nd, p, (size_t)(e - p));
		if (en == NULL) {
			errno = ENOENT;
			return NULL;
		}
		nd = en->node;
		p = e;
	}
}

/* The directory holding path and the last component's name. */
static struct node *
parent(const char *path, const char **name)
{
	char *dir;
	const char *slash = strrchr(path, '/');
	struct node *nd;

	*name = slash + 1;
	dir = xdup(path, (size_t)(slash - path));
	nd = lookup(dir);
	free(dir);
	if (nd != NULL && !S_ISDIR(nd->mode)) {
		errno = ENOTDIR;
		return NULL;
	}
	return nd;
}

static void
ent_add(struct node *dir, const char *name, struct node *nd)
{
	struct ent *v = realloc(dir->ents.v, (dir->ents.n + 1) * sizeof *v);

	if (v == NULL) {
		perror("lossyfs");
		abort();
	}
	dir->ents.v = v;
	v[dir->ents.n].name = xdup(name, strlen(name));
	v[dir->ents.n].node = nd;
	dir->ents.n++;
	clock_gettime(CLOCK_REALTIME, &dir->mtime);
}

static void
ent_del(struct node *dir, struct ent *en)
{
	free(en->name);
	*en = dir->ents.v[--dir->ents.n];
	clock_gettime(CLOCK_REALTIME, &dir->mtime);
}

static int
fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct node *nd = fi && fi->fh ? (struct node *)fi->fh : lookup(path);

	pending_events();
	if (nd == NULL)
		return -errno;
	memset(st, 0, sizeof *st);
	st->st_ino = nd->ino;
	st->st_mode = nd->mode;
	st->st_nlink = S_ISDIR(nd->mode) ? 2 : 1;
	st->st_uid = nd->uid;
	st->st_gid = nd->gid;
	st->st_size = (off_t)nd->len;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((nd->len + 511) / 512);
	st->st_atim = nd->atime;
	st->st_mtim = nd->mtime;
	st->st_ctim = nd->ctime;
	return 0;
}

static int
fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
    struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct node *nd = lookup(path);
	size_t i;

	(void)off, (void)fi, (void)flags;
	if (nd == NULL)
		return -errno;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (i = 0; i < nd->ents.n; i++)
		fill(buf, nd->ents.v[i].name, NULL, 0, 0);
	return 0;
}

static int
make(const char *path, mode_t mode, struct node **out)
{
	const char *name;
	struct node *dir = parent(path, &name);

	if (dir == NULL)
		return -errno;
	if (ent_find(dir, name, strlen(name)) != NULL)
		return -EEXIST;
	*out = node_new(mode);
	ent_add(dir, name, *out);
	return 0;
}

static int
fs_mkdir(const char *path, mode_t mode)
{
	struct node *nd;

	return make(path, S_IFDIR | (mode & 07777), &nd);
}

static int
fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct node *nd;
	int rc = make(path, S_IFREG | (mode & 07777), &nd);

	if (rc == 0)
		fi->fh = (uint64_t)(uintptr_t)nd;
	return rc;
}

static int
fs_open(const char *path, struct fuse_file_info *fi)
{
	struct node *nd = lookup(path);

	if (nd == NULL)
		return -errno;
	if (fi->flags & O_TRUNC)
		nd->len = 0;
	fi->fh = (uint64_t)(uintptr_t)nd;
	fi->direct_io = 1;
	return 0;
}

static int
fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct node *nd = lookup(path);

	if (nd == NULL)
		return -errno;
	fi->fh = (uint64_t)(uintptr_t)nd;
	return 0;
}

static int
fs_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct node *nd = (struct node *)fi->fh;

	(void)path;
	pending_events();
	if ((size_t)off >= nd->len)
		return 0;
	if (size > nd->len - (size_t)off)
		size = nd->len - (size_t)off;
	memcpy(buf, nd->data + off, size);
	return (int)size;
}

static void
set_len(struct node *nd, size_t len)
{
	char *d = realloc(nd->data, len ? len : 1);

	if (d == NULL) {
		perror("lossyfs");
		abort();
	}
	if (len > nd->len)
		memset(d + nd->len, 0, len - nd->len);
	nd->data = d;
	nd->len = len;
	clock_gettime(CLOCK_REALTIME, &nd->mtime);
}

static int
fs_write(const char *path, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	struct node *nd = (struct node *)fi->fh;

	(void)path;
	pending_events();
	if (fi->flags & O_APPEND)
		off = (off_t)nd->len;
	if ((size_t)off + size > nd->len)
		set_len(nd, (size_t)off + size);
	memcpy(nd->data + off, buf, size);
	clock_gettime(CLOCK_REALTIME, &nd->mtime);
	return (int)size;
}

static int
fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node *nd = fi && fi->fh ? (struct node *)fi->fh : lookup(path);

	if (nd == NULL)
		return -errno;
	set_len(nd, (size_t)size);
	return 0;
}

static int
fs_unlink(const char *path)
{
	const char *name;
	struct node *dir = parent(path, &name);
	struct ent *en;

	if (dir == NULL)
		return -errno;
	en = ent_find(dir, name, strlen(name));
	if (en == NULL)
		return -ENOENT;
	if (S_ISDIR(en->node->mode))
		return -EISDIR;
	ent_del(dir, en);
	return 0;
}

static int
fs_rmdir(const char *path)
{
	const char *name;
	struct node *dir = parent(path, &name);
	struct ent *en;

	if (dir == NULL)
		return -errno;
	en = ent_find(dir, name, strlen(name));
	if (en == NULL)
		return -ENOENT;
	if (!S_ISDIR(en->node->mode))
		return -ENOTDIR;
	if (en->node->ents.n > 0)
		return -ENOTEMPTY;
	ent_del(dir, en);
	return 0;
}

static int
fs_rename(const char *from, const char *to, unsigned int flags)
{
	const char *fname, *tname;
	struct node *fdir = parent(from, &fname), *tdir = parent(to, &tname);
	struct ent *fe, *te;
	struct node *nd;

	if (fdir == NULL || tdir == NULL)
		return -errno;
	fe = ent_find(fdir, fname, strlen(fname));
	if (fe == NULL)
		return -ENOENT;
	te = ent_find(tdir, tname, strlen(tname));
	if (flags & RENAME_EXCHANGE) {
		if (te == NULL)
			return -ENOENT;
		nd = fe->node;
		fe->node = te->node;
		te->node = nd;
		return 0;
	}
	if (te != NULL && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (te == fe)
		return 0;
	nd = fe->node;
	clock_gettime(CLOCK_REALTIME, &nd->ctime);
	ent_del(fdir, fe);
	te = ent_find(tdir, tname, strlen(tname));	/* moved by ent_del */
	if (te != NULL)
		te->node = nd;
	else
		ent_add(tdir, tname, nd);
	return 0;
}

/* A hard link: a second name for the node (the claimed file a running
 * job keeps as <id>.held) */
static int
fs_link(const char *from, const char *to)
{
	const char *tname;
	struct node *nd = lookup(from), *tdir = parent(to, &tname);

	if (nd == NULL || tdir == NULL)
		return -errno;
	if (S_ISDIR(nd->mode))
		return -EPERM;
	if (ent_find(tdir, tname, strlen(tname)) != NULL)
		return -EEXIST;
	clock_gettime(CLOCK_REALTIME, &nd->ctime);
	ent_add(tdir, tname, nd);
	return 0;
}

static int
fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct node *nd = fi && fi->fh ? (struct node *)fi->fh : lookup(path);

	if (nd == NULL)
		return -errno;
	nd->mode = (nd->mode & S_IFMT) | (mode & 07777);
	return 0;
}

static int
fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct node *nd = fi && fi->fh ? (struct node *)fi->fh : lookup(path);

	if (nd == NULL)
		return -errno;
	if (uid != (uid_t)-1)
		nd->uid = uid;
	if (gid != (gid_t)-1)
		nd->gid = gid;
	return 0;
}

static void
set_time(struct timespec *t, const struct timespec *v)
{
	if (v->tv_nsec == UTIME_OMIT)
		return;
	if (v->tv_nsec == UTIME_NOW)
		clock_gettime(CLOCK_REALTIME, t);
	else
		*t = *v;
}

static int
fs_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
	struct node *nd = fi && fi->fh ? (struct node *)fi->fh : lookup(path);
	struct timespec now[2] = {
		{ 0, UTIME_NOW }, { 0, UTIME_NOW }
	};

	if (nd == NULL)
		return -errno;
	if (tv == NULL)
		tv = now;
	set_time(&nd->atime, &tv[0]);
	set_time(&nd->mtime, &tv[1]);
	return 0;
}

static int
fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct node *nd = fi && fi->fh ? (struct node *)fi->fh : lookup(path);

	(void)datasync;
	pending_events();
	if (nd == NULL)
		return -errno;
	if (S_ISDIR(nd->mode))
		ents_copy(&nd->dents, &nd->ents);
	else
		data_sync(nd);
	return 0;
}

static int
fs_statfs(const char *path, struct statvfs *st)
{
	(void)path;
	memset(st, 0, sizeof *st);
	st->f_bsize = st->f_frsize = 4096;
	st->f_blocks = st->f_bfree = st->f_bavail = 1 << 20;
	st->f_files = st->f_ffree = st->f_favail = 1 << 20;
	st->f_namemax = 255;
	return 0;
}

static void *
fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = 0;
	cfg->attr_timeout = 0;
	cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	cfg->kernel_cache = 0;
	cfg->use_ino = 1;
	return NULL;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_drop = 1;
	else
		want_checkpoint = 1;
}

static const struct fuse_operations ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readdir = fs_readdir,
	.mkdir = fs_mkdir,
	.create = fs_create,
	.open = fs_open,
	.opendir = fs_opendir,
	.read = fs_read,
	.write = fs_write,
	.truncate = fs_truncate,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.link = fs_link,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
	.fsync = fs_fsync,
	.fsyncdir = fs_fsync,
	.statfs = fs_statfs,
};

int
main(int argc, char **argv)
{
	struct sigaction sa;
	char **args;
	int i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || sigaction(SIGUSR2, &sa, NULL) < 0) {
		perror("lossyfs: sigaction");
		return 1;
	}
	root = node_new(S_IFDIR | 0755);
	data_sync(root);
	/* foreground, single-threaded: the signals' work is done in order */
	args = xalloc((size_t)(argc + 3) * sizeof *args);
	for (i = 0; i < argc; i++)
		args[i] = argv[i];
	args[argc] = "-f";
	args[argc + 1] = "-s";
	return fuse_main(argc + 2, args, &ops, NULL);
}
