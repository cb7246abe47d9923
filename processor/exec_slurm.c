/*
 * exec_slurm.c - the Slurm executor (see exec.h, slurm.h): a command or
 * shell job runs on Slurm, followed by a watcher process that the loop
 * treats exactly as a local job's process (pid, start record written by
 * the process itself before it executes, SIGTERM to stop it,
 * SIGCHLD when it ends).  Container jobs run locally, through the local
 * executor: the container runtime is this machine's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"
#include "log.h"
#include "slurm.h"

struct slurm_exec {
	struct executor *local;		/* containers, and the child plumbing */
	char self[PATH_MAX];		/* this program, for the watcher */
	char spool[PATH_MAX];		/* absolute: the watcher's own cwd */
};

static struct executor *
local_of(struct executor *ex)
{
	return ((struct slurm_exec *)ex->priv)->local;
}

static int
slurm_prepare(struct executor *ex, const char *id, json_t *job,
    struct exec_run *run, char *err, size_t errlen)
{
	struct slurm_exec *se = ex->priv;
	struct proc_config *cfg = ex->cfg;
	struct slurm_conf sc;
	char **argv;

	if (json_object_get(job, "container") != NULL)
		return local_of(ex)->ops->prepare(local_of(ex), id, job, run, err,
		    errlen);
	memset(run, 0, sizeof *run);
	memset(&sc, 0, sizeof sc);
	sc.bindir = cfg->slurm_bindir;
	sc.outdir = cfg->slurm_outdir;
	sc.conf = cfg->slurm_conf;
	sc.poll_ms = cfg->slurm_poll_ms;
	sc.drop = cfg->run_as;
	sc.uid = cfg->uid;
	sc.gid = cfg->gid;
	sc.labels = cfg->slurm_labels;
	argv = slurm_watch_argv(se->self, se->spool, id,
	    js_job_int(job, "generation", 0), &sc);
	if (argv == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* The watcher runs with the processor's credentials and none of the
	 * job's cwd, stdin or limits: those are for the Slurm job, written
	 * into its batch script. */
	return exec_spawn(ex, id, job, argv, 1, 1, "/", run, err, errlen);
}

/* The watcher is a child like a local job: the rest is the local code. */
static int
slurm_start(struct executor *ex, struct exec_run *run,
    const struct run_record *rec, char *err, size_t errlen)
{
	return local_of(ex)->ops->start(local_of(ex), run, rec, err, errlen);
}

static void
slurm_abort(struct executor *ex, struct exec_run *run)
{
	local_of(ex)->ops->abort(local_of(ex), run);
}

/* SIGTERM: the watcher runs scancel (unless the claim was lost, when the
 * Slurm job is the new owner's).  SIGKILL: the watcher dies, the Slurm job
 * is left to whoever claims the job next, which re-attaches to it. */
static void
slurm_stop(struct executor *ex, const char *id, struct exec_run *run,
    int hard, int64_t grace_ms)
{
	local_of(ex)->ops->stop(local_of(ex), id, run, hard, grace_ms);
}

static int
slurm_reaped(struct executor *ex, struct exec_run *run, pid_t pid, int status,
    struct exec_result *res)
{
	return local_of(ex)->ops->reaped(local_of(ex), run, pid, status, res);
}

static void
slurm_ended(struct executor *ex, const char *id, struct exec_run *run,
    const struct exec_result *res, int stopped)
{
	local_of(ex)->ops->ended(local_of(ex), id, run, res, stopped);
}

/* What the watcher recorded in <id>.wip goes into the result. */
static void
slurm_collect(struct executor *ex, const char *id, json_t *job,
    const struct exec_result *res)
{
	json_t *cur, *rec;
	char msg[512];
	const char *e;

	if (json_object_get(job, "container") != NULL)
		return;
	cur = js_spool_read_state(ex->sp, id, JS_WIP);
	rec = json_object_get(cur, "slurm");
	if (json_is_object(rec)) {
		json_object_set(job, "slurm", rec);
		e = slurm_error(rec, msg, sizeof msg);
		if (e != NULL && !(res->exited && res->exit_code == 0))
			json_object_set_new(job, "error", json_string(e));
	}
	json_decref(cur);
}

static void
slurm_recover(struct executor *ex, const char *id, const json_t *job)
{
	/* the old watcher's process group, if it is left on this host; the
	 * Slurm job itself stays, for the next claim to re-attach to */
	local_of(ex)->ops->recover(local_of(ex), id, job);
}

static void
slurm_free(struct executor *ex)
{
	struct slurm_exec *se;

	if (ex == NULL)
		return;
	se = ex->priv;
	if (se != NULL && se->local != NULL)
		se->local->ops->free(se->local);
	free(se);
	free(ex);
}

static const struct exec_ops slurm_ops = {
	.name = "slurm",
	.prepare = slurm_prepare,
	.start = slurm_start,
	.abort = slurm_abort,
	.stop = slurm_stop,
	.reaped = slurm_reaped,
	.ended = slurm_ended,
	.collect = slurm_collect,
	.recover = slurm_recover,
	.free = slurm_free,
};

struct executor *
exec_slurm_new(struct js_spool *sp, struct proc_config *cfg,
    const char *proc_home, exec_helper_fn helper, void *helper_arg)
{
	struct executor *ex = calloc(1, sizeof *ex);
	struct slurm_exec *se = calloc(1, sizeof *se);
	ssize_t n;

	if (ex == NULL || se == NULL) {
		free(ex);
		free(se);
		return NULL;
	}
	ex->ops = &slurm_ops;
	ex->sp = sp;
	ex->cfg = cfg;
	ex->helper = helper;
	ex->helper_arg = helper_arg;
	ex->priv = se;
	n = readlink("/proc/self/exe", se->self, sizeof se->self - 1);
	if (n <= 0 || realpath(cfg->spool, se->spool) == NULL) {
		js_err("slurm executor: cannot find this program or the spool: %s",
		    strerror(errno));
		slurm_free(ex);
		return NULL;
	}
	se->self[n] = '\0';
	se->local = exec_local_new(sp, cfg, proc_home, helper, helper_arg);
	if (se->local == NULL) {
		slurm_free(ex);
		return NULL;
	}
	return ex;
}
