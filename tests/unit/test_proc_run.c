/* Unit tests for processor/run.c: splitting words, a job's argv, and a
 * job's process from vfork to exec: its environment, cwd, stdin (a pipe, or
 * a memfd when it does not fit), limits, credentials, the record it writes
 * before it executes, the search of the job's PATH, and each way it can
 * fail to start (the message the job records). */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "util.h"
#include "../../processor/proc.h"

static char err[512];

/* The whole of file fd (from its start) as a string (static buffer). */
static const char *
slurp(int fd)
{
	static char buf[4096];
	ssize_t n;

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, buf, sizeof buf - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	return buf;
}

/* A log file for a run: an unlinked temporary file. */
static int
logfile(void)
{
	char path[] = "/tmp/jobspool-unit-log.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(unlink(path), 0);
	return fd;
}

/* A spec for job (its argv from run_job_argv, which the caller frees)
 * with output to logfd; the rest zero. */
static char **
spec(struct run_spec *rs, const char *id, const json_t *job, int logfd)
{
	char **av = run_job_argv(job, err, sizeof err);

	assert_non_null(av);
	memset(rs, 0, sizeof *rs);
	rs->id = id;
	rs->argv = av;
	rs->job = job;
	rs->logfd = logfd;
	return av;
}

/* What the test's run_record saw (in the child, sharing our memory). */
struct rec_seen {
	int calls;
	int pid;
	long long pid_start;
	const char *mark;	/* a file to write "recorded" into, or NULL */
	int fail;		/* errno to fail with, or 0 */
};

