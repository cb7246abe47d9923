/*
 * run.c - starting a job's process (see proc.h and jobspool-processor(8),
 * "EXECUTION ENVIRONMENT").
 *
 * The job's process is made by vfork: no copy of the processor (whose
 * calling thread waits until the child executes or exits), so a start
 * costs about what posix_spawn costs.  The child, between vfork and exec:
 * new session (so its pid is the process group to kill), default signal
 * dispositions, then the run's record (its pid and process start time in
 * <id>.wip: the caller's run_record, written with the processor's
 * credentials and limits, before anything of the job can execute), an
 * empty signal mask, stdin, stdout and stderr, credentials (setgroups,
 * setresgid, setresuid), PR_SET_PDEATHSIG (after the credential change,
 * which would clear it) and a check that the processor is still its
 * parent, resource limits, cwd; then it executes the program, searched in
 * the job's PATH, with a clean environment.  A failure is left in the
 * run_child (step and errno), which the child shares with the processor
 * until it executes: when run_start returns, the outcome is known.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "proc.h"

/* Coverage builds only (make coverage adds -DJS_COVERAGE to gcc
 * --coverage): exec discards a forked helper's gcov counters, so it writes
 * them out first (and zeroes them, so that a later flush adds only what
 * ran since).  A job's process needs none of this: until it executes it
 * shares the processor's memory, counters included (vfork). */
#ifdef JS_COVERAGE
void __gcov_dump(void);
void __gcov_reset(void);
#define COV_FLUSH() do { __gcov_dump(); __gcov_reset(); } while (0)
#else
#define COV_FLUSH() do { } while (0)
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

/* Reports a failure from the child and exits: into rc, which it shares
 * with the processor until it executes or exits (vfork). */
static void __attribute__((noreturn))
child_fail(struct run_child *rc, const char *step, int err)
{
	size_t len = strlen(step);

	if (len > sizeof rc->step - 1)
		len = sizeof rc->step - 1;
	memcpy(rc->step, step, len);
	rc->step[len] = '\0';
	rc->err = err;
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
	const char *step;	/* what the child reports when it fails */
} limit_names[RUN_LIMITS] = {
	{ "cpu", RLIMIT_CPU, "setrlimit(limits.cpu)" },
	{ "memory", RLIMIT_AS, "setrlimit(limits.memory)" },
	{ "nofile", RLIMIT_NOFILE, "setrlimit(limits.nofile)" },
	{ "nproc", RLIMIT_NPROC, "setrlimit(limits.nproc)" },
	{ "fsize", RLIMIT_FSIZE, "setrlimit(limits.fsize)" },
};

/* execve of path, or of /bin/sh with it when the kernel does not know its
 * format (as execvp does: a script without "#!"); returns with errno. */
static void
try_exec(const struct run_spec *rs, struct run_child *rc, const char *path)
{
	execve(path, rs->argv, rc->env);
	if (errno == ENOEXEC) {
		rc->shargv[1] = (char *)path;
		execve(rc->shargv[0], rc->shargv, rc->env);
		errno = ENOEXEC;
	}
}

/* execvp with the job's PATH (not the processor's environ, which the
 * child shares): each directory in turn; never returns. */
static void __attribute__((noreturn))
child_exec(const struct run_spec *rs, struct run_child *rc)
{
	const char *file = rs->argv[0], *p, *end;
	size_t fl = strlen(file), dl;
	char path[PATH_MAX];
	int eacces = 0;

	rc->reached = 1;
	if (strchr(file, '/') != NULL) {
		try_exec(rs, rc, file);
		child_fail(rc, "exec", errno);
	}
	if (fl == 0)
		child_fail(rc, "exec", ENOENT);
	for (p = rc->path; ; p = end + 1) {
		end = strchrnul(p, ':');
		dl = (size_t)(end - p);
		if (dl + 1 + fl < sizeof path) {
			memcpy(path, p, dl);
			if (dl > 0)	/* an empty entry: the current directory */
				path[dl++] = '/';
			memcpy(path + dl, file, fl + 1);
			try_exec(rs, rc, path);
			switch (errno) {
			case EACCES:
				eacces = 1;
				break;
			case ENOENT: case ENOTDIR: case ESTALE: case ENODEV:
			case ETIMEDOUT: case ELOOP: case ENAMETOOLONG:
				break;
			default:
				child_fail(rc, "exec", errno);
			}
		}
		if (*end == '\0')
			break;
	}
	child_fail(rc, "exec", eacces ? EACCES : ENOENT);
}

