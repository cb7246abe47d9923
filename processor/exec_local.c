/*
 * exec_local.c - the local executor (see exec.h): a job is a child of the
 * processor (run.c prepares it), a container job is the runtime's CLI run
 * the same way (container.c builds its command line and stops it).
 *
 * A run is identified in <id>.wip by "pid" (its process group) and
 * "pid_start" (that process's start time, so that a reused pid is never
 * mistaken for it); recovery on the same host kills what is left of it.
 *
 * Its stdout and stderr are one pipe, which the loop drains into <id>.log
 * (exec_output_drain) up to --max-log-size: past it the output is read and
 * dropped, so the run neither blocks nor dies, and the job records
 * "log_truncated".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"

struct local {
	char host[256];
	char *proc_home;	/* HOME for container CLIs (our own user) */
};

static void
container_stop(struct executor *ex, const char *id, int hard, int64_t grace_ms)
{
	pid_t h = container_signal(ex->cfg, id, hard, grace_ms);

	if (h > 0 && ex->helper != NULL)
		ex->helper(ex->helper_arg, h, id, hard ? "container kill" :
		    "container stop");
}

void
exec_output_close(struct exec_run *run)
{
	if (!run->out_open)
		return;
	close(run->outfd);
	close(run->logfd);
	run->out_open = 0;
}

int
exec_output_drain(const char *id, struct exec_run *run, size_t budget)
{
	char buf[65536];
	ssize_t k;
	size_t keep, got = 0;

	if (!run->out_open)
		return 1;
	for (;;) {
		/* a job that writes as fast as we read must not hold the
		 * loop: the rest waits for the next turn (level-triggered) */
		if (got >= budget)
			return 0;
		k = read(run->outfd, buf, sizeof buf);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN)
			return 0;
		if (k < 0) {
			js_warn("job %s: cannot read its output: %s", id,
			    strerror(errno));
			return 1;
		}
		if (k == 0)
			return 1;
		got += (size_t)k;
		keep = (size_t)k;
		if (run->log_cap > 0) {
			uint64_t room = run->log_len < run->log_cap ?
			    run->log_cap - run->log_len : 0;
			if (keep > room) {
				if (!run->truncated)
					js_info("job %s: its log reached "
					    "--max-log-size (%llu bytes); further "
					    "output is dropped", id,
					    (unsigned long long)run->log_cap);
				run->truncated = 1;
				keep = (size_t)room;
			}
		}
		if (keep == 0 || run->log_failed)
			continue;
		if (js_write_all(run->logfd, buf, keep) < 0) {
			/* ENOSPC, EIO: the job goes on, its output is lost */
			js_warn("job %s: cannot write its log: %s; its output "
			    "is dropped", id, strerror(errno));
			run->log_failed = 1;
			continue;
		}
		run->log_len += keep;
	}
}

int
exec_spawn(struct executor *ex, const char *id, json_t *job, char **argv,
    int keep_creds, int watcher, const char *home, struct exec_run *run,
    char *err, size_t errlen)
{
	struct proc_config *cfg = ex->cfg;
	struct run_spec *rs = &run->spec;
	struct stat lst;
	long long remote_base;
	int logfd, p[2], e;

	run->argv = argv;
	run->wfd = -1;
	p[0] = p[1] = -1;
	logfd = js_spool_log_open(ex->sp, id, 1);
	if (logfd < 0 || fstat(logfd, &lst) < 0) {
		snprintf(err, errlen, "cannot open the log: %s", strerror(errno));
		goto fail;
	}
	if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[0], F_SETFL, O_NONBLOCK) < 0) {
		snprintf(err, errlen, "cannot make the output pipe: %s",
		    strerror(errno));
		goto fail;
	}
	/* a larger buffer than the default 64 KiB means fewer wake-ups of
	 * the loop for a chatty job (a smaller one only costs wake-ups) */
	(void)fcntl(p[0], F_SETPIPE_SZ, EXEC_PIPE_SIZE);
	memset(rs, 0, sizeof *rs);
	rs->id = id;
	rs->argv = run->argv;
	rs->job = job;
	rs->logfd = p[1];
	rs->drop = cfg->run_as;
	rs->uid = cfg->uid;
	rs->gid = cfg->gid;
	rs->user = cfg->user;
	rs->home = home;
	rs->keep_creds = keep_creds;
	rs->watcher = watcher;
	if (run_prepare(rs, &run->child, err, errlen) < 0)
		goto fail;
	run->wfd = p[1];
	run->out_open = 1;
	run->outfd = p[0];
	run->logfd = logfd;
	run->log_len = (uint64_t)lst.st_size;
	/* remote mode: the server's log already holds earlier runs' output,
	 * which the cap counts too */
	remote_base = js_job_int(json_object_get(job, "remote"), "log_offset", 0);
	if (remote_base > 0)
		run->log_len += (uint64_t)remote_base;
	run->log_cap = cfg->max_log_size;
	run->truncated = 0;
	run->log_failed = 0;
	return 0;
fail:
	e = errno;	/* (the caller tells a want of descriptors by it) */
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	if (logfd >= 0)
		close(logfd);
	proc_free_words(run->argv);
	run->argv = NULL;
	errno = e;
	return -1;
}