static int
rec_write(void *arg, int pid, long long pid_start)
{
	struct rec_seen *rs = arg;
	int fd;

	rs->calls++;
	rs->pid = pid;
	rs->pid_start = pid_start;
	if (rs->fail != 0) {
		errno = rs->fail;
		return -1;
	}
	if (rs->mark != NULL) {
		fd = open(rs->mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
		if (fd < 0 || write(fd, "recorded\n", 9) != 9)
			return -1;
		close(fd);
	}
	return 0;
}

/* Starts job (its argv from run_job_argv) with output to logfd, recorded
 * by seen (NULL: a record that does nothing), and reaps it: 0, or -1 with
 * err when it never executed; its exit status in *status (-1 when it
 * never ran). */
static int
run_job_seen(const char *json, int logfd, int watcher, int *status,
    struct rec_seen *seen)
{
	json_error_t je;
	json_t *job = json_loads(json, 0, &je);
	struct rec_seen none;
	struct run_record rec;
	struct run_spec rs;
	struct run_child rc;
	char **argv;
	int r;

	assert_non_null(job);
	memset(&none, 0, sizeof none);
	if (seen == NULL)
		seen = &none;
	rec.write = rec_write;
	rec.arg = seen;
	argv = spec(&rs, "00000000-0000-4000-8000-000000000001", job, logfd);
	rs.user = "someone";
	rs.home = "/home/someone";
	rs.watcher = watcher;
	assert_int_equal(run_prepare(&rs, &rc, err, sizeof err), 0);
	r = run_start(&rs, &rc, &rec, err, sizeof err);
	/* what it was prepared with is released either way */
	assert_null(rc.env);
	assert_int_equal(rc.in, -1);
	*status = -1;
	if (r == 0) {
		/* it executed after its record, with its own pid */
		assert_true(rc.pid > 0);
		assert_int_equal(rc.recorded, 1);
		assert_int_equal(seen->calls, 1);
		assert_int_equal(seen->pid, rc.pid);
		assert_true(seen->pid_start > 0);
		assert_int_equal(waitpid(rc.pid, status, 0), rc.pid);
	} else {
		/* it never executed: already reaped */
		assert_int_equal(errno, EIO);
		assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
		assert_int_equal(errno, ECHILD);
	}
	proc_free_words(argv);
	json_decref(job);
	return r;
}

static int
run_job(const char *json, int logfd, int watcher, int *status)
{
	return run_job_seen(json, logfd, watcher, status, NULL);
}

static void
test_split_words(void **state)
{
	char **w;

	(void)state;
	w = proc_split_words("  --runtime\trunc   --log-level debug ");
	assert_non_null(w);
	assert_string_equal(w[0], "--runtime");
	assert_string_equal(w[1], "runc");
	assert_string_equal(w[2], "--log-level");
	assert_string_equal(w[3], "debug");
	assert_null(w[4]);
	proc_free_words(w);
	w = proc_split_words(" \t ");
	assert_non_null(w);
	assert_null(w[0]);
	proc_free_words(w);
	w = proc_split_words(NULL);
	assert_non_null(w);
	assert_null(w[0]);
	proc_free_words(w);
	proc_free_words(NULL);
}

static void
test_job_argv(void **state)
{
	json_t *cmd = json_pack("{s:[s,i,s]}", "command", "echo", 5, "x");
	json_t *sh = json_pack("{s:s}", "shell", "echo hi");
	json_t *none = json_pack("{s:[]}", "command");
	char **a;

	(void)state;
	a = run_job_argv(cmd, err, sizeof err);
	assert_non_null(a);
	assert_string_equal(a[0], "echo");
	assert_string_equal(a[1], "");		/* not a string: empty */
	assert_string_equal(a[2], "x");
	assert_null(a[3]);
	proc_free_words(a);
	a = run_job_argv(sh, err, sizeof err);
	assert_non_null(a);
	assert_string_equal(a[0], "/bin/sh");
	assert_string_equal(a[1], "-c");
	assert_string_equal(a[2], "echo hi");
	assert_null(a[3]);
	proc_free_words(a);
	err[0] = '\0';
	assert_null(run_job_argv(none, err, sizeof err));
	assert_string_equal(err, "job has no command, shell or container");
	json_decref(cmd);
	json_decref(sh);
	json_decref(none);
}

/* What a job sees: a clean environment plus its env, its cwd, its stdin. */
static void
test_environment(void **state)
{
	char *dir = tu_tempdir(), json[1024];
	int fd = logfile(), status;

	(void)state;
	setenv("JOBSPOOL_UNIT_LEAK", "leaked", 1);
	snprintf(json, sizeof json, "{\"shell\": \"echo $USER $LOGNAME $HOME "
	    "$JOBSPOOL_JOB_ID ${JOBSPOOL_UNIT_LEAK:-clean} $FOO; pwd; cat; "
	    "echo $PATH\", \"cwd\": \"%s\", \"env\": {\"FOO\": \"bar\", "
	    "\"HOME\": \"/elsewhere\", \"N\": 3}, \"stdin\": \"in\\n\"}", dir);
	assert_int_equal(run_job(json, fd, 0, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		char want[1024];
		snprintf(want, sizeof want, "someone someone /elsewhere "
		    "00000000-0000-4000-8000-000000000001 clean bar\n%s\nin\n"
		    "%s\n", dir, geteuid() == 0 ?
		    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" :
		    "/usr/local/bin:/usr/bin:/bin");
		assert_string_equal(slurp(fd), want);
	}
	unsetenv("JOBSPOOL_UNIT_LEAK");
	close(fd);
	tu_rm_tree(dir);
}

/* stdin larger than a pipe holds: a memfd, read in full. */
static void
test_large_stdin(void **state)
{
	size_t n = 300000, i;
	char *json = malloc(n + 64);
	int fd = logfile(), status;

	(void)state;
	assert_non_null(json);
	i = (size_t)sprintf(json, "{\"command\": [\"wc\", \"-c\"], \"stdin\": \"");
	memset(json + i, 'x', n);
	strcpy(json + i + n, "\"}");
	assert_int_equal(run_job(json, fd, 0, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(atoi(slurp(fd)), (int)n);
	free(json);
	close(fd);
}

/* Each way the child can fail before exec, and the message for it. */
static void
test_start_failures(void **state)
{
	int fd = logfile(), status;

	(void)state;
	assert_int_equal(run_job("{\"command\": [\"true\"], \"cwd\": "
	    "\"/nonexistent/jobspool-cwd\"}", fd, 0, &status), -1);
	assert_string_equal(err, "cannot start the job: chdir(cwd): No such "
	    "file or directory");
	assert_int_equal(run_job("{\"command\": [\"no-such-program-jobspool\"]}",
	    fd, 0, &status), -1);
	assert_string_equal(err, "cannot execute no-such-program-jobspool: No "
	    "such file or directory");
	assert_int_equal(run_job("{\"command\": [\"/etc/passwd\"]}", fd, 0,
	    &status), -1);
	assert_string_equal(err, "cannot execute /etc/passwd: Permission "
	    "denied");
	/* above the kernel's nr_open: refused even to root */
	assert_int_equal(run_job("{\"command\": [\"true\"], \"limits\": "
	    "{\"nofile\": 1099511627776}}", fd, 0, &status), -1);
	assert_string_equal(err, "cannot start the job: "
	    "setrlimit(limits.nofile): Operation not permitted");
	assert_string_equal(slurp(fd), "");	/* nothing ran */
	close(fd);
}

/* Limits apply to the job (CPU: SIGXCPU at the limit, hard one later),
 * not to a watcher, which also ignores the job's cwd and stdin. */
static void
test_limits(void **state)
{
	int fd = logfile(), status;

	(void)state;
	assert_int_equal(run_job("{\"shell\": \"ulimit -St; ulimit -Ht; "
	    "ulimit -n\", \"limits\": {\"cpu\": 7, \"nofile\": 99, "
	    "\"other\": 3, \"nproc\": \"x\"}}", fd, 0, &status), 0);
	assert_string_equal(slurp(fd), "7\n8\n99\n");
	close(fd);
	fd = logfile();
	assert_int_equal(run_job("{\"shell\": \"ulimit -n; pwd; cat\", "
	    "\"limits\": {\"nofile\": 1099511627776}, \"cwd\": "
	    "\"/nonexistent/jobspool-cwd\", \"stdin\": \"secret\"}", fd, 1,
	    &status), 0);
	assert_true(WIFEXITED(status));
	assert_non_null(strstr(slurp(fd), "\n/\n"));	/* cwd "/", no stdin */
	assert_null(strstr(slurp(fd), "secret"));
	close(fd);
}

/* The processor raises its own open-file limit; jobs get the old one. */
static void
test_nofile(void **state)
{
	struct rlimit before, after;
	char want[64];
	int fd = logfile(), status;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &before), 0);
	if (before.rlim_cur == before.rlim_max && before.rlim_max > 64) {
		/* lower the soft limit so that there is something to raise */
		before.rlim_cur = 64;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &before), 0);
	}
	run_raise_nofile();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &after), 0);
	assert_true(after.rlim_cur == after.rlim_max);
	assert_int_equal(run_job("{\"shell\": \"ulimit -n\"}", fd, 0, &status),
	    0);
	if (before.rlim_cur == RLIM_INFINITY)
		snprintf(want, sizeof want, "unlimited\n");
	else
		snprintf(want, sizeof want, "%llu\n",
		    (unsigned long long)before.rlim_cur);
	assert_string_equal(slurp(fd), want);
	close(fd);
}