/* Everything between vfork and exec; never returns.  The child shares the
 * processor's memory (whose thread waits) until then: it only makes
 * system calls, reads what run_prepare made, and writes its report into
 * rc.  Credentials change by the raw system calls: glibc's wrappers would
 * try to change those of the processor's other threads too. */
static void __attribute__((noreturn))
child(const struct run_spec *rs, struct run_child *rc,
    const struct run_record *rec, pid_t parent)
{
	unsigned long long start;
	sigset_t none;
	size_t i;
	int sig;

	if (setsid() < 0)
		child_fail(rc, "setsid", errno);
	sigemptyset(&none);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);	/* fails harmlessly for KILL, STOP, ... */
	/* the run is recorded in <id>.wip before anything of it executes (a
	 * processor killed at any instant leaves nothing that ran
	 * unrecorded); with the processor's credentials and limits, and
	 * signals still blocked, so that none cuts the record short */
	if (rec != NULL) {
		long long st = -1;
		if (js_proc_self_start_time(&start) == 0)
			st = (long long)start;
		if (rec->write(rec->arg, (int)getpid(), st) < 0)
			child_fail(rc, "record the run", errno);
		rc->recorded = 1;
	}
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(rc, "sigprocmask", errno);
	if (dup2(rc->in, 0) < 0 || dup2(rs->logfd, 1) < 0 ||
	    dup2(rs->logfd, 2) < 0)
		child_fail(rc, "dup2", errno);
	if (rs->drop && !rs->keep_creds) {
		if (syscall(SYS_setgroups, 1, &rs->gid) < 0)
			child_fail(rc, "setgroups", errno);
		if (syscall(SYS_setresgid, rs->gid, rs->gid, rs->gid) < 0)
			child_fail(rc, "setresgid", errno);
		if (syscall(SYS_setresuid, rs->uid, rs->uid, rs->uid) < 0)
			child_fail(rc, "setresuid", errno);
	}
	/* after the credential change, which clears the death signal */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		child_fail(rc, "prctl(PR_SET_PDEATHSIG)", errno);
	if (getppid() != parent)
		_exit(127);	/* the processor died before we got here */
	if (job_nofile_saved && setrlimit(RLIMIT_NOFILE, &job_nofile) < 0)
		child_fail(rc, "setrlimit(RLIMIT_NOFILE)", errno);
	for (i = 0; i < RUN_LIMITS; i++)
		if (rc->lim_set[i] && setrlimit(limit_names[i].resource,
		    &rc->lim[i]) < 0)
			child_fail(rc, limit_names[i].step, errno);
	if (chdir(rc->cwd != NULL ? rc->cwd : "/") < 0)
		child_fail(rc, rc->cwd != NULL ? "chdir(cwd)" : "chdir(/)",
		    errno);
	child_exec(rs, rc);
}

