/*
 * run.c - starting a job's process (see proc.h and jobspool-processor(8),
 * "EXECUTION ENVIRONMENT").
 *
 * The child, between fork and exec: new session (so its pid is the process
 * group to kill), default signal mask and dispositions, stdin, stdout and
 * stderr, credentials (setgroups, setresgid, setresuid), PR_SET_PDEATHSIG
 * (after the credential change, which would clear it) and a check that the
 * processor is still its parent, resource limits, cwd, a clean environment,
 * then it waits on a "gate" pipe until the processor has recorded the run
 * (pid and process start time) in <id>.wip, and only then execvp.  Any
 * failure is written as "<step>\0<errno>" into a close-on-exec pipe; the
 * parent does not wait for the exec (run_go): it reads that pipe once the
 * child has exited (run_outcome), where EOF means exec succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

/* Coverage builds only (make coverage adds -DJS_COVERAGE to gcc
 * --coverage): exec and _exit discard a child's gcov counters, so the child
 * writes them out first (and zeroes them, so that a later flush adds only
 * what ran since); a child that will run as another user, before it
 * switches. */
#ifdef JS_COVERAGE
void __gcov_dump(void);
void __gcov_reset(void);
static int cov_dropped;	/* the child's credentials changed: .gcda unwritable */
#define COV_FLUSH() do { if (!cov_dropped) { __gcov_dump(); \
	__gcov_reset(); } } while (0)
#define COV_DROP() do { COV_FLUSH(); cov_dropped = 1; } while (0)
#else
#define COV_FLUSH() do { } while (0)
#define COV_DROP() do { } while (0)
#endif

extern char **environ;

#define BASE_PATH "PATH=/usr/local/bin:/usr/bin:/bin"
/* for root, and for container CLIs (podman's helpers need iptables, nft) */
#define ROOT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
	"/sbin:/bin"

void
proc_free_words(char **w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; w[i] != NULL; i++)
		free(w[i]);
	free(w);
}

char **
proc_split_words(const char *s)
{
	char **w = calloc(1, sizeof *w), **nw;
	size_t n = 0;

	if (w == NULL)
		return NULL;
	while (s != NULL && *s != '\0') {
		size_t len;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		len = strcspn(s, " \t");
		nw = realloc(w, (n + 2) * sizeof *w);
		if (nw == NULL)
			goto fail;
		w = nw;
		w[n] = strndup(s, len);
		w[n + 1] = NULL;
		if (w[n] == NULL)
			goto fail;
		n++;
		s += len;
	}
	return w;
fail:
	proc_free_words(w);
	return NULL;
}

char **
run_job_argv(const json_t *job, char *err, size_t errlen)
{
	json_t *cmd = json_object_get(job, "command"), *a;
	const char *sh = js_job_str(job, "shell");
	char **argv;
	size_t i;

	if (json_is_array(cmd) && json_array_size(cmd) > 0) {
		argv = calloc(json_array_size(cmd) + 1, sizeof *argv);
		if (argv == NULL)
			goto nomem;
		json_array_foreach(cmd, i, a) {
			argv[i] = strdup(json_is_string(a) ? json_string_value(a) : "");
			if (argv[i] == NULL) {
				proc_free_words(argv);
				goto nomem;
			}
		}
		return argv;
	}
	if (sh != NULL) {
		argv = calloc(4, sizeof *argv);
		if (argv == NULL || (argv[0] = strdup("/bin/sh")) == NULL ||
		    (argv[1] = strdup("-c")) == NULL ||
		    (argv[2] = strdup(sh)) == NULL) {
			proc_free_words(argv);
			goto nomem;
		}
		return argv;
	}
	snprintf(err, errlen, "job has no command, shell or container");
	return NULL;
nomem:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* "K=V" into a new string; NULL on allocation failure. */
static char *
env_pair(const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v);
	char *s = malloc(kl + vl + 2);

	if (s == NULL)
		return NULL;
	memcpy(s, k, kl);
	s[kl] = '=';
	memcpy(s + kl + 1, v, vl + 1);
	return s;
}

/* Puts "K=V" into env (NULL-terminated, capacity checked by caller),
 * replacing an earlier K. */
static void
env_put(char **env, size_t *n, char *kv)
{
	size_t i, kl = strcspn(kv, "=");

	for (i = 0; i < *n; i++) {
		if (strncmp(env[i], kv, kl + 1) == 0) {
			free(env[i]);
			env[i] = kv;
			return;
		}
	}
	env[(*n)++] = kv;
	env[*n] = NULL;
}

/* The job's environment: a clean base plus its "env" (which may override
 * the base).  extra: more "K=V" strings (not owned) added first. */
