/*
 * capture.c - running a helper program to its end and keeping what it
 * prints (see capture.h).
 *
 * posix_spawn, not fork: no copy of the caller (cheap, even for a
 * sanitizer build), and the program's own failure to start comes back as
 * its error.  Three pipes, the caller's ends non-blocking, and a pidfd of
 * the program; one poll loop feeds stdin and drains stdout and stderr
 * until both are at end of file and the program has ended (so that the
 * timeout also covers a program that closed its output but runs on), then
 * waitpid.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "util.h"

/* The caller's ends of the pipes (-1: closed) and the program. */
struct pipes {
	int in, out, err;	/* ours: write stdin, read stdout, stderr */
	int cin, cout, cerr;	/* the program's ends, until it has them */
	int pidfd;		/* readable once it has ended; -1: none
				 * (then waitpid waits without a limit) */
};

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		(void)close(*fd);	/* nothing left to flush: a pipe */
	*fd = -1;
}

static void
close_all(struct pipes *p)
{
	close_fd(&p->in);
	close_fd(&p->out);
	close_fd(&p->err);
	close_fd(&p->cin);
	close_fd(&p->cout);
	close_fd(&p->cerr);
	close_fd(&p->pidfd);
}

static int
make_pipes(struct pipes *p)
{
	int fd[2];

	if (pipe2(fd, O_CLOEXEC) < 0)
		return -1;
	p->cin = fd[0];
	p->in = fd[1];
	if (pipe2(fd, O_CLOEXEC) < 0)
		return -1;
	p->out = fd[0];
	p->cout = fd[1];
	if (pipe2(fd, O_CLOEXEC) < 0)
		return -1;
	p->err = fd[0];
	p->cerr = fd[1];
	if (fcntl(p->in, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(p->out, F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(p->err, F_SETFL, O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* Starts the program on the pipes.  0 with *pid, or an error number. */
static int
start(const struct capture_cmd *c, const struct pipes *p, pid_t *pid)
{
	static char *const no_env[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t defs, none;
	int e;

	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		return e;
	if ((e = posix_spawnattr_init(&sa)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return e;
	}
	sigemptyset(&defs);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGPIPE);
	sigemptyset(&none);
	if ((e = posix_spawn_file_actions_adddup2(&fa, p->cin, 0)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, p->cout, 1)) != 0 ||
	    (e = posix_spawn_file_actions_adddup2(&fa, p->cerr, 2)) != 0 ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0 ||
	    (e = posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)) != 0 ||
	    (e = posix_spawnattr_setpgroup(&sa, 0)) != 0 ||
	    (e = posix_spawnattr_setsigdefault(&sa, &defs)) != 0 ||
	    (e = posix_spawnattr_setsigmask(&sa, &none)) != 0)
		;	/* e says why */
	else
		e = posix_spawnp(pid, c->path, &fa, &sa, c->argv,
		    c->envp != NULL ? c->envp : no_env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	return e;
}

/* write() with SIGPIPE held back: EPIPE instead of a signal when the
 * program has closed its stdin (a SIGPIPE already pending for another
 * reason is left pending). */
static ssize_t
write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	int was_pending, e;
	ssize_t k;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
		return write(fd, buf, len);
	was_pending = sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1;
	k = write(fd, buf, len);
	e = errno;
	if (k < 0 && e == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		    errno == EINTR)
			;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return k;
}

/* Keeps what fits of n bytes in b (NULL: drop them). */
static void
keep(struct capture_buf *b, const char *data, size_t n)
{
	size_t room;

	if (b == NULL)
		return;
	b->total += n;
	room = b->size - 1 - b->len;
	if (n > room)
		n = room;
	memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

/* Reads what *fd has into b; at end of file (or a read error) closes it. */
static void
drain(int *fd, struct capture_buf *b)
{
	char chunk[16384];
	ssize_t k;

	for (;;) {
		k = read(*fd, chunk, sizeof chunk);
		if (k > 0) {
			keep(b, chunk, (size_t)k);
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		close_fd(fd);
		return;
	}
}

/* Feeds stdin from *off; closes it when all is written or the program
 * stopped reading. */
static void
feed(const struct capture_cmd *c, struct pipes *p, size_t *off)
{
	ssize_t k;

	while (*off < c->inlen) {
		k = write_nosigpipe(p->in, c->in + *off, c->inlen - *off);
		if (k > 0) {
			*off += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return;
		break;		/* EPIPE: it does not want the rest */
	}
	close_fd(&p->in);
}

/* The poll loop: until stdout and stderr are at end of file and the
 * program has ended.  0, or -1 with errno (ETIMEDOUT when the deadline
 * passed). */
static int
pump(const struct capture_cmd *c, struct pipes *p, struct capture_buf *out,
    struct capture_buf *err)
{
	int64_t deadline = c->timeout_ms > 0 ? js_mono_ms() + c->timeout_ms : 0;
	struct pollfd pf[4];
	size_t off = 0;
	int n, wait, i;

	if (c->inlen == 0)
		close_fd(&p->in);
	while (p->out >= 0 || p->err >= 0 || p->pidfd >= 0) {
		n = 0;
		if (p->pidfd >= 0)
			pf[n++] = (struct pollfd){ .fd = p->pidfd, .events = POLLIN };
		if (p->out >= 0)
			pf[n++] = (struct pollfd){ .fd = p->out, .events = POLLIN };
		if (p->err >= 0)
			pf[n++] = (struct pollfd){ .fd = p->err, .events = POLLIN };
		if (p->in >= 0)
			pf[n++] = (struct pollfd){ .fd = p->in, .events = POLLOUT };
		wait = -1;
		if (deadline != 0) {
			int64_t left = deadline - js_mono_ms();
			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			wait = left > 60000 ? 60000 : (int)left;
		}
		if (poll(pf, (nfds_t)n, wait) < 0) {
			if (errno == EINTR)
				continue;	/* the caller's handler ran */
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (pf[i].revents == 0)
				continue;
			if (pf[i].fd == p->pidfd)
				close_fd(&p->pidfd);	/* it has ended */
			else if (pf[i].fd == p->in)
				feed(c, p, &off);
			else if (pf[i].fd == p->out)
				drain(&p->out, out);
			else
				drain(&p->err, err);
		}
	}
	return 0;
}

static int
reap(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static void
reset(struct capture_buf *b)
{
	if (b == NULL)
		return;
	b->len = 0;
	b->total = 0;
	b->buf[0] = '\0';
}

int
capture_run(const struct capture_cmd *c, struct capture_buf *out,
    struct capture_buf *err, int *status)
{
	struct pipes p = { -1, -1, -1, -1, -1, -1, -1 };
	pid_t pid;
	int e, rc;

	reset(out);
	reset(err);
	if (make_pipes(&p) < 0) {
		e = errno;
		close_all(&p);
		errno = e;
		return -1;
	}
	if ((e = start(c, &p, &pid)) != 0) {
		close_all(&p);
		errno = e;
		return -1;
	}
	close_fd(&p.cin);
	close_fd(&p.cout);
	close_fd(&p.cerr);
	/* (close-on-exec; without one, e.g. ENOSYS before Linux 5.3,
	 * waitpid waits without a limit) */
	p.pidfd = pidfd_open(pid, 0);
	rc = pump(c, &p, out, err);
	e = errno;
	close_all(&p);
	if (rc < 0)
		(void)kill(-pid, SIGKILL);	/* its group: it leads it */
	if (reap(pid, status) < 0) {
		if (rc == 0)
			e = errno;
		rc = -1;
	}
	if (rc < 0)
		errno = e;
	return rc;
}