/* As root, with drop: the job runs as the given uid and gid. */
static void
test_credentials(void **state)
{
	json_t *job = json_pack("{s:[s,s]}", "command", "id", "-u");
	struct passwd *pw = getpwnam("nobody");
	struct run_spec rs;
	struct run_child rc;
	char want[32], **av;
	int fd = logfile(), status;

	(void)state;
	if (geteuid() != 0 || pw == NULL) {
		json_decref(job);
		close(fd);
		skip();
	}
	av = spec(&rs, "00000000-0000-4000-8000-000000000002", job, fd);
	rs.drop = 1;
	rs.uid = pw->pw_uid;
	rs.gid = pw->pw_gid;
	rs.user = "nobody";
	rs.home = "/";
	assert_int_equal(run_prepare(&rs, &rc, err, sizeof err), 0);
	assert_int_equal(run_start(&rs, &rc, NULL, err, sizeof err), 0);
	assert_int_equal(waitpid(rc.pid, &status, 0), rc.pid);
	/* the processor keeps its own credentials */
	assert_int_equal(geteuid(), 0);
	assert_int_equal(getegid(), 0);
	snprintf(want, sizeof want, "%u\n", (unsigned)pw->pw_uid);
	assert_string_equal(slurp(fd), want);
	proc_free_words(av);
	json_decref(job);
	close(fd);
}

