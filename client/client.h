/*
 * client.h - jobspool(1), the command-line client, and how its pieces meet.
 *
 *   main.c        the program: cl_main
 *   cli.c         the options before the command, dispatch to it
 *   common.c      what the commands share: messages, the common options,
 *                 settings (flags, environment, config file), the choice
 *                 of local or remote mode, reading a file, JSON output
 *   args.c        submit's options into a job (pure; unit-tested)
 *   fmt.c         output for people: short ids, relative times, durations,
 *                 the ls table; the exit status of a job (pure; unit-tested)
 *   local.c       local mode: the spool through lib/ (no server)
 *   local_log.c   local mode: waiting and following with inotify, listing
 *   remote.c      remote mode: HTTP(S) with libcurl
 *   remote_api.c  remote mode: the routes, one function each; its ops
 *   cmd_submit.c  submit, batch
 *   cmd_wait.c    wait, log
 *   cmd_misc.c    show, ls, cancel, rm, rerun
 *
 * A backend (struct cl_ops) does the same things in both modes; the
 * commands call it only.  Errors are written into ctx->err (the server's
 * JSON error text as it came, or the library's message) and returned as -1.
 */
#ifndef JS_CLIENT_H
#define JS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "job.h"

#define CL_PROG "jobspool"

/* Exit statuses (jobspool(1), EXIT STATUS); a job's own exit code and
 * 128 + signal otherwise. */
enum {
	CL_EXIT_USAGE = 2,	/* bad flag or argument */
	CL_EXIT_NOCODE = 120,	/* failed with no exit code (could not start) */
	CL_EXIT_LOST = 121,	/* its processor was lost too often */
	CL_EXIT_CANCELLED = 122,
	CL_EXIT_PENDING = 123,	/* wait --timeout passed; not final yet */
	CL_EXIT_TIMEOUT = 124,	/* the job's own timeout killed it */
	CL_EXIT_ERROR = 125,	/* client error: server, spool, no such job */
};

struct cl_ctx;

/* What ls asks for. */
struct cl_filter {
	const char *state;	/* comma-separated statuses, or NULL */
	const char *name;
	const char *batch;
	const char *label;
	long limit;		/* at most this many, newest first */
};

/* A backend: local (the spool) or remote (the apiserver).  Each returns 0,
 * or -1 with ctx->err.  Jobs come back as new references. */
struct cl_ops {
	int (*submit)(struct cl_ctx *, const json_t *sub, const char *idem,
	    json_t **job);
	/* a batch: {"correlation_id": ..., "jobs": [ids]} */
	int (*batch)(struct cl_ctx *, const json_t *subs, json_t **out);
	/* the job without marking it retrieved */
	int (*get)(struct cl_ctx *, const char *id, json_t **job);
	/* waits until final or timeout_ms (-1: no limit) passed; *final */
	int (*wait)(struct cl_ctx *, const char *id, int64_t timeout_ms,
	    json_t **job, int *final);
	/* writes the log from offset to out; follow: until the job ends */
	int (*log)(struct cl_ctx *, const char *id, long long offset,
	    int follow, FILE *out);
	/* the logs of a batch (as batch answered it) merged, each line
	 * prefixed by its job id, until every job of it has ended */
	int (*batch_log)(struct cl_ctx *, const json_t *batch, FILE *out);
	int (*list)(struct cl_ctx *, const struct cl_filter *, json_t **jobs);
	/* cancel: *job as it is after (running: cancel_requested) */
	int (*cancel)(struct cl_ctx *, const char *id, json_t **job);
	int (*remove)(struct cl_ctx *, const char *id);
	int (*rerun)(struct cl_ctx *, const char *id, json_t **job);
	void (*close)(struct cl_ctx *);
};

struct cl_ctx {
	const struct cl_ops *ops;
	int json;		/* --json */
	int quiet;
	char err[1024];
	/* settings (owned strings) */
	char *spool, *url, *token, *tls_ca, *tls_cert, *tls_key;
	void *be;		/* the backend's state */
};

/* cli.c */
int cl_main(int argc, char **argv);
/* common.c */
/* Handles an option every subcommand takes (--json, --spool, --url,
 * --token-file, --tls-*): 1 if it was one, 0 if not, -1 bad (err). */
int cl_common_opt(struct cl_ctx *ctx, int opt, const char *arg);
/* getopt_long entries of the common options, and their ids */
enum { OPT_JSON = 1000, OPT_SPOOL, OPT_URL, OPT_TOKEN_FILE, OPT_TLS_CA,
	OPT_TLS_CERT, OPT_TLS_KEY, OPT_HELP, OPT_FIRST_CMD };
