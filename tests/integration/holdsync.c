/*
 * holdsync.c - an LD_PRELOAD shim for proc_edges.sh: a processor whose
 * directory syncs take as long as the test wants, so that the instant
 * between a result's rename and the sync that makes it durable can be
 * looked at.
 *
 * HOLDSYNC_CTL names a file the shim reads on every fsync of a directory;
 * while its first line is "hold", the fsync waits (polling every 10 ms, at
 * most 60 s), then runs.  fsync of anything else is never held.  The real
 * fsync is the next one (dlsym RTLD_NEXT).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int (*fsync_fn)(int);

/* 1 while the control file says "hold" */
static int
holding(void)
{
	const char *path = getenv("HOLDSYNC_CTL");
	char buf[8];
	ssize_t n;
	int fd;

	if (path == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	return n >= 4 && memcmp(buf, "hold", 4) == 0;
}

int
fsync(int fd)
{
	fsync_fn next = (fsync_fn)dlsym(RTLD_NEXT, "fsync");
	const struct timespec tick = { 0, 10000000L };
	struct stat st;
	int i;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		for (i = 0; i < 6000 && holding(); i++)
			(void)nanosleep(&tick, NULL);
	if (next == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return next(fd);
}
