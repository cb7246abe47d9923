/*
 * exec.h - the executor seam of jobspool-processor: how a claimed job is
 * started, watched and stopped.  Everything else - claim, lease and
 * heartbeat, fencing, cancel requests, timeouts, retries, results, notify -
 * is loop.c's, one implementation whatever the executor.
 *
 * The life of a run, as loop.c drives it:
 *
 *   prepare()   makes the run ready without letting it execute
 *   (loop.c opens the run's record: js_spool_start_open)
 *   start()     starts it: its process records the run in <id>.wip (pid,
 *               pid_start: the run_record loop.c hands over), then
 *               executes; or abort() if the record could not be opened
 *   stop()      asks it to end: soft (SIGTERM, "stop") or hard (SIGKILL)
 *   reaped()    loop.c's waitpid() hands over each exited child; the
 *               executor says whether it ended one of its runs, and how
 *   ended()     the run is over: clean up what may be left of it
 *   recover()   a dead processor's run of a job (expired lease): kill what
 *               is left of it before the job runs again
 *
 * An executor that learns about its runs otherwise than by SIGCHLD (a
 * cluster scheduler) would add a poll() called from the loop's timer; a new
 * executor is one more exec_<name>.c filling struct exec_ops.
 *
 * Single-threaded like the rest of the processor.
 */
#ifndef JS_EXEC_H
#define JS_EXEC_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "proc.h"

/* One run, as the executor keeps it (inside loop.c's run slot). */
struct exec_run {
	pid_t pid;		/* local: its process group; 0 once it ended */
	int container;		/* local: run through the container CLI */
	struct run_child child;	/* local: prepared, until started */
	struct run_spec spec;	/* local: what start runs */
	int wfd;		/* local: the output pipe's write end, until
				 * started */
	char **argv;		/* local: what it executes (until start) */
	void *priv;		/* for other executors */
	/* its output (stdout and stderr of whatever exec_spawn started): a
	 * pipe the loop drains into <id>.log up to a cap (exec_output_*) */
	int out_open;		/* 1: outfd and logfd are open */
	int outfd;		/* the pipe's read end, non-blocking */
	int logfd;		/* <id>.log, appending */
	uint64_t log_len;	/* the log's size as far as we wrote it */
	uint64_t log_cap;	/* bytes the log may hold; 0: no cap */
	int truncated;		/* output was dropped at the cap */
	int log_failed;		/* a write to the log failed (warned once) */
};

/* How a run ended. */
struct exec_result {
	int exited;		/* 1: exit_code is set; 0: killed by signal */
	int exit_code;
	int signal;
};

/* Registers a background process (runtime stop/kill) for the loop to reap
 * and log. */
typedef void (*exec_helper_fn)(void *arg, pid_t pid, const char *id,
    const char *what);

struct executor;

struct exec_ops {
	const char *name;
	/* Prepares the run of claimed job id; nothing of it executes yet.
	 * Sets the job's identifying fields.  0, or -1 with err (the job
	 * then fails with err). */
	int (*prepare)(struct executor *ex, const char *id, json_t *job,
	    struct exec_run *run, char *err, size_t errlen);
	/* Starts a prepared run; its process calls rec before it executes
	 * anything.  0 once it executes, or -1 with err (it did not start,
	 * nothing of it is left; whether rec was called is rec's to say). */
	int (*start)(struct executor *ex, struct exec_run *run,
	    const struct run_record *rec, char *err, size_t errlen);
	/* Drops a prepared run that must not execute. */
	void (*abort)(struct executor *ex, struct exec_run *run);
	/* Asks a running run to end: hard kills at once, else gracefully
	 * with grace_ms before the runtime's own kill (containers). */
	void (*stop)(struct executor *ex, const char *id, struct exec_run *run,
	    int hard, int64_t grace_ms);
	/* Whether the exited child pid (wait status) ended this run: 1 and
	 * *res filled, or 0. */
	int (*reaped)(struct executor *ex, struct exec_run *run, pid_t pid,
	    int status, struct exec_result *res);
	/* The run is over (stopped: it was asked to end); removes what may
	 * be left of it (stray processes, a container). */
	void (*ended)(struct executor *ex, const char *id, struct exec_run *run,
	    const struct exec_result *res, int stopped);
	/* Kills what is left of a dead processor's run of job (lease
	 * recovery), if this executor can reach it. */
	void (*recover)(struct executor *ex, const char *id,
	    const json_t *job);
	/* Optional: before the result is written, adds to job what the
	 * executor recorded about the run (Slurm: its job id, state and
	 * reason, and an error in its words when the run failed). */
	void (*collect)(struct executor *ex, const char *id, json_t *job,
	    const struct exec_result *res);
	void (*free)(struct executor *ex);
};

struct executor {
	const struct exec_ops *ops;
	struct js_spool *sp;		/* for <id>.log */
	struct proc_config *cfg;	/* current settings (SIGHUP updates) */
	exec_helper_fn helper;
	void *helper_arg;
	void *priv;
};

/* exec_local.c: runs jobs as child processes of the processor (command,
 * shell, and container jobs through the runtime's CLI).  proc_home: HOME
 * for container CLIs.  Returns NULL on allocation failure. */
struct executor *exec_local_new(struct js_spool *sp, struct proc_config *cfg,
    const char *proc_home, exec_helper_fn helper, void *helper_arg);
/* exec_local.c: prepares argv (owned from now on, freed on failure) for
 * job id to run as a child process, output on the job's log, started by
 * the local ops->start.  keep_creds: the processor's credentials;
 * watcher: an executor's helper (none of the job's cwd, stdin, limits).
 * 0, or -1 with err.  Shared by the executors whose runs are children. */
int exec_spawn(struct executor *ex, const char *id, json_t *job, char **argv,
    int keep_creds, int watcher, const char *home, struct exec_run *run,
    char *err, size_t errlen);
/* exec_local.c: the output of a run that exec_spawn started.  drain reads
 * what the pipe holds (without waiting, at most about budget bytes) into
 * the log, dropping what would take the log past run->log_cap and setting
 * run->truncated; returns 1 once the pipe is at its end (every writer
 * gone), else 0.  close drops the pipe and the log (also fine on a run
 * that never had them).  EXEC_PIPE_SIZE: what the pipe may hold. */
#define EXEC_PIPE_SIZE (1 << 20)
int exec_output_drain(const char *id, struct exec_run *run, size_t budget);
void exec_output_close(struct exec_run *run);

/* exec_slurm.c: runs command and shell jobs on Slurm (see slurm.h);
 * container jobs locally.  NULL on failure (logged). */
struct executor *exec_slurm_new(struct js_spool *sp, struct proc_config *cfg,
    const char *proc_home, exec_helper_fn helper, void *helper_arg);

#endif