/* What start and abort leave of a prepared run: the output pipe's write
 * end (the child has its own copy) and argv. */
static void
spawn_done(struct exec_run *run)
{
	if (run->wfd >= 0)
		close(run->wfd);
	run->wfd = -1;
	proc_free_words(run->argv);
	run->argv = NULL;
	run->spec.argv = NULL;
}

static int
local_prepare(struct executor *ex, const char *id, json_t *job,
    struct exec_run *run, char *err, size_t errlen)
{
	struct local *lo = ex->priv;
	json_t *cont = json_object_get(job, "container");
	char **argv;

	memset(run, 0, sizeof *run);
	run->container = cont != NULL;
	argv = cont ? container_argv(ex->cfg, id, cont, err, errlen) :
	    run_job_argv(job, err, errlen);
	if (argv == NULL)
		return -1;
	return exec_spawn(ex, id, job, argv, run->container, 0,
	    run->container ? lo->proc_home : ex->cfg->home, run, err, errlen);
}

static int
local_start(struct executor *ex, struct exec_run *run,
    const struct run_record *rec, char *err, size_t errlen)
{
	int rc;

	(void)ex;
	rc = run_start(&run->spec, &run->child, rec, err, errlen);
	if (rc == 0)
		run->pid = run->child.pid;
	spawn_done(run);
	return rc;
}

static void
local_abort(struct executor *ex, struct exec_run *run)
{
	(void)ex;
	run_abort(&run->child);
	spawn_done(run);
}

static void
local_stop(struct executor *ex, const char *id, struct exec_run *run,
    int hard, int64_t grace_ms)
{
	int sig = hard ? SIGKILL : SIGTERM;

	if (run->pid <= 0)
		return;
	if (kill(-run->pid, sig) < 0 && errno != ESRCH)
		js_warn("job %s: cannot signal process group %d: %s", id,
		    (int)run->pid, strerror(errno));
	if (run->container)
		container_stop(ex, id, hard, grace_ms);
}

static int
local_reaped(struct executor *ex, struct exec_run *run, pid_t pid, int status,
    struct exec_result *res)
{
	(void)ex;
	if (run->pid <= 0 || run->pid != pid)
		return 0;
	memset(res, 0, sizeof *res);
	if (WIFEXITED(status)) {
		res->exited = 1;
		res->exit_code = WEXITSTATUS(status);
	} else {
		res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	}
	return 1;
}

static void
local_ended(struct executor *ex, const char *id, struct exec_run *run,
    const struct exec_result *res, int stopped)
{
	/* nothing of the job may outlive it: its group's stragglers go too */
	if (run->pid > 0 && kill(-run->pid, SIGKILL) < 0 && errno != ESRCH)
		js_warn("job %s: cannot kill process group %d: %s", id,
		    (int)run->pid, strerror(errno));
	/* the CLI is gone; if it did not exit by itself, its container may
	 * still run (its processes are not the CLI's children) */
	if (run->container && (stopped || !res->exited))
		container_stop(ex, id, 1, 0);
	run->pid = 0;
}

/* Kills what is left of a dead processor's run of a job (jobspool-processor(8)): only on
 * this host, and only if the recorded pid was not reused. */
static void
local_recover(struct executor *ex, const char *id, const json_t *job)
{
	struct local *lo = ex->priv;
	const char *worker = js_job_str(job, "worker");
	size_t hl = strlen(lo->host);
	pid_t pg;

	if (worker == NULL || strncmp(worker, lo->host, hl) != 0 ||
	    worker[hl] != ':' || (pg = run_recorded_group(job, 0)) == 0)
		return;
	if (kill(-pg, SIGKILL) == 0)
		js_info("job %s: killed the old run's process group %d",
		    id, (int)pg);
	else if (errno != ESRCH)
		js_warn("job %s: cannot kill process group %d: %s",
		    id, (int)pg, strerror(errno));
	if (json_object_get(job, "container") != NULL)
		container_stop(ex, id, 1, 0);
}

static void
local_free(struct executor *ex)
{
	struct local *lo;

	if (ex == NULL)
		return;
	lo = ex->priv;
	if (lo != NULL)
		free(lo->proc_home);
	free(lo);
	free(ex);
}

static const struct exec_ops local_ops = {
	.name = "local",
	.prepare = local_prepare,
	.start = local_start,
	.abort = local_abort,
	.stop = local_stop,
	.reaped = local_reaped,
	.ended = local_ended,
	.recover = local_recover,
	.free = local_free,
};

struct executor *
exec_local_new(struct js_spool *sp, struct proc_config *cfg,
    const char *proc_home, exec_helper_fn helper, void *helper_arg)
{
	struct executor *ex = calloc(1, sizeof *ex);
	struct local *lo = calloc(1, sizeof *lo);

	if (ex == NULL || lo == NULL) {
		free(ex);
		free(lo);
		return NULL;
	}
	ex->ops = &local_ops;
	ex->sp = sp;
	ex->cfg = cfg;
	ex->helper = helper;
	ex->helper_arg = helper_arg;
	ex->priv = lo;
	js_hostname(lo->host, sizeof lo->host);
	lo->proc_home = strdup(proc_home ? proc_home : "/");
	if (lo->proc_home == NULL) {
		local_free(ex);
		return NULL;
	}
	return ex;
}
