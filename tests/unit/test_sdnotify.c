/* Unit tests for lib/sdnotify.c: messages reach a datagram socket bound
 * at a path and in the abstract namespace, nothing is sent without
 * NOTIFY_SOCKET, bad addresses and absent listeners are errors returned
 * (never exits), and WATCHDOG_USEC/WATCHDOG_PID are read as sd_notify(3)
 * says. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "sdnotify.h"

/* A datagram socket bound at addr (NOTIFY_SOCKET's spelling). */
static int
listener(const char *addr)
{
	struct sockaddr_un un;
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	size_t n = strlen(addr);

	assert_true(fd >= 0);
	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	memcpy(un.sun_path, addr, n);
	if (addr[0] == '@') {
		un.sun_path[0] = '\0';
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&un, len), 0);
	return fd;
}

/* The next datagram on fd, NUL-terminated, or "" if none is waiting. */
static void
next_msg(int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
}

static void
test_path_socket(void **state)
{
	char *dir = tu_tempdir(), addr[256], buf[256];
	int fd;

	(void)state;
	snprintf(addr, sizeof addr, "%s/notify", dir);
	fd = listener(addr);
	setenv("NOTIFY_SOCKET", addr, 1);
	assert_int_equal(js_sd_notify("READY=1\nSTATUS=serving"), 1);
	next_msg(fd, buf, sizeof buf);
	assert_string_equal(buf, "READY=1\nSTATUS=serving");
	assert_int_equal(js_sd_notifyf("STATUS=%d jobs on %s", 3, "/spool"), 1);
	next_msg(fd, buf, sizeof buf);
	assert_string_equal(buf, "STATUS=3 jobs on /spool");
	/* one datagram per call: nothing else is waiting */
	next_msg(fd, buf, sizeof buf);
	assert_string_equal(buf, "");
	/* nobody listens any more: an error, not a silent success */
	assert_int_equal(close(fd), 0);
	errno = 0;
	assert_int_equal(js_sd_notify("STOPPING=1"), -1);
	assert_int_equal(errno, ECONNREFUSED);
	assert_int_equal(unlink(addr), 0);
	errno = 0;
	assert_int_equal(js_sd_notify("STOPPING=1"), -1);
	assert_int_equal(errno, ENOENT);
	unsetenv("NOTIFY_SOCKET");
	tu_rm_tree(dir);
}

static void
test_abstract_socket(void **state)
{
	char addr[64], buf[64];
	int fd;

	(void)state;
	snprintf(addr, sizeof addr, "@jobspool-unit-%ld", (long)getpid());
	fd = listener(addr);
	assert_int_equal(js_sd_notify_to(addr, "STOPPING=1"), 1);
	next_msg(fd, buf, sizeof buf);
	assert_string_equal(buf, "STOPPING=1");
	/* the name without its '@' is another (unbound) path: refused */
	errno = 0;
	assert_int_equal(js_sd_notify_to(addr + 1, "READY=1"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(close(fd), 0);
	/* an abstract name nobody has bound */
	errno = 0;
	assert_int_equal(js_sd_notify_to(addr, "READY=1"), -1);
	assert_int_equal(errno, ECONNREFUSED);
}

static void
test_no_manager(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(js_sd_notify("READY=1"), 0);
	assert_int_equal(js_sd_notifyf("STATUS=%s", "x"), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(js_sd_notify("READY=1"), 0);
	assert_int_equal(js_sd_notify_to(NULL, "READY=1"), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void
test_bad_address(void **state)
{
	char longp[200], longa[200];

	(void)state;
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	memcpy(longa, longp, sizeof longa);
	longa[0] = '@';
	errno = 0;
	assert_int_equal(js_sd_notify_to("relative/sock", "READY=1"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(js_sd_notify_to("@", "READY=1"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(js_sd_notify_to("vsock:2:1234", "READY=1"), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(js_sd_notify_to(longp, "READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	errno = 0;
	assert_int_equal(js_sd_notify_to(longa, "READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void
test_too_long(void **state)
{
	char *big = malloc(5000), dir_addr[64];
	int fd;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	snprintf(dir_addr, sizeof dir_addr, "@jobspool-unit-big-%ld",
	    (long)getpid());
	fd = listener(dir_addr);
	setenv("NOTIFY_SOCKET", dir_addr, 1);
	errno = 0;
	assert_int_equal(js_sd_notifyf("STATUS=%s", big), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* nothing was sent */
	assert_int_equal(recv(fd, big, 10, MSG_DONTWAIT), -1);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(close(fd), 0);
	free(big);
}

static void
test_watchdog(void **state)
{
	char pid[32];

	(void)state;
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	assert_int_equal(js_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "20000000", 1);
	assert_int_equal(js_sd_watchdog_usec(), 20000000);
	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(js_sd_watchdog_usec(), 20000000);
	/* meant for another process (the one that forked us) */
	snprintf(pid, sizeof pid, "%ld", (long)getpid() + 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(js_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "0", 1);
	assert_int_equal(js_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	assert_int_equal(js_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "10s", 1);
	assert_int_equal(js_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_socket),
		cmocka_unit_test(test_abstract_socket),
		cmocka_unit_test(test_no_manager),
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_watchdog),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
