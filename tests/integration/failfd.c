/*
 * failfd.c - an LD_PRELOAD shim for proc_edges.sh: a processor that runs
 * out of file descriptors at the moment a job's output pipe is made,
 * whatever the limit and the number of descriptors open.
 *
 * FAILFD_CTL names a file the shim reads on every pipe2 call; if its first
 * line is "emfile", that call fails with EMFILE and the file is emptied
 * (once: the next call is the real one).  The test writes the file before
 * it submits the job that is to meet it.  The real pipe2 is the next one
 * (dlsym RTLD_NEXT).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*pipe2_fn)(int[2], int);

/* 1 if the control file asks for a failure (and it is now cleared) */
static int
asked(void)
{
	const char *path = getenv("FAILFD_CTL");
	char buf[16];
	ssize_t n;
	int fd;

	if (path == NULL || (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	if (n >= 6 && memcmp(buf, "emfile", 6) == 0 && ftruncate(fd, 0) == 0) {
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

int
pipe2(int fds[2], int flags)
{
	pipe2_fn next = (pipe2_fn)dlsym(RTLD_NEXT, "pipe2");

	if (asked()) {
		errno = EMFILE;
		return -1;
	}
	if (next == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return next(fds, flags);
}
