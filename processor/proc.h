/*
 * proc.h - the pieces of jobspool-processor and how they fit.
 *
 *   main.c        start-up: reads the settings, opens the spool, runs the
 *                 loop (and the remote link in remote mode), exit status
 *   settings.c    the settings (lib/config): table of options, checks,
 *                 the processor's labels, SIGHUP reload, free
 *   loop.c        the event loop: inotify on the spool, signalfd, timerfd;
 *                 claims, heartbeats, timeouts, cancels, results
 *   notifier.c    the webhook and Telegram notifiers: records queued in
 *                 SPOOL/notify (lib/notify), sent by a thread of their own
 *                 with libcurl, retried with backoff (notifier.h)
 *   loghash.c     the SHA-256 of a finished job's log, in a short-lived
 *                 thread that reports back through a pipe (loghash.h)
 *   commit.c      the committer: a thread writing final results, one
 *                 directory sync per batch, reporting through a pipe
 *                 before anyone is told (commit.h)
 *   presence.c    the processor's entry in the spool's registry of
 *                 processors, and the pauses of the spool or of labels
 *   queue.c       in-memory index of pending jobs (priority, submission
 *                 order, not_before); holds only pending ids, never
 *                 finished ones
 *   run.c         spawning a job's process: session, limits, environment,
 *                 credentials, stdin, log; killing its process group
 *   container.c   the command line of a container job and its stop/kill
 *   exec_local.c  the local executor (child processes, container CLIs);
 *                 exec.h is the executor seam: start a run, watch, stop
 *   exec_slurm.c  the Slurm executor: a watcher process per job (slurm.h)
 *   slurm.c       the Slurm watcher: sbatch, scontrol/sacct, scancel, the
 *                 output copy (slurm.h)
 *   capture.c     running a helper program to its end with stdin text,
 *                 keeping its stdout and stderr, with a time limit: the
 *                 watcher's Slurm commands (capture.h)
 *   remote_link.c remote mode (--server): the link process that claims
 *                 from an apiserver and mirrors jobs and logs; remote.h
 *                 is what the processor calls, remote_link.h its insides
 *   remote_claim.c  ... its claimer thread: claims jobs, writes them into
 *                 the local spool
 *   remote_mirror.c ... a thread per claimed job: log upload, heartbeats,
 *                 cancels, pauses, the job's end
 *   remote_job.c  ... the per-job rules those threads follow: a pure
 *                 state machine (remote_job.h)
 *   remote_spool.c  ... the local work spool as its threads share it
 *                 (wake-ups, dropping a job's copy, leftovers at start)
 *   remote_http.c ... the HTTP transport: libcurl requests, TLS, backoff
 *                 (remote_http.h)
 *
 * Single-threaded: everything runs in the event loop, so no locking (but
 * the remote link, a process of its own, has threads: remote_link.h).
 * One exception is hashing a finished job's log, which would hold the
 * loop for as long as a big log takes to read: loop.c gives the log's
 * descriptor to a loghash.c thread that shares nothing else (it reads,
 * hashes, writes its own address into a pipe and ends), keeps the job's
 * slot and heartbeats meanwhile, and records the result (log_size,
 * log_sha256, then the final state, written once) when the loop reads the
 * pipe and joins the thread.  A shutdown waits for it like for a run.
 * The other is the committer (commit.h), which is handed the final result
 * (the job, its claim and pin) and syncs it off the loop; the loop tells
 * of the job when it reports, and a shutdown waits for that too.
 */
#ifndef JS_PROC_H
#define JS_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <jansson.h>

#include "digest.h"
#include "spool.h"

#define PROG "jobspool-processor"

