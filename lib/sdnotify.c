/*
 * sdnotify.c - systemd's notification protocol (see sdnotify.h): one
 * datagram per message on a Unix socket named by NOTIFY_SOCKET.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "util.h"

#define SD_MSG_MAX 4096

/* addr as NOTIFY_SOCKET spells it into *un; its length in *len.  -1 with
 * errno EINVAL or ENAMETOOLONG. */
static int
sd_address(const char *addr, struct sockaddr_un *un, socklen_t *len)
{
	size_t n = strlen(addr);

	memset(un, 0, sizeof *un);
	un->sun_family = AF_UNIX;
	if (addr[0] == '@') {
		/* abstract: a leading NUL, the name, no terminating NUL */
		if (n < 2)
			return errno = EINVAL, -1;
		if (n > sizeof un->sun_path)
			return errno = ENAMETOOLONG, -1;
		memcpy(un->sun_path + 1, addr + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
		return 0;
	}
	if (addr[0] != '/')
		return errno = EINVAL, -1;
	if (n >= sizeof un->sun_path)
		return errno = ENAMETOOLONG, -1;
	memcpy(un->sun_path, addr, n + 1);
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	return 0;
}

int
js_sd_notify_to(const char *addr, const char *state)
{
	struct sockaddr_un un;
	socklen_t len;
	struct iovec iov;
	struct msghdr mh;
	ssize_t sent;
	int fd, e;

	if (addr == NULL || addr[0] == '\0')
		return 0;
	if (sd_address(addr, &un, &len) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&iov, 0, sizeof iov);
	iov.iov_base = (void *)(uintptr_t)state;
	iov.iov_len = strlen(state);
	memset(&mh, 0, sizeof mh);
	mh.msg_name = &un;
	mh.msg_namelen = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do
		sent = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	e = sent < 0 ? errno : (size_t)sent != iov.iov_len ? EMSGSIZE : 0;
	if (close(fd) < 0 && e == 0)
		e = errno;
	if (e != 0)
		return errno = e, -1;
	return 1;
}

int
js_sd_notify(const char *state)
{
	return js_sd_notify_to(getenv("NOTIFY_SOCKET"), state);
}

int
js_sd_notifyf(const char *fmt, ...)
{
	char msg[SD_MSG_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof msg)
		return errno = EMSGSIZE, -1;
	return js_sd_notify(msg);
}

uint64_t
js_sd_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long long v, p;

	if (us == NULL || js_parse_int(us, 1, INT64_MAX, &v) < 0)
		return 0;
	if (pid != NULL && pid[0] != '\0' &&
	    (js_parse_int(pid, 1, INT64_MAX, &p) < 0 || p != (long long)getpid()))
		return 0;
	return (uint64_t)v;
}
