/* Unit tests for processor/capture.c: running a helper program to its end
 * and keeping its stdout and stderr (the Slurm watcher's commands). */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "../../processor/capture.h"
#include "util.h"

/* Open descriptors of this process. */
static int
nfds(void)
{
	return tu_count("/proc/self/fd", NULL);
}

/* Runs argv (argv[0] the path) with stdin in, 4 KiB buffers; checks that
 * no descriptor stays open.  Returns capture_run's result, errno kept. */
static char obuf[4096], ebuf[4096];
static struct capture_buf out, err;

static int
run_in(char *const *argv, char *const *envp, const char *in, size_t inlen,
    int64_t timeout_ms, int *status)
{
	struct capture_cmd c;
	int before = nfds(), rc, e;

	memset(&c, 0, sizeof c);
	c.path = argv[0];
	c.argv = argv;
	c.envp = envp;
	c.in = in;
	c.inlen = inlen;
	c.timeout_ms = timeout_ms;
	out = (struct capture_buf){ obuf, sizeof obuf, 0, 0 };
	err = (struct capture_buf){ ebuf, sizeof ebuf, 0, 0 };
	rc = capture_run(&c, &out, &err, status);
	e = errno;
	assert_int_equal(nfds(), before);
	errno = e;
	return rc;
}

static int
sh(const char *script, int *status)
{
	char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };

	return run_in(argv, NULL, NULL, 0, 0, status);
}