/* Settings as the loop uses them (durations in ms).  Strings are owned. */
struct proc_config {
	char *spool;
	int jobs;			/* -j: concurrent jobs, >= 1 */
	int64_t lease_ms;
	int64_t kill_grace_ms;
	int64_t shutdown_grace_ms;
	int64_t scan_interval_ms;
	char *notify_command;		/* NULL: none */
	/* the built-in notifiers (notify.c; the sinks are read at start) */
	unsigned notify_on;		/* JS_STATE_BIT()s of the outcomes that
					 * notify (command, URL, Telegram) */
	char *notify_url;		/* webhook; NULL: none */
	char *notify_chat;		/* Telegram chat id; NULL: none */
	char *notify_bot_token;		/* from --notify-telegram-token-file */
	char *notify_api;		/* Bot API base URL, no trailing '/' */
	char *status_url;		/* status page base; NULL: no link */
	int64_t notify_retry_max_ms;	/* longest wait between two tries */
	int64_t notify_give_up_ms;	/* a record this old is dropped */
	char *runtime;			/* container CLI (path or name) */
	char **runtime_global;		/* words before "run" (e.g. --runtime runc) */
	char **container_args;		/* words right after "run" */
	/* the credentials jobs run with (only used when run_as is set) */
	int run_as;			/* 1: switch to uid/gid in the child */
	uid_t uid;
	gid_t gid;
	char *user;			/* name of the job user */
	char *home;			/* its home directory: HOME of jobs */
	int log_level;
	int use_syslog;
	uint64_t max_log_size;		/* a job's log stops there; 0: no cap */
	/* the executor (read at start) and the Slurm executor's settings */
	int executor;			/* PROC_EXEC_LOCAL or PROC_EXEC_SLURM */
	char *slurm_bindir;		/* "": Slurm's commands from PATH */
	char *slurm_outdir;		/* where Slurm writes output files */
	char *slurm_conf;		/* SLURM_CONF for them, or NULL */
	int64_t slurm_poll_ms;
	char **slurm_labels;		/* "LABEL=sbatch args", NULL-terminated */
	char **labels;			/* --label words, NULL-terminated */
	int exclusive;			/* --exclusive: only jobs asking for
					 * one of all_labels (lib/sched) */
	/* the processor's labels: the --label words and, under the Slurm
	 * executor, the names of the --slurm-label mappings; each once,
	 * NULL-terminated, nall_labels of them (built by settings.c) */
	char **all_labels;
	size_t nall_labels;
	/* remote mode (--server; read at start, see remote.h) */
	char *server;			/* base URL, NULL: local mode */
	char *token;			/* bearer secret, NULL: none */
	char *tls_ca, *tls_cert, *tls_key;	/* NULL: none */
	int64_t claim_wait_ms;
	uint64_t log_buffer;		/* unsent log bytes before a pause */
	int64_t retry_max_ms;		/* longest backoff */
	pid_t link_pid;			/* the remote link process; 0: none */
};
#define PROC_EXEC_LOCAL 0
#define PROC_EXEC_SLURM 1

/* settings.c: reads the settings from argv, the environment and the
 * config files into cfg, keeping argv for proc_reload.  Returns a
 * JS_CONFIG_* code (config.h): with JS_CONFIG_HELP the usage has been
 * printed, with JS_CONFIG_ERROR err says why; only with JS_CONFIG_OK does
 * cfg hold settings (to free with proc_config_free). */
int proc_config_load(struct proc_config *cfg, int argc, char **argv,
    char *err, size_t errlen);
/* settings.c: re-reads the settings (SIGHUP) into *cfg.  Returns 0, or -1
 * with a message in err (the old settings are then left unchanged). */
int proc_reload(struct proc_config *cfg, char *err, size_t errlen);
void proc_config_free(struct proc_config *cfg);
/* settings.c: whether every one of the job's "labels" is among the
 * processor's (all_labels) and, with --exclusive, the job asks for one of
 * them, by lib/sched's rule (js_sched_job_takes), the one the apiserver
 * applies to remote workers. */
int proc_labels_match(const struct proc_config *cfg, const json_t *job);

/* run.c: splits a string into words at blanks (no quoting); NULL-terminated
 * array, each word and the array malloc'ed.  Returns NULL on allocation
 * failure. */
