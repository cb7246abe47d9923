/*
 * failsys.c - an LD_PRELOAD shim for api_unsent.sh: the two spool events
 * no request can cause, at the moment a route looks for a job with
 * fstatat(2) (js_spool_find).
 *
 * FAILSYS_CTL names a file the shim reads on every fstatat call; its first
 * line is a command and a name, or empty (nothing happens):
 *   eio NAME      an fstatat of the entry NAME (the last component of the
 *                 path) fails with EIO, as a failing disk would;
 *   requeue ID    before an fstatat of "ID.pending", the final job ID is
 *                 moved back to pending (renameat of ID.completed to
 *                 ID.pending in the same directory), as an admin's mv
 *                 between two spool calls of one request would; once: the
 *                 command is then cleared.
 * The test rewrites the file between requests.  The real fstatat is the
 * next one (dlsym RTLD_NEXT).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*fstatat_fn)(int, const char *, struct stat *, int);

/* The command of the control file: 0 if none. */
static int
command(char *cmd, size_t cmdlen, char *name, size_t namelen)
{
	const char *path = getenv("FAILSYS_CTL");
	char buf[256], *sp, *nl;
	ssize_t n;
	int fd;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	if ((sp = strchr(buf, ' ')) == NULL)
		return 0;
	*sp = '\0';
	snprintf(cmd, cmdlen, "%s", buf);
	snprintf(name, namelen, "%s", sp + 1);
	return 1;
}

static int
hooked(int dirfd, const char *path, struct stat *st, int flags)
{
	/* (the programs call fstatat: on x86_64 it is fstatat64 too) */
	fstatat_fn next = (fstatat_fn)dlsym(RTLD_NEXT, "fstatat");
	const char *base = strrchr(path, '/');
	char cmd[16], name[200], from[240], to[240];
	int saved = errno;

	base = base != NULL ? base + 1 : path;
	if (command(cmd, sizeof cmd, name, sizeof name)) {
		if (strcmp(cmd, "eio") == 0 && strcmp(base, name) == 0) {
			errno = EIO;
			return -1;
		}
		snprintf(from, sizeof from, "%s.pending", name);
		if (strcmp(cmd, "requeue") == 0 && strcmp(base, from) == 0) {
			const char *ctl = getenv("FAILSYS_CTL");
			int fd = open(ctl, O_WRONLY | O_TRUNC | O_CLOEXEC);
			if (fd >= 0)
				close(fd);
			snprintf(from, sizeof from, "%s.completed", name);
			snprintf(to, sizeof to, "%s.pending", name);
			if (renameat(dirfd, from, dirfd, to) < 0)
				perror("failsys: renameat");
		}
	}
	errno = saved;
	if (next == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return next(dirfd, path, st, flags);
}

int
fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	return hooked(dirfd, path, st, flags);
}