static void
test_out_err(void **state)
{
	int status = -1;

	(void)state;
	assert_int_equal(sh("printf 'to out\\n'; printf 'to err' >&2; "
	    "printf more", &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(obuf, "to out\nmore");
	assert_int_equal(out.len, 11);
	assert_int_equal(out.total, 11);
	assert_string_equal(ebuf, "to err");
	assert_int_equal(err.total, 6);
	/* nothing printed: empty strings */
	assert_int_equal(sh(":", &status), 0);
	assert_string_equal(obuf, "");
	assert_string_equal(ebuf, "");
	assert_int_equal(out.len + err.len, 0);
}

static void
test_stdin(void **state)
{
	char *cat[] = { "/bin/cat", NULL };
	char *wc[] = { "/usr/bin/wc", "-c", NULL };
	char *tru[] = { "/bin/true", NULL };
	static char big[1 << 20];
	int status = -1;

	(void)state;
	assert_int_equal(run_in(cat, NULL, "line 1\nline 2", 13, 0, &status), 0);
	assert_string_equal(obuf, "line 1\nline 2");
	/* no stdin: end of file at once */
	assert_int_equal(run_in(cat, NULL, NULL, 0, 0, &status), 0);
	assert_string_equal(obuf, "");
	/* far more than a pipe holds, while its output is read too */
	memset(big, 'x', sizeof big);
	assert_int_equal(run_in(cat, NULL, big, sizeof big, 0, &status), 0);
	assert_true(out.total == sizeof big);
	assert_int_equal(out.len, sizeof obuf - 1);
	assert_int_equal(run_in(wc, NULL, big, sizeof big, 0, &status), 0);
	assert_int_equal(strtol(obuf, NULL, 10), (long)sizeof big);
	/* a program that never reads it: no SIGPIPE here (its default would
	 * end this test), its exit status as usual */
	assert_int_equal(run_in(tru, NULL, big, sizeof big, 0, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_status(void **state)
{
	int status = -1;

	(void)state;
	assert_int_equal(sh("echo bye; exit 3", &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
	assert_string_equal(obuf, "bye\n");
	assert_int_equal(sh("kill -USR1 $$; sleep 5", &status), 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGUSR1);
}

/* Its own process group, SIGTERM at its default even when ignored here,
 * no signal blocked, none of this process's descriptors. */
static void
test_isolation(void **state)
{
	struct sigaction ign, old;
	sigset_t term, oldmask;
	char script[64];
	int status = -1, fd;

	(void)state;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGTERM, &ign, &old), 0);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &term, &oldmask), 0);
	assert_int_equal(sh("kill -TERM $$; sleep 5", &status), 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(sigprocmask(SIG_SETMASK, &oldmask, NULL), 0);
	assert_int_equal(sigaction(SIGTERM, &old, NULL), 0);
	/* it leads a process group of its own (field 5 of its stat) */
	assert_int_equal(sh("set -- $(cat /proc/$$/stat); [ \"$5\" = $$ ]",
	    &status), 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(sh("set -- $(cat /proc/$$/stat); [ \"$5\" = $PPID ]",
	    &status), 0);
	assert_int_equal(WEXITSTATUS(status), 1);
	fd = open("/dev/null", O_RDONLY);	/* inheritable */
	assert_true(fd > 2);
	snprintf(script, sizeof script, "test -e /proc/self/fd/%d", fd);
	assert_int_equal(sh(script, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_int_equal(close(fd), 0);
}

static void
test_env(void **state)
{
	char *show[] = { "/bin/sh", "-c", "printf '%s|%s' \"$FOO\" \"${HOME-unset}\"",
	    NULL };
	char *env[] = { "FOO=bar baz", NULL };
	char *penv[] = { "/usr/bin/env", NULL };
	int status = -1;

	(void)state;
	setenv("HOME", "/home/x", 1);
	assert_int_equal(run_in(show, env, NULL, 0, 0, &status), 0);
	assert_string_equal(obuf, "bar baz|unset");
	/* NULL: an empty environment */
	assert_int_equal(run_in(penv, NULL, NULL, 0, 0, &status), 0);
	assert_string_equal(obuf, "");
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void
test_missing(void **state)
{
	char *abs[] = { "/nonexistent/jobspool-prog", NULL };
	char *name[] = { "jobspool-no-such-program-here", NULL };
	char *dir[] = { "/tmp", NULL };
	int status = -1;

	(void)state;
	errno = 0;
	assert_int_equal(run_in(abs, NULL, NULL, 0, 0, &status), -1);
	assert_int_equal(errno, ENOENT);
	assert_string_equal(obuf, "");
	assert_string_equal(ebuf, "");
	errno = 0;
	assert_int_equal(run_in(name, NULL, "in", 2, 0, &status), -1);
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_int_equal(run_in(dir, NULL, NULL, 0, 0, &status), -1);
	assert_int_equal(errno, EACCES);
	/* looked up in PATH */
	{
		char *echo[] = { "echo", "found", NULL };
		assert_int_equal(run_in(echo, NULL, NULL, 0, 0, &status), 0);
		assert_string_equal(obuf, "found\n");
	}
}

static void
test_timeout(void **state)
{
	char *hang[] = { "/bin/sh", "-c", "echo started; sleep 30", NULL };
	/* a child that keeps the pipes open after its parent is gone, and
	 * one that closed its output but runs on: killed too */
	char *orphan[] = { "/bin/sh", "-c", "sleep 30 & exit 0", NULL };
	char *closed[] = { "/bin/sh", "-c", "exec >&- 2>&- <&-; sleep 30",
	    NULL };
	char *quick[] = { "/bin/sh", "-c", "exit 4", NULL };
	int64_t t0;
	int status = -1;

	(void)state;
	t0 = js_mono_ms();
	errno = 0;
	assert_int_equal(run_in(hang, NULL, NULL, 0, 300, &status), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_string_equal(obuf, "started\n");
	assert_true(js_mono_ms() - t0 >= 300);
	assert_true(js_mono_ms() - t0 < 10000);
	t0 = js_mono_ms();
	errno = 0;
	assert_int_equal(run_in(orphan, NULL, NULL, 0, 300, &status), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(js_mono_ms() - t0 < 10000);
	t0 = js_mono_ms();
	errno = 0;
	assert_int_equal(run_in(closed, NULL, NULL, 0, 300, &status), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(WIFSIGNALED(status));
	assert_true(js_mono_ms() - t0 < 10000);
	/* a limit that is not reached changes nothing */
	assert_int_equal(run_in(quick, NULL, NULL, 0, 20000, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 4);
}

/* 10 MB on each stream through 4 KiB buffers: kept up to the buffer,
 * counted to the end, and the program is never blocked. */
static void
test_large(void **state)
{
	char *both[] = { "/bin/sh", "-c", "head -c 10000000 /dev/zero; "
	    "head -c 10000000 /dev/zero | tr '\\0' e >&2; echo done >&2", NULL };
	char tiny[1];
	struct capture_buf t = { tiny, sizeof tiny, 0, 0 };
	struct capture_cmd c;
	int status = -1, i;

	(void)state;
	assert_int_equal(run_in(both, NULL, NULL, 0, 60000, &status), 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(out.total == 10000000);
	assert_int_equal(out.len, sizeof obuf - 1);
	assert_true(err.total == 10000005);
	assert_int_equal(err.len, sizeof ebuf - 1);
	assert_int_equal(strlen(ebuf), sizeof ebuf - 1);
	for (i = 0; i < 10; i++)
		assert_int_equal(ebuf[i], 'e');
	/* a one-byte buffer keeps nothing; NULL drops everything */
	memset(&c, 0, sizeof c);
	c.path = both[0];
	c.argv = both;
	assert_int_equal(capture_run(&c, &t, NULL, &status), 0);
	assert_int_equal(tiny[0], '\0');
	assert_true(t.total == 10000000);
	assert_int_equal(t.len, 0);
}

/* Many runs, every outcome: the same descriptors open afterwards. */
static void
test_no_leak(void **state)
{
	char *missing[] = { "/nonexistent/x", NULL };
	char *cat[] = { "/bin/cat", NULL };
	int before = nfds(), status, i;

	(void)state;
	for (i = 0; i < 20; i++) {
		assert_int_equal(sh("echo x; echo y >&2; exit 1", &status), 0);
		assert_int_equal(run_in(missing, NULL, NULL, 0, 0, &status), -1);
		assert_int_equal(run_in(cat, NULL, "abc", 3, 0, &status), 0);
	}
	{
		char *hang[] = { "/bin/sh", "-c", "sleep 30", NULL };
		assert_int_equal(run_in(hang, NULL, "x", 1, 50, &status), -1);
		assert_int_equal(errno, ETIMEDOUT);
	}
	assert_int_equal(nfds(), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_out_err),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_isolation),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_no_leak),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