#define CL_COMMON_LONGOPTS \
	{ "json", no_argument, NULL, OPT_JSON }, \
	{ "spool", required_argument, NULL, OPT_SPOOL }, \
	{ "url", required_argument, NULL, OPT_URL }, \
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE }, \
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA }, \
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT }, \
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY }, \
	{ "help", no_argument, NULL, OPT_HELP }
/* Opens the backend the settings choose (once; commands call it after
 * their options).  0, or -1 with ctx->err (usage problems: *usage). */
int cl_open(struct cl_ctx *ctx, int *usage);
/* cl_open for a command: 0, or the exit status after printing why
 * (2 for a usage problem, 125 otherwise). */
int cl_ready(struct cl_ctx *ctx);
/* Prints the usage text (--help) on stdout. */
void cl_help(void);
/* Prints "jobspool: MSG" on stderr. */
void cl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error of cmd: message and a hint; returns CL_EXIT_USAGE. */
int cl_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* An error from ctx->err; returns CL_EXIT_ERROR. */
int cl_fail(struct cl_ctx *ctx);
/* Resolves a unique prefix of a job id into id (37 bytes).  0, or -1. */
int cl_resolve(struct cl_ctx *ctx, const char *arg, char id[37]);
/* Prints a JSON value compact on one line (scripts) to stdout, without
 * a job's "seq". */
void cl_print_json(json_t *v);

/* args.c: submit's options. */
struct cl_submit {
	json_t *job;		/* the submission being built */
	const char *idem;	/* --idempotency-key */
	int wait, follow;	/* -w, -f */
	int shell, container;	/* --shell / --container given */
	const char *file;	/* --file */
};
/* Parses submit's argv (argv[0] is "submit") into s and ctx's common
 * options.  0, or -1 with a message in err (a usage error). */
int cl_submit_args(struct cl_ctx *ctx, struct cl_submit *s, int argc,
    char **argv, char *err, size_t errlen);
/* Reads a whole file ("-": stdin) into a new string.  NULL with err. */
char *cl_read_file(const char *path, size_t *len, char *err, size_t errlen);

/* fmt.c */
/* The exit status for a job as stored (see the enum above). */
int cl_job_exit(const json_t *job);
/* "3 s ago", "5 min ago", "2 h ago", "4 d ago" (from ms at now_ms). */
#define CL_AGO_SIZE 32
void cl_ago(int64_t ms, int64_t now_ms, char out[CL_AGO_SIZE]);
/* The run time of a job ("1.2 s"; "-" if it never started), running
 * jobs counted until now_ms. */
void cl_job_duration(const json_t *job, int64_t now_ms, char out[32]);
/* What a job runs, for one table cell: the command with its words
 * quoted as a shell would need, the shell line, or "container IMAGE". */
char *cl_job_what(const json_t *job);
/* The ls table of jobs (an array) at now_ms. */
void cl_print_table(FILE *fp, const json_t *jobs, int64_t now_ms);
/* The shortest prefix length (at least 8) that tells every id of jobs
 * apart. */
size_t cl_short_len(const json_t *jobs);
/* One line about a final (or not) job: "ID completed, exit 0, 1.2 s". */
void cl_print_outcome(FILE *fp, const json_t *job, int64_t now_ms);
/* The human form of one job (show). */
void cl_print_job(FILE *fp, const json_t *job, int64_t now_ms);

/* local.c, remote.c: the backends. */
int cl_local_open(struct cl_ctx *ctx);
int cl_remote_open(struct cl_ctx *ctx);

/* the subcommands: each takes its own argv (argv[0] its name) and returns
 * the exit status */
int cmd_submit(struct cl_ctx *ctx, int argc, char **argv);
int cmd_batch(struct cl_ctx *ctx, int argc, char **argv);
int cmd_wait(struct cl_ctx *ctx, int argc, char **argv);
int cmd_log(struct cl_ctx *ctx, int argc, char **argv);
int cmd_show(struct cl_ctx *ctx, int argc, char **argv);
int cmd_ls(struct cl_ctx *ctx, int argc, char **argv);
int cmd_cancel(struct cl_ctx *ctx, int argc, char **argv);
int cmd_rm(struct cl_ctx *ctx, int argc, char **argv);
int cmd_rerun(struct cl_ctx *ctx, int argc, char **argv);
/* Waits for a job (after submit -w/-f too) and returns its exit status;
 * prints the job (--json) or its outcome to fp (NULL: nothing). */
int cl_wait_one(struct cl_ctx *ctx, const char *id, int64_t timeout_ms,
    FILE *fp);
/* getopt_long of a command over the common options and lo (may be NULL),
 * calling fn(arg, opt, value) for the command's own (-1: a bad value).
 * 0, -1 after --help was printed, or the exit status of a usage error. */
struct option;
int cl_opts(struct cl_ctx *ctx, int argc, char **argv, const char *shorts,
    const struct option *lo, int (*fn)(void *, int, const char *),
    void *arg);

#endif