static char **
build_env(const json_t *job, const char *id, const char *user,
    const char *home, const char *path, char *const *extra)
{
	json_t *env = json_object_get(job, "env"), *v;
	size_t n = 0, cap = 8 + json_object_size(env);
	const char *k;
	char **e, *kv;

	for (; extra != NULL && extra[n] != NULL; n++)
		cap++;
	e = calloc(cap + 1, sizeof *e);
	if (e == NULL)
		return NULL;
	n = 0;
#define PUT(x) do { if ((kv = (x)) == NULL) goto fail; env_put(e, &n, kv); } while (0)
	PUT(strdup(path));
	if (home != NULL)
		PUT(env_pair("HOME", home));
	if (user != NULL) {
		PUT(env_pair("USER", user));
		PUT(env_pair("LOGNAME", user));
	}
	if (id != NULL)
		PUT(env_pair("JOBSPOOL_JOB_ID", id));
	for (; extra != NULL && *extra != NULL; extra++)
		PUT(strdup(*extra));
	json_object_foreach(env, k, v)
		if (json_is_string(v))
			PUT(env_pair(k, json_string_value(v)));
#undef PUT
	return e;
fail:
	proc_free_words(e);
	return NULL;
}

/* stdin for the job: a pipe already holding the text when it fits in the
 * pipe buffer (so this never blocks), else a sealed memfd; /dev/null when
 * there is no text.  Returns an fd (close-on-exec) or -1. */