int
run_prepare(const struct run_spec *rs, struct run_child *rc, char *err,
    size_t errlen)
{
	const char *text = js_job_str(rs->job, "stdin");
	json_t *tv = json_object_get(rs->job, "stdin");
	json_t *limits = json_object_get(rs->job, "limits");
	size_t argc, i;

	memset(rc, 0, sizeof *rc);
	rc->pid = -1;
	rc->in = -1;
	for (argc = 0; rs->argv[argc] != NULL; argc++)
		;
	/* /bin/sh, the file, then argv[1..] and NULL */
	rc->shargv = calloc(argc + 2, sizeof *rc->shargv);
	rc->env = build_env(rs->job, rs->id, rs->keep_creds ? NULL : rs->user,
	    rs->home, rs->keep_creds || (!rs->drop &&
	    geteuid() == 0) ? ROOT_PATH : BASE_PATH, NULL);
	if (rc->env == NULL || rc->shargv == NULL) {
		snprintf(err, errlen, "out of memory");
		run_abort(rc);
		return -1;
	}
	rc->shargv[0] = "/bin/sh";
	for (i = 1; i < argc; i++)
		rc->shargv[i + 1] = rs->argv[i];
	for (i = 0; rc->env[i] != NULL; i++)
		if (strncmp(rc->env[i], "PATH=", 5) == 0)
			rc->path = rc->env[i] + 5;
	if (rc->path == NULL)
		rc->path = "/bin:/usr/bin";	/* execvp's default */
	/* a watcher (an executor's helper) takes none of the job's cwd,
	 * limits or stdin */
	if (!rs->watcher) {
		rc->cwd = js_job_str(rs->job, "cwd");
		for (i = 0; i < RUN_LIMITS; i++) {
			json_t *v = json_object_get(limits, limit_names[i].name);
			if (!json_is_integer(v))
				continue;
			rc->lim_set[i] = 1;
			rc->lim[i].rlim_cur = rc->lim[i].rlim_max =
			    (rlim_t)json_integer_value(v);
			/* SIGXCPU at the limit, SIGKILL a second later */
			if (limit_names[i].resource == RLIMIT_CPU)
				rc->lim[i].rlim_max = rc->lim[i].rlim_cur + 1;
		}
	}
	rc->in = rs->watcher ? open("/dev/null", O_RDONLY | O_CLOEXEC) :
	    stdin_fd(text, text ? json_string_length(tv) : 0);
	if (rc->in < 0) {
		int e = errno;	/* (the caller tells a want of descriptors) */
		snprintf(err, errlen, "cannot prepare stdin: %s", strerror(e));
		run_abort(rc);
		errno = e;
		return -1;
	}
	return 0;
}

/* The message of a child that did not execute (rc's report). */
static void
child_report(const struct run_child *rc, const char *argv0, char *err,
    size_t errlen)
{
	if (rc->step[0] == '\0')
		snprintf(err, errlen, "cannot start the job: the child exited "
		    "before exec");
	else if (strcmp(rc->step, "exec") == 0)
		snprintf(err, errlen, "cannot execute %s: %s", argv0,
		    strerror(rc->err));
	else
		snprintf(err, errlen, "cannot start the job: %s: %s",
		    rc->step, strerror(rc->err));
}

int
run_start(const struct run_spec *rs, struct run_child *rc,
    const struct run_record *rec, char *err, size_t errlen)
{
	pid_t pid, parent = getpid();
	sigset_t all, old;
	int e, status;

	rc->step[0] = '\0';
	rc->err = rc->recorded = rc->reached = 0;
	/* no signal handler may run in the child while it shares our memory;
	 * it sets its own mask */
	sigfillset(&all);
	if ((e = pthread_sigmask(SIG_SETMASK, &all, &old)) != 0) {
		snprintf(err, errlen, "cannot block signals: %s", strerror(e));
		run_abort(rc);
		return -1;
	}
	pid = vfork();
	if (pid == 0)
		child(rs, rc, rec, parent);
	e = errno;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	/* the child has executed, or exited: what it used is ours again */
	run_abort(rc);
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(e));
		return -1;
	}
	if (rc->step[0] != '\0' || !rc->reached) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		child_report(rc, rs->argv[0], err, errlen);
		errno = EIO;
		return -1;
	}
	rc->pid = pid;
	return 0;
}

void
run_abort(struct run_child *rc)
{
	if (rc->in >= 0)
		close(rc->in);
	rc->in = -1;
	proc_free_words(rc->env);
	rc->env = NULL;
	free(rc->shargv);
	rc->shargv = NULL;
	rc->path = NULL;
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
