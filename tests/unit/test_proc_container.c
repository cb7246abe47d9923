/* Unit tests for processor/container.c: which runtimes are accepted, the
 * command line of a container job, and the runtime's stop and kill. */
#include <errno.h>
#include <sys/wait.h>

#include "testutil.h"
#include "../../processor/proc.h"

static char err[512];

/* The words of argv joined by single blanks (static buffer). */
static const char *
joined(char **argv)
{
	static char buf[1024];
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; argv[i] != NULL; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s",
		    i ? " " : "", argv[i]);
	return buf;
}

static void
test_runtime_ok(void **state)
{
	const char *def = container_default_runtime();

	(void)state;
	assert_true(container_runtime_ok("podman"));
	assert_true(container_runtime_ok("docker"));
	assert_true(container_runtime_ok("/opt/bin/docker"));
	assert_false(container_runtime_ok("bin/podman"));	/* relative */
	assert_false(container_runtime_ok("lxc"));
	assert_false(container_runtime_ok("/usr/bin/podman-remote"));
	assert_false(container_runtime_ok(""));
	/* whichever is installed, podman first, podman when neither */
	assert_true(strcmp(def, "podman") == 0 || strcmp(def, "docker") == 0);
	if (access("/usr/bin/podman", X_OK) == 0 ||
	    access("/usr/local/bin/podman", X_OK) == 0 ||
	    access("/bin/podman", X_OK) == 0)
		assert_string_equal(def, "podman");
}

static void
test_argv(void **state)
{
	struct proc_config cfg;
	json_t *c;
	char **a;

	(void)state;
	memset(&cfg, 0, sizeof cfg);
	cfg.runtime = "docker";
	cfg.runtime_global = proc_split_words("--log-level error");
	cfg.container_args = proc_split_words("--network none");
	assert_non_null(cfg.runtime_global);
	assert_non_null(cfg.container_args);

	c = json_pack("{s:s,s:[s,i],s:{s:s,s:i}}", "image", "alpine:3",
	    "command", "echo", 7, "environment", "A", "b c", "N", 1);
	a = container_argv(&cfg, "ID1", c, err, sizeof err);
	assert_non_null(a);
	assert_string_equal(joined(a), "docker --log-level error run --network "
	    "none --rm --name jobspool-ID1 -e A=b c alpine:3 echo ");
	proc_free_words(a);
	json_decref(c);

	/* a string command is a shell line; "env" is taken for
	 * "environment" */
	c = json_pack("{s:s,s:s,s:{s:s}}", "image", "busybox", "command",
	    "echo $A", "env", "A", "1");
	a = container_argv(&cfg, "ID2", c, err, sizeof err);
	assert_non_null(a);
	assert_string_equal(joined(a), "docker --log-level error run --network "
	    "none --rm --name jobspool-ID2 -e A=1 busybox sh -c echo $A");
	proc_free_words(a);
	json_decref(c);

	c = json_pack("{s:[s]}", "command", "true");
	err[0] = '\0';
	assert_null(container_argv(&cfg, "ID3", c, err, sizeof err));
	assert_string_equal(err, "container.image is missing");
	json_decref(c);
	proc_free_words(cfg.runtime_global);
	proc_free_words(cfg.container_args);
}

/* stop (with the grace in whole seconds, rounded up) and kill go through
 * the runtime: here a script that records its arguments. */
static void
test_signal(void **state)
{
	char *dir = tu_tempdir(), rt[300], out[300], script[800];
	struct proc_config cfg;
	pid_t pid;
	int status;
	FILE *f;
	char line[256];

	(void)state;
	snprintf(rt, sizeof rt, "%s/podman", dir);
	snprintf(out, sizeof out, "%s/args", dir);
	snprintf(script, sizeof script, "#!/bin/sh\necho \"$*\" >> %s\n", out);
	f = fopen(rt, "w");
	assert_non_null(f);
	fputs(script, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(rt, 0755), 0);
	memset(&cfg, 0, sizeof cfg);
	cfg.runtime = rt;
	cfg.runtime_global = proc_split_words("--root /x");

	pid = container_signal(&cfg, "ID", 0, 1500);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	pid = container_signal(&cfg, "ID", 1, 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pid = container_signal(&cfg, "ID", 0, 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);

	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	assert_string_equal(line, "--root /x stop -t 2 jobspool-ID\n");
	assert_non_null(fgets(line, sizeof line, f));
	assert_string_equal(line, "--root /x kill jobspool-ID\n");
	assert_non_null(fgets(line, sizeof line, f));
	assert_string_equal(line, "--root /x stop -t 0 jobspool-ID\n");
	assert_null(fgets(line, sizeof line, f));
	fclose(f);

	/* a runtime that is not there: the helper exits 127 */
	cfg.runtime = "/nonexistent/podman";
	pid = container_signal(&cfg, "ID", 1, 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 127);
	proc_free_words(cfg.runtime_global);
	tu_rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtime_ok),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