char **proc_split_words(const char *s);
void proc_free_words(char **w);

/* loop.c: runs until a shutdown completes.  Returns the exit status. */
int proc_loop(struct js_spool *sp, struct proc_config *cfg);

/* ---- presence.c: the processor's registry entry (lib/registry) and the
 * pauses it obeys (lib/pause); times are monotonic ms ---- */
struct presence;
/* Prunes the registry of this host's dead processors and registers this
 * one.  NULL/ENOMEM. */
struct presence *presence_new(struct js_spool *sp,
    const struct proc_config *cfg);
/* Tells a service manager STOPPING=1 (once: at the shutdown's start, when
 * the loop calls it, else here), removes the registry entry (a stop) and
 * frees p; NULL: nothing. */
void presence_free(struct presence *p);
/* Tells a service manager STOPPING=1 now, the first time only: a shutdown
 * has begun (the running jobs get their grace period after it). */
void presence_stopping(struct presence *p);
/* Refreshes the entry if due (every lease/3, or running changed), with a
 * STATUS= to a service manager (NOTIFY_SOCKET, lib/sdnotify); at its first
 * call READY=1 (presence_next makes it due at once); WATCHDOG=1 when due. */
void presence_tick(struct presence *p, size_t running, int64_t now);
/* When presence_tick or presence_release is next due. */
int64_t presence_next(const struct presence *p);
/* Reads what is paused (before claims); 1 if the whole spool is. */
int presence_pause_read(struct presence *p);
/* Whether pending job id asks for a label paused at the last read: then
 * it is held (1), to be handed back by presence_release. */
int presence_hold(struct presence *p, const char *id);
/* Every JS_PAUSE_RECHECK_MS while something is paused or held: the held
 * ids (*ids, caller frees; to index again), their count. */
size_t presence_release(struct presence *p, int64_t now,
    char (**ids)[JS_ID_SIZE]);

/* ---- queue.c ---- */
struct js_queue;
struct js_queue *js_queue_new(void);
void js_queue_free(struct js_queue *q);
/* Whether id is in the index. */
int js_queue_contains(const struct js_queue *q, const char *id);
/* Adds a pending job; a job already present is left alone (returns 0).
 * Returns 0, or -1/ENOMEM. */
int js_queue_add(struct js_queue *q, const char *id, long long priority,
    long long seq, int64_t not_before_ms);
/* Removes a job (its file changed: a PUT of priority or start time is
 * indexed again).  1 if it was there, else 0.  O(jobs indexed). */
int js_queue_remove(struct js_queue *q, const char *id);
/* Takes the next job to claim: the highest priority, then the lowest seq,
 * among jobs whose not_before is at or before now_ms.  Copies its id into
 * id and removes it.  Returns 1, or 0 if no job is ready. */
int js_queue_pop(struct js_queue *q, int64_t now_ms, char id[JS_ID_SIZE]);
/* Earliest not_before (ms) among jobs waiting for it, or 0 if none. */
int64_t js_queue_next_ready(const struct js_queue *q);
size_t js_queue_len(const struct js_queue *q);

/* ---- run.c ---- */
/* What a spawn needs besides the job. */
struct run_spec {
	const char *id;
	char *const *argv;		/* argv[0] looked up in the job's PATH */
	const json_t *job;		/* env, cwd, stdin, limits */
	int logfd;			/* stdout and stderr */
	int drop;			/* switch credentials (root processor) */
	uid_t uid;
	gid_t gid;
	const char *user, *home;
	int keep_creds;			/* container CLI: run as the processor */
	int watcher;			/* an executor's helper for the job
					 * (not the job): no job cwd, limits
					 * or stdin */
};
#define RUN_LIMITS 5		/* "limits" a job may set (run.c) */
/* A job's process: prepared (run_prepare), then started (run_start) or
 * dropped (run_abort).  The child of run_start shares it (vfork) and
 * leaves its report in it. */