static int
stdin_fd(const char *text, size_t len)
{
	int p[2], fd;
	size_t off = 0;

	if (text == NULL)
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (len <= 65536) {
		/* the write end is non-blocking: a pipe smaller than the text
		 * (pipe-user-pages-soft) sends us to the memfd below */
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		if (fcntl(p[1], F_SETFL, O_NONBLOCK) < 0) {
			close(p[0]);
			close(p[1]);
			return -1;
		}
		while (off < len) {
			ssize_t n = write(p[1], text + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			off += (size_t)n;
		}
		if (off == len && close(p[1]) == 0)
			return p[0];
		if (off < len)
			close(p[1]);
		close(p[0]);
		off = 0;
	}
	fd = memfd_create("jobspool-stdin", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Reports a failure from the child and exits: "step" text then errno. */
static void __attribute__((noreturn))
child_fail(int efd, const char *step, int err)
{
	char buf[160];
	size_t len = strlen(step);

	if (len > sizeof buf - 1 - sizeof err)
		len = sizeof buf - 1 - sizeof err;
	memcpy(buf, step, len);
	buf[len] = '\0';
	memcpy(buf + len + 1, &err, sizeof err);
	if (write(efd, buf, len + 1 + sizeof err) < 0) {
		/* nothing more we can do: the exit status says it */
	}
	COV_FLUSH();
	_exit(127);
}

/* The open-file limit the processor was started with, which jobs get back
 * (run_raise_nofile raised the processor's own). */
static struct rlimit job_nofile;
static int job_nofile_saved;

void
run_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		js_warn("getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	job_nofile = rl;
	job_nofile_saved = 1;
	if (rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		js_warn("cannot raise the open file limit: %s", strerror(errno));
}

static const struct {
	const char *name;
	int resource;
} limit_names[] = {
	{ "cpu", RLIMIT_CPU }, { "memory", RLIMIT_AS }, { "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC }, { "fsize", RLIMIT_FSIZE },
};

/* Everything between fork and exec; never returns. */
static void __attribute__((noreturn))
child(const struct run_spec *rs, int efd, int gate, int in, char **env,
    pid_t parent)
{
	json_t *limits = json_object_get(rs->job, "limits");
	const char *cwd = js_job_str(rs->job, "cwd");
	sigset_t none;
	size_t i;
	int sig;

	if (setsid() < 0)
		child_fail(efd, "setsid", errno);
	sigemptyset(&none);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);	/* fails harmlessly for KILL, STOP, ... */
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(efd, "sigprocmask", errno);
	if (dup2(in, 0) < 0 || dup2(rs->logfd, 1) < 0 || dup2(rs->logfd, 2) < 0)
		child_fail(efd, "dup2", errno);
	if (rs->drop && !rs->keep_creds) {
		COV_DROP();
		if (setgroups(1, &rs->gid) < 0)
			child_fail(efd, "setgroups", errno);
		if (setresgid(rs->gid, rs->gid, rs->gid) < 0)
			child_fail(efd, "setresgid", errno);
		if (setresuid(rs->uid, rs->uid, rs->uid) < 0)
			child_fail(efd, "setresuid", errno);
	}
	/* after the credential change, which clears the death signal */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(efd, "prctl(PR_SET_PDEATHSIG)", errno);
	if (getppid() != parent)
		_exit(127);	/* the processor died before we got here */
	if (job_nofile_saved && setrlimit(RLIMIT_NOFILE, &job_nofile) < 0)
		child_fail(efd, "setrlimit(RLIMIT_NOFILE)", errno);
	for (i = 0; !rs->watcher && i < sizeof limit_names /
	    sizeof limit_names[0]; i++) {
		json_t *v = json_object_get(limits, limit_names[i].name);
		struct rlimit rl;
		char step[64];
		if (!json_is_integer(v))
			continue;
		rl.rlim_cur = rl.rlim_max = (rlim_t)json_integer_value(v);
		if (limit_names[i].resource == RLIMIT_CPU) {
			/* SIGXCPU at the limit, SIGKILL a second later */
			rl.rlim_max = rl.rlim_cur + 1;
		}
		if (setrlimit(limit_names[i].resource, &rl) < 0) {
			snprintf(step, sizeof step, "setrlimit(limits.%s)",
			    limit_names[i].name);
			child_fail(efd, step, errno);
		}
	}
	if (rs->watcher)
		cwd = NULL;	/* the job's cwd is the executor's business */
	if (chdir(cwd != NULL ? cwd : "/") < 0)
		child_fail(efd, cwd != NULL ? "chdir(cwd)" : "chdir(/)", errno);
	/* wait until the processor has recorded this run in <id>.wip: a
	 * processor killed before that must leave nothing that ran */
	{
		char go;
		ssize_t n;
		do
			n = read(gate, &go, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1 || go != 'g')
			_exit(127);	/* not released: the run was abandoned */
		close(gate);
	}
	environ = env;		/* execvp searches the job's PATH */
	COV_FLUSH();
	execvp(rs->argv[0], rs->argv);
	child_fail(efd, "exec", errno);
}

int
run_spawn(const struct run_spec *rs, struct run_child *rc, char *err,
    size_t errlen)
{
	const char *text = js_job_str(rs->job, "stdin");
	json_t *tv = json_object_get(rs->job, "stdin");
	char **env;
	pid_t pid, parent = getpid();
	int ep[2], gp[2], in;

	rc->pid = -1;
	rc->gate = rc->errfd = -1;
	env = build_env(rs->job, rs->id, rs->keep_creds ? NULL : rs->user,
	    rs->home, rs->keep_creds || (!rs->drop &&
	    geteuid() == 0) ? ROOT_PATH : BASE_PATH, NULL);
	if (env == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	in = rs->watcher ? open("/dev/null", O_RDONLY | O_CLOEXEC) :
	    stdin_fd(text, text ? json_string_length(tv) : 0);
	if (in < 0) {
		snprintf(err, errlen, "cannot prepare stdin: %s", strerror(errno));
		proc_free_words(env);
		return -1;
	}
	if (pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		close(in);
		proc_free_words(env);
		return -1;
	}
	if (pipe2(gp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		close(ep[0]);
		close(ep[1]);
		close(in);
		proc_free_words(env);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(errno));
		close(ep[0]);
		close(ep[1]);
		close(gp[0]);
		close(gp[1]);
		close(in);
		proc_free_words(env);
		return -1;
	}
	if (pid == 0) {
		close(ep[0]);
		close(gp[1]);
		child(rs, ep[1], gp[0], in, env, parent);
	}
	close(ep[1]);
	close(gp[0]);
	close(in);
	proc_free_words(env);
	rc->pid = pid;
	rc->gate = gp[1];
	rc->errfd = ep[0];
	return 0;
}

/* Waits for the child of rc to exit (after a failure or an abort). */
static void
reap_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* The message of a child's report ("<step>\0<errno>", n bytes), or of
 * its end before exec (n 0) or a release that failed (werr). */
static void
child_report(const char *buf, ssize_t n, int werr, const char *argv0,
    char *err, size_t errlen)
{
	if (n > 0 && (size_t)n > sizeof(int)) {
		int e;
		size_t slen = strnlen(buf, (size_t)n);
		if (slen + 1 + sizeof e > (size_t)n) {
			snprintf(err, errlen, "cannot start the job: the child "
			    "exited before exec");
			return;
		}
		memcpy(&e, buf + slen + 1, sizeof e);
		if (strcmp(buf, "exec") == 0)
			snprintf(err, errlen, "cannot execute %s: %s", argv0,
			    strerror(e));
		else
			snprintf(err, errlen, "cannot start the job: %s: %s",
			    buf, strerror(e));
	} else if (werr != 0) {
		snprintf(err, errlen, "cannot start the job: cannot release "
		    "the child: %s", strerror(werr));
	} else {
		snprintf(err, errlen, "cannot start the job: the child exited "
		    "before exec");
	}
}

/* Writes the gate's 'g' and closes it: 0, or the write's errno. */
static int
open_gate(struct run_child *rc)
{
	ssize_t n;
	int werr = 0;

	do
		n = write(rc->gate, "g", 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		werr = n < 0 ? errno : EIO;
	close(rc->gate);
	rc->gate = -1;
	return werr;
}

/* After the gate was opened (werr: 0, or why that failed): waits for the
 * child's exec or its report.  0 once it executed, else -1 with err (the
 * child reaped). */
/* The child's report (what child_fail writes: at most 160 bytes) or EOF,
 * read into buf (REPORT_MAX bytes); errfd is then closed.  The byte
 * count: 0 at EOF (it executed), -1 on a read error. */
#define REPORT_MAX (160 + sizeof(int))
static ssize_t
take_report(struct run_child *rc, char *buf)
{
	ssize_t n;

	do
		n = read(rc->errfd, buf, REPORT_MAX);
	while (n < 0 && errno == EINTR);
	close(rc->errfd);
	rc->errfd = -1;
	return n;
}

static int
wait_exec(struct run_child *rc, int werr, const char *argv0, char *err,
    size_t errlen)
{
	char buf[REPORT_MAX];
	ssize_t n = take_report(rc, buf);

	if (n == 0 && werr == 0)
		return 0;	/* exec succeeded */
	/* the child failed before exec (or was not released): it exits */
	if (n <= 0)
		kill(rc->pid, SIGKILL);
	reap_child(rc->pid);
	child_report(buf, n, werr, argv0, err, errlen);
	rc->pid = -1;
	errno = EIO;
	return -1;
}

int
run_go(struct run_child *rc, const char *argv0, char *err, size_t errlen)
{
	int werr = open_gate(rc);

	if (werr == 0)
		return 0;
	/* not released: a child that failed before its gate (a cwd, a
	 * limit) closed it; its report says why */
	return wait_exec(rc, werr, argv0, err, errlen);
}

int
run_outcome(struct run_child *rc, const char *argv0, char *err,
    size_t errlen)
{
	char buf[REPORT_MAX];
	ssize_t n;

	if (rc->errfd < 0)
		return 0;
	/* the child is gone: its end of the pipe is closed, nothing waits */
	n = take_report(rc, buf);
	if (n <= 0)
		return 0;	/* exec succeeded (or it was killed first) */
	child_report(buf, n, 0, argv0, err, errlen);
	return -1;
}

void
run_abort(struct run_child *rc)
{
	if (rc->gate >= 0)
		close(rc->gate);	/* the child sees EOF and exits */
	if (rc->errfd >= 0)
		close(rc->errfd);
	rc->gate = rc->errfd = -1;
	if (rc->pid > 0) {
		kill(rc->pid, SIGKILL);
		reap_child(rc->pid);
	}
	rc->pid = -1;
}

pid_t
run_recorded_group(const json_t *job, int leader_alive)
{
	long long pid = js_job_int(job, "pid", 0);
	long long start = js_job_int(job, "pid_start", -1);
	unsigned long long now_start;

	if (pid <= 1 || pid > INT_MAX || start < 0)
		return 0;
	/* The leader alive with another start time: the pid was reused, so
	 * the old process group is gone (a pid is not reused while it names
	 * a group).  The leader gone (killed by its death signal): what is
	 * left in group pid is the old run's stragglers. */
	if (js_proc_start_time((int)pid, &now_start) < 0)
		return leader_alive ? 0 : (pid_t)pid;
	return now_start == (unsigned long long)start ? (pid_t)pid : 0;
}

/* A detached helper (own session, no death signal: it should finish). */
static pid_t
helper(char *const *argv, int in, char **env)
{
	pid_t pid = fork();
	int null, sig;
	sigset_t none;

	if (pid != 0)
		return pid;
	if (setsid() < 0)
		_exit(127);
	sigemptyset(&none);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(in >= 0 ? in : null, 0) < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		_exit(127);
	if (chdir("/") < 0)
		_exit(127);
	if (env != NULL)
		environ = env;
	COV_FLUSH();
	execvp(argv[0], argv);
	_exit(127);
}

pid_t
run_helper_sh(const char *cmd, const char *data, size_t len,
    char *const *extra_env)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	json_t *none = json_object();
	char **env;
	pid_t pid;
	int in, saved;

	if (none == NULL)
		return -1;
	env = build_env(none, NULL, NULL, getenv("HOME"), geteuid() == 0 ?
	    ROOT_PATH : BASE_PATH, extra_env);
	json_decref(none);
	if (env == NULL)
		return -1;
	in = stdin_fd(data, len);
	if (in < 0) {
		saved = errno;
		proc_free_words(env);
		errno = saved;
		return -1;
	}
	pid = helper(argv, in, env);
	saved = errno;
	close(in);
	proc_free_words(env);
	errno = saved;
	return pid;
}

pid_t
run_helper_argv(char *const *argv)
{
	return helper(argv, -1, NULL);
}