/* A prepared job that is dropped runs nothing and leaves nothing open. */
static void
test_abort(void **state)
{
	char *dir = tu_tempdir(), json[512], mark[300];
	json_t *job;
	struct run_spec rs;
	struct run_child rc;
	char **av;
	int fd = logfile(), before = tu_count("/proc/self/fd", NULL);

	(void)state;
	snprintf(mark, sizeof mark, "%s/ran", dir);
	snprintf(json, sizeof json, "{\"command\": [\"touch\", \"%s\"], "
	    "\"stdin\": \"x\"}", mark);
	job = json_loads(json, 0, NULL);
	assert_non_null(job);
	av = spec(&rs, "00000000-0000-4000-8000-000000000003", job, fd);
	assert_int_equal(run_prepare(&rs, &rc, err, sizeof err), 0);
	assert_int_equal(tu_count("/proc/self/fd", NULL), before + 1);
	run_abort(&rc);
	assert_int_equal(rc.in, -1);
	assert_null(rc.env);
	assert_int_equal(tu_count("/proc/self/fd", NULL), before);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);	/* no child */
	assert_int_equal(errno, ECHILD);
	assert_int_equal(access(mark, F_OK), -1);
	run_abort(&rc);			/* twice: nothing left to do */
	proc_free_words(av);
	json_decref(job);
	close(fd);
	tu_rm_tree(dir);
}

/* The record comes before the program: the program sees it written; a
 * record that fails stops the start, and nothing runs. */