struct run_child {
	pid_t pid;			/* once started */
	char **env;			/* the job's environment */
	const char *path;		/* its PATH, searched for argv[0] */
	char **shargv;			/* /bin/sh FILE ARGS: exec's ENOEXEC */
	int in;				/* its stdin */
	const char *cwd;		/* the job's (in its json_t), or NULL */
	int lim_set[RUN_LIMITS];
	struct rlimit lim[RUN_LIMITS];
	/* the child's report */
	char step[64];			/* what failed ("" if nothing) */
	int err;			/* its errno */
	int recorded;			/* the run was recorded */
	int reached;			/* it got as far as exec */
};
/* Records a run from its child before it executes (js_spool_start_write
 * with the caller's struct js_start as arg): 0, or -1 with errno.  Called
 * between vfork and exec, so async-signal-safe.  pid_start: -1 if not
 * known. */
struct run_record {
	int (*write)(void *arg, int pid, long long pid_start);
	void *arg;
};
/* Raises the processor's soft limit of open files to its hard limit (each
 * running job holds two: its output pipe and its log); jobs are given the
 * limit it had before.  Called once, before any job. */
void run_raise_nofile(void);
/* Makes what a job's process needs (its environment, stdin, limits, cwd);
 * nothing runs yet.  0, or -1 with a message in err (nothing to free). */
int run_prepare(const struct run_spec *rs, struct run_child *rc, char *err,
    size_t errlen);
/* Starts the prepared job: own session and process group, tied to this
 * process's life, clean environment plus the job's env, cwd, stdin,
 * limits, credentials; then rec (if not NULL) records it, and only then
 * it executes argv[0] (searched in the job's PATH).  Returns once it has
 * executed: 0 with rc->pid set; or -1 with the message of what failed in
 * err (the child reaped; rc->recorded says whether rec had recorded it).
 * Either way rc's prepared resources are released. */
int run_start(const struct run_spec *rs, struct run_child *rc,
    const struct run_record *rec, char *err, size_t errlen);
/* Releases a prepared job's resources (started or not; twice is fine). */
void run_abort(struct run_child *rc);
/* The process group of the run a job file records ("pid", "pid_start"),
 * if it is still that run's: its leader alive with the recorded start
 * time, or (unless leader_alive) gone while stragglers may remain.  0 if
 * none, or if the pid now names another process. */
pid_t run_recorded_group(const json_t *job, int leader_alive);
/* Runs "/bin/sh -c cmd" detached (own session) with the data as stdin and
 * a clean environment plus extra (NULL-terminated "K=V" list).  Returns the
 * pid or -1. */
pid_t run_helper_sh(const char *cmd, const char *data, size_t len,
    char *const *extra_env);
/* Runs argv (execvp, processor's credentials, own session, stdio on
 * /dev/null).  Returns the pid or -1. */
pid_t run_helper_argv(char *const *argv);
/* Builds argv for a command/shell job (NULL-terminated, owned; free with
 * proc_free_words).  NULL with err if the job has neither. */
char **run_job_argv(const json_t *job, char *err, size_t errlen);

/* ---- container.c ---- */
/* Finds the default runtime: "podman" if installed, else "docker", else
 * "podman" (failing at run time with a clear error). */
const char *container_default_runtime(void);
/* Whether name is an acceptable --container-runtime (podman, docker or a
 * path to one of them). */
int container_runtime_ok(const char *name);
/* argv for: RUNTIME [global] run --rm --name jobspool-<id> [args] -e K=V ...
 * IMAGE CMD...; owned, free with proc_free_words.  NULL with err. */
char **container_argv(const struct proc_config *cfg, const char *id,
    const json_t *container, char *err, size_t errlen);
/* Starts "RUNTIME [global] stop -t SECS|kill jobspool-<id>" in the
 * background (SECS: grace_ms rounded up).  Returns the helper's pid or -1. */
pid_t container_signal(const struct proc_config *cfg, const char *id,
    int hard, int64_t grace_ms);

#endif