static void
test_record(void **state)
{
	char *dir = tu_tempdir(), json[700], mark[300], ran[300];
	struct rec_seen seen;
	unsigned long long st;
	int fd = logfile(), status;

	(void)state;
	snprintf(mark, sizeof mark, "%s/record", dir);
	snprintf(ran, sizeof ran, "%s/ran", dir);
	memset(&seen, 0, sizeof seen);
	seen.mark = mark;
	snprintf(json, sizeof json, "{\"shell\": \"cat %s; cut -d' ' -f22 "
	    "/proc/$$/stat\"}", mark);
	assert_int_equal(run_job_seen(json, fd, 0, &status, &seen), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* the start time it recorded is its own (the shell's: same pid) */
	assert_int_equal(sscanf(slurp(fd), "recorded\n%llu", &st), 1);
	assert_int_equal((long long)st, seen.pid_start);
	close(fd);

	fd = logfile();
	memset(&seen, 0, sizeof seen);
	seen.fail = EIO;
	snprintf(json, sizeof json, "{\"command\": [\"touch\", \"%s\"]}",
	    ran);
	assert_int_equal(run_job_seen(json, fd, 0, &status, &seen), -1);
	assert_string_equal(err, "cannot start the job: record the run: "
	    "Input/output error");
	assert_int_equal(seen.calls, 1);
	assert_int_equal(access(ran, F_OK), -1);
	assert_string_equal(slurp(fd), "");
	close(fd);
	tu_rm_tree(dir);
}

/* argv[0] is looked up in the job's PATH (not the processor's), as execvp
 * would: the first executable wins, an unreadable one is skipped but
 * named when nothing else is found, a script without "#!" runs with
 * /bin/sh. */
static void
test_path_search(void **state)
{
	char *dir = tu_tempdir(), a[300], b[300], path[320], json[1200];
	int fd = logfile(), status;
	FILE *f;

	(void)state;
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	assert_int_equal(mkdir(a, 0755), 0);
	assert_int_equal(mkdir(b, 0755), 0);
	/* a/prog is not executable, b/prog is a script without "#!" */
	snprintf(path, sizeof path, "%s/prog", a);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("echo from-a\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/prog", b);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("echo from-b \"$0\" \"$1\"\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(json, sizeof json, "{\"command\": [\"prog\", \"arg\"], "
	    "\"env\": {\"PATH\": \"/nonexistent-jobspool:%s:%s\"}}", a, b);
	assert_int_equal(run_job(json, fd, 0, &status), 0);
	assert_true(WIFEXITED(status));
	{
		char want[400];
		snprintf(want, sizeof want, "from-b %s arg\n", path);
		assert_string_equal(slurp(fd), want);
	}
	close(fd);
	/* only the unexecutable one: its error, not "not found" */
	fd = logfile();
	snprintf(json, sizeof json, "{\"command\": [\"prog\"], "
	    "\"env\": {\"PATH\": \"%s:/nonexistent-jobspool\"}}", a);
	assert_int_equal(run_job(json, fd, 0, &status), -1);
	assert_string_equal(err, "cannot execute prog: Permission denied");
	/* the processor's own PATH is not searched */
	snprintf(json, sizeof json, "{\"command\": [\"sh\"], "
	    "\"env\": {\"PATH\": \"%s\"}}", b);
	assert_int_equal(run_job(json, fd, 0, &status), -1);
	assert_string_equal(err, "cannot execute sh: No such file or "
	    "directory");
	assert_string_equal(slurp(fd), "");
	close(fd);
	tu_rm_tree(dir);
}

/* Whether the recorded pid and start time still name the run. */
static void
test_recorded_group(void **state)
{
	unsigned long long st;
	pid_t dead;
	json_t *job;
	int status;

	(void)state;
	assert_int_equal(js_proc_start_time((int)getpid(), &st), 0);
	job = json_pack("{s:I,s:I}", "pid", (json_int_t)getpid(), "pid_start",
	    (json_int_t)st);
	assert_int_equal(run_recorded_group(job, 1), getpid());
	json_object_set_new(job, "pid_start", json_integer((json_int_t)st + 1));
	assert_int_equal(run_recorded_group(job, 0), 0);	/* reused */
	json_object_set_new(job, "pid", json_integer(1));
	assert_int_equal(run_recorded_group(job, 0), 0);	/* never init */
	json_object_set_new(job, "pid", json_integer((json_int_t)INT_MAX + 1));
	assert_int_equal(run_recorded_group(job, 0), 0);
	json_object_del(job, "pid_start");
	json_object_set_new(job, "pid", json_integer(getpid()));
	assert_int_equal(run_recorded_group(job, 0), 0);	/* no start */
	/* a pid no process has: stragglers may remain, unless the leader
	 * had to be alive */
	dead = fork();
	assert_true(dead >= 0);
	if (dead == 0)
		_exit(0);
	assert_int_equal(waitpid(dead, &status, 0), dead);
	json_object_set_new(job, "pid", json_integer(dead));
	json_object_set_new(job, "pid_start", json_integer(5));
	assert_int_equal(run_recorded_group(job, 0), dead);
	assert_int_equal(run_recorded_group(job, 1), 0);
	json_decref(job);
}

/* Reads file path once it holds want (helpers run detached). */
static void
wait_file(const char *path, const char *want)
{
	char buf[512];
	int i;

	for (i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");
		if (f != NULL) {
			size_t n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
			buf[n] = '\0';
			if (strcmp(buf, want) == 0)
				return;
		}
		usleep(10000);
	}
	fail_msg("%s never held '%s' (it holds '%s')", path, want, buf);
}

static void
test_helpers(void **state)
{
	char *dir = tu_tempdir(), cmd[1200], out[300], out2[300];
	char *extra[] = { "X=from-extra", NULL };
	char *argv[] = { "/bin/sh", "-c", NULL, NULL };
	char *missing[] = { "no-such-program-jobspool", NULL };
	char script[700];
	pid_t pid;
	int status;

	(void)state;
	snprintf(out, sizeof out, "%s/helper", dir);
	snprintf(cmd, sizeof cmd, "{ cat; echo \"$X $JOBSPOOL_UNIT_LEAK\"; "
	    "pwd; } > %s.tmp && mv %s.tmp %s", out, out, out);
	setenv("JOBSPOOL_UNIT_LEAK", "leaked", 1);
	pid = run_helper_sh(cmd, "data\n", 5, extra);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	wait_file(out, "data\nfrom-extra \n/\n");
	unsetenv("JOBSPOOL_UNIT_LEAK");

	/* argv helpers keep the processor's environment */
	snprintf(out2, sizeof out2, "%s/argv", dir);
	snprintf(script, sizeof script, "echo \"$JOBSPOOL_UNIT_KEEP\" > %s",
	    out2);
	argv[2] = script;
	setenv("JOBSPOOL_UNIT_KEEP", "kept", 1);
	pid = run_helper_argv(argv);
	unsetenv("JOBSPOOL_UNIT_KEEP");
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	wait_file(out2, "kept\n");
	pid = run_helper_argv(missing);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 127);
	tu_rm_tree(dir);
}

/* Open descriptors of this process. */
static int
nfds(void)
{
	return tu_count("/proc/self/fd", NULL);
}

/* Out of descriptors at each step of a spawn (the soft limit just above
 * what is open, then one more each time): it fails with a message and
 * leaks nothing, or it works. */
static void
test_fd_exhaustion(void **state)
{
	static const char *const jobs[] = {
		"{\"command\": [\"true\"]}",
		"{\"command\": [\"cat\"], \"stdin\": \"small\"}",
		NULL,		/* stdin past 64 KiB: a memfd */
	};
	struct rlimit saved, rl;
	char *big = malloc(70000 + 64);
	size_t j, i;
	int lim, worked, failed, fd = logfile(), before, status;

	(void)state;
	assert_non_null(big);
	i = (size_t)sprintf(big, "{\"command\": [\"true\"], \"stdin\": \"");
	memset(big + i, 'z', 70000);
	strcpy(big + i + 70000, "\"}");
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	for (j = 0; j < 3; j++) {
		json_t *job = json_loads(jobs[j] ? jobs[j] : big, 0, NULL);
		struct run_spec rs;
		struct run_child rc;
		char **av = spec(&rs, "00000000-0000-4000-8000-000000000005",
		    job, fd);

		worked = failed = 0;
		for (lim = 0; lim < 12; lim++) {
			int hi = -1, k, holes[1024], nholes = 0, nholes_was;
			/* descriptors go to the lowest free number: fill the
			 * holes below the highest open one, so that the next
			 * ones come right above it */
			for (k = 0; k < 1024; k++)
				if (fcntl(k, F_GETFD) >= 0)
					hi = k;
			for (k = 0; k < hi; k++)
				if (fcntl(k, F_GETFD) < 0) {
					assert_int_equal(dup2(fd, k), k);
					holes[nholes++] = k;
				}
			before = nfds();
			rl = saved;
			rl.rlim_cur = (rlim_t)(hi + 1 + lim);
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
			err[0] = '\0';
			k = run_prepare(&rs, &rc, err, sizeof err);
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
			if (k < 0)
				assert_int_equal(nfds(), before);
			nholes_was = nholes;
			while (nholes > 0)
				close(holes[--nholes]);
			if (k < 0) {
				failed++;
				if (strncmp(err, "cannot ", 7) != 0 ||
				    strstr(err, "Too many open files") == NULL)
					fail_msg("limit +%d: error '%s'", lim, err);
				continue;
			}
			worked++;
			assert_int_equal(run_start(&rs, &rc, NULL, err,
			    sizeof err), 0);
			assert_int_equal(waitpid(rc.pid, &status, 0), rc.pid);
			assert_int_equal(nfds(), before - nholes_was);
		}
		/* the first tries fail, the last ones work */
		assert_true(failed > 0);
		assert_true(worked > 0);
		proc_free_words(av);
		json_decref(job);
	}
	free(big);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_words),
		cmocka_unit_test(test_job_argv),
		cmocka_unit_test(test_environment),
		cmocka_unit_test(test_large_stdin),
		cmocka_unit_test(test_start_failures),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_nofile),
		cmocka_unit_test(test_credentials),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_path_search),
		cmocka_unit_test(test_recorded_group),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_fd_exhaustion),
	};

	/* as in the processor (loop.c): a child that failed before its gate
	 * has closed it, and releasing it must not kill us */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
