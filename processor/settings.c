/*
 * settings.c - jobspool-processor's settings: the table of options read
 * through lib/config (command line, environment, config files), the checks
 * of their values, the processor's label list, SIGHUP reload and free.
 * See jobspool-processor(8) and proc.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "sched.h"
#include "slurm.h"
#include "spool.h"

static int check_executor(const char *v, char *why, size_t whylen);
static int check_words(const char *v, char *why, size_t whylen);
static int check_runtime(const char *v, char *why, size_t whylen);
static int check_slurm_label(const char *v, char *why, size_t whylen);
static int check_label(const char *v, char *why, size_t whylen);
static int check_server(const char *v, char *why, size_t whylen);
static int check_token(const char *v, char *why, size_t whylen);
static int check_url(const char *v, char *why, size_t whylen);
static int check_chat(const char *v, char *why, size_t whylen);
static int check_notify_on(const char *v, char *why, size_t whylen);

static const struct js_opt opt_template[] = {
	{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR,
	  .def = "./spool", .metavar = "DIR", .help = "spool directory "
	  "(created if missing)",
	  .check = js_check_nonempty },
	{ .name = "jobs", .short_flag = 'j', .type = JS_OPT_INT, .def = "0",
	  .metavar = "N", .help = "jobs run at once (0: number of CPUs)",
	  .min = 0, .max = 4096 },
	{ .name = "lease", .type = JS_OPT_DURATION, .def = "60s",
	  .metavar = "DURATION", .help = "a running job's lease; heartbeat "
	  "every third of it", .min = 1000, .max = 604800000 },
	{ .name = "kill-grace", .type = JS_OPT_DURATION, .def = "5s",
	  .metavar = "DURATION", .help = "SIGTERM to SIGKILL delay" },
	{ .name = "shutdown-grace", .type = JS_OPT_DURATION, .def = "30s",
	  .metavar = "DURATION", .help = "on SIGTERM, time running jobs get "
	  "before they are killed and requeued" },
	{ .name = "scan-interval", .type = JS_OPT_DURATION, .def = "2s",
	  .metavar = "DURATION", .help = "full rescan of the spool and lease "
	  "recovery every DURATION", .min = 10, .max = 86400000 },
	{ .name = "user", .short_flag = 'u', .type = JS_OPT_STR,
	  .def = "nobody", .metavar = "NAME", .help = "when run as root, run "
	  "jobs as this user (\"root\": do not switch)" },
	{ .name = "container-runtime", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "podman|docker", .help = "container CLI (default: "
	  "whichever is installed)", .check = check_runtime },
	{ .name = "container-global-args", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "ARGS", .help = "words put before \"run\", e.g. "
	  "\"--runtime runc\"", .check = check_words },
	{ .name = "container-args", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "ARGS", .help = "words put right after \"run\"",
	  .check = check_words },
	{ .name = "max-log-size", .type = JS_OPT_SIZE, .def = "100M",
	  .metavar = "SIZE", .help = "a job's log stops growing at SIZE: "
	  "further output is dropped (the job runs on) and the job records "
	  "\"log_truncated\": true (0: no cap)" },
	{ .name = "notify-command", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "CMD", .help = "run with /bin/sh -c, the final job JSON "
	  "on stdin, when a job ends" },
	{ .name = "notify-on", .type = JS_OPT_STR,
	  .def = "completed,failed,cancelled", .metavar = "LIST",
	  .help = "the outcomes that notify (command, URL, Telegram): a comma "
	  "list of completed, failed, cancelled", .check = check_notify_on },
	{ .name = "notify-url", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "URL", .help = "POST the final job JSON to this webhook "
	  "when a job ends (queued in SPOOL/notify, retried; read at start)",
	  .check = check_url },
	{ .name = "notify-telegram", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "CHAT_ID", .help = "send a message to this Telegram chat "
	  "when a job ends (needs --notify-telegram-token-file; read at "
	  "start)", .check = check_chat },
	{ .name = "notify-telegram-token-file", .type = JS_OPT_STR,
	  .def = NULL, .metavar = "FILE", .help = "the Telegram bot's token: "
	  "the first line of FILE" },
	{ .name = "notify-telegram-api", .type = JS_OPT_STR,
	  .def = "https://api.telegram.org", .metavar = "URL",
	  .help = "the Telegram Bot API's base URL", .check = check_url },
	{ .name = "status-url", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "URL", .help = "the status page (the apiserver's /), "
	  "linked from messages as URL/#job=ID", .check = check_url },
	{ .name = "notify-retry-max", .type = JS_OPT_DURATION, .def = "5m",
	  .metavar = "DURATION", .help = "longest wait between two tries of "
	  "a notification (from 1s, doubling)", .min = 1000,
	  .max = 86400000 },
	{ .name = "notify-give-up", .type = JS_OPT_DURATION, .def = "24h",
	  .metavar = "DURATION", .help = "a notification not sent for this "
	  "long is dropped, with a log line", .min = 1000,
	  .max = 2592000000LL },
	{ .name = "executor", .type = JS_OPT_STR, .def = "local",
	  .metavar = "local|slurm", .help = "where command and shell jobs "
	  "run: here, or on Slurm through sbatch (read at start)",
	  .check = check_executor },
	{ .name = "slurm-bin-dir", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "DIR", .help = "directory of sbatch, squeue, scontrol, "
	  "scancel and sacct (default: PATH)", .check = js_check_abs_path },
	{ .name = "slurm-output-dir", .type = JS_OPT_STR, .def = "/tmp",
	  .metavar = "DIR", .help = "where Slurm writes a job's output, "
	  "copied into its log (readable here: same node or shared)",
	  .check = js_check_abs_path },
	{ .name = "slurm-conf", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "FILE", .help = "SLURM_CONF for Slurm's commands "
	  "(default: the processor's SLURM_CONF, else Slurm's own)",
	  .check = js_check_abs_path },
	{ .name = "slurm-poll", .type = JS_OPT_DURATION, .def = "2s",
	  .metavar = "DURATION", .help = "longest wait between two questions "
	  "to Slurm about a job (from 250ms, doubling)", .min = 10,
	  .max = 86400000 },
	{ .name = "slurm-label", .type = JS_OPT_LIST, .def = NULL,
	  .metavar = "LABEL=ARGS", .help = "sbatch arguments for jobs "
	  "with that label, e.g. gpu=--gres=gpu:1 (repeatable)",
	  .check = check_slurm_label },
	{ .name = "label", .type = JS_OPT_LIST, .def = NULL,
	  .metavar = "LABEL", .help = "run only jobs whose labels are all "
	  "among these (repeatable)", .check = check_label },
	{ .name = "exclusive", .type = JS_OPT_BOOL, .def = "no",
	  .help = "a dedicated processor: run only jobs that ask for one of "
	  "its labels, never unlabelled ones (needs --label)" },
	{ .name = "server", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "URL", .help = "remote mode: claim jobs from this "
	  "apiserver (http:// or https://); --spool is then a local work "
	  "directory", .check = check_server },
	{ .name = "token", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "SECRET", .help = "remote mode: bearer token with the "
	  "worker role", .check = check_token, .secret = 1 },
	{ .name = "token-file", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "FILE", .help = "remote mode: read the token from the "
	  "first line of FILE" },
	{ .name = "tls-ca", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "FILE", .help = "remote mode: CA certificates to verify "
	  "the server with (default: the system's)" },
	{ .name = "tls-cert", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "FILE", .help = "remote mode: client certificate (PEM) "
	  "for mutual TLS" },
	{ .name = "tls-key", .type = JS_OPT_STR, .def = NULL,
	  .metavar = "FILE", .help = "remote mode: the client certificate's "
	  "private key (PEM)" },
	{ .name = "claim-wait", .type = JS_OPT_DURATION, .def = "30s",
	  .metavar = "DURATION", .help = "remote mode: how long one claim "
	  "request waits for a job (at most 300s)", .min = 0, .max = 300000 },
	{ .name = "log-buffer", .type = JS_OPT_SIZE, .def = "64M",
	  .metavar = "SIZE", .help = "remote mode: unsent log bytes kept "
	  "before the job is paused (SIGSTOP) until they are sent",
	  .min = 4096, .max = 1LL << 40 },
	{ .name = "retry-max", .type = JS_OPT_DURATION, .def = "30s",
	  .metavar = "DURATION", .help = "remote mode: longest wait between "
	  "two tries when the server is unreachable (from 250ms, doubling, "
	  "with jitter)", .min = 250, .max = 86400000 },
	{ .name = "log-level", .type = JS_OPT_STR, .def = "info",
	  .metavar = "LEVEL", .help = "error, warning, info or debug",
	  .check = js_log_level_check },
	{ .name = "syslog", .type = JS_OPT_BOOL, .def = "no",
	  .help = "log to syslog (daemon facility) instead of stderr" },
};
#define NOPTS (sizeof opt_template / sizeof opt_template[0])

static int saved_argc;
static char **saved_argv;

static long long
num(struct js_opt *o, const char *name)
{
	return js_config_get(o, NOPTS, name)->num;
}

static const char *
str(struct js_opt *o, const char *name)
{
	return js_config_get(o, NOPTS, name)->str;
}

static int
check_executor(const char *v, char *why, size_t whylen)
{
	if (strcmp(v, "local") == 0 || strcmp(v, "slurm") == 0)
		return 0;
	snprintf(why, whylen, "expected local or slurm");
	return -1;
}

/* proc_split_words splits at blanks only: a quote would reach the
 * container CLI as a character of a word. */
static int
check_words(const char *v, char *why, size_t whylen)
{
	if (strpbrk(v, "'\"\\") == NULL)
		return 0;
	snprintf(why, whylen, "quotes and backslashes are not interpreted "
	    "(words are split at blanks); remove them");
	return -1;
}

static int
check_runtime(const char *v, char *why, size_t whylen)
{
	if (v[0] == '\0' || container_runtime_ok(v))
		return 0;
	snprintf(why, whylen, "expected podman or docker (or an absolute path "
	    "to one)");
	return -1;
}

static int
check_slurm_label(const char *v, char *why, size_t whylen)
{
	char *one[2] = { (char *)v, NULL };
	char err[512];
	const char *m;

	if (slurm_labels_ok(one, err, sizeof err) == 0)
		return 0;
	/* slurm_labels_ok's message repeats the value: keep its reason */
	m = strstr(err, "must be");
	if (m == NULL && (m = strstr(err, "': ")) != NULL)
		m += 3;
	snprintf(why, whylen, "%s", m != NULL ? m : err);
	return -1;
}

static int
check_label(const char *v, char *why, size_t whylen)
{
	if (js_label_valid(v))
		return 0;
	snprintf(why, whylen, "1 to 64 letters, digits, '-', '_' or '.'");
	return -1;
}

static int
check_server(const char *v, char *why, size_t whylen)
{
	if (v[0] == '\0' ||
	    ((strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) &&
	    v[strncmp(v, "https", 5) == 0 ? 8 : 7] != '\0' &&
	    strpbrk(v, " \t\r\n?#") == NULL))
		return 0;
	snprintf(why, whylen, "expected http://HOST[:PORT] or "
	    "https://HOST[:PORT]");
	return -1;
}

static int
check_token(const char *v, char *why, size_t whylen)
{
	if (strpbrk(v, " \t\r\n") == NULL)
		return 0;
	snprintf(why, whylen, "no blanks allowed");
	return -1;
}

static int
check_url(const char *v, char *why, size_t whylen)
{
	size_t i, skip = strncmp(v, "https://", 8) == 0 ? 8 :
	    strncmp(v, "http://", 7) == 0 ? 7 : 0;

	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
			break;
	if (v[0] == '\0' || (skip > 0 && v[skip] != '\0' &&
	    v[skip] != '/' && v[i] == '\0' && strlen(v) < 1024))
		return 0;
	snprintf(why, whylen, "expected an http:// or https:// URL (no "
	    "blanks, under 1024 bytes)");
	return -1;
}

/* A Telegram chat: a number (negative for groups) or @channelname. */
static int
check_chat(const char *v, char *why, size_t whylen)
{
	size_t i = v[0] == '-' || v[0] == '@' ? 1 : 0;
	int at = v[0] == '@';

	if (v[0] == '\0')
		return 0;
	for (; v[i] != '\0' && i < 64; i++)
		if (!(v[i] >= '0' && v[i] <= '9') && !(at && ((v[i] >= 'a' &&
		    v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '_')))
			break;
	if (v[i] == '\0' && i > (size_t)(v[0] == '-' || at))
		return 0;
	snprintf(why, whylen, "expected a chat id (digits, '-' first for a "
	    "group) or @channelname");
	return -1;
}

/* "completed,failed" into JS_STATE_BIT()s.  0, or -1 for a word that is
 * no outcome (or an empty list). */
static int
notify_on_parse(const char *v, unsigned *mask)
{
	const char *p = v;
	size_t len;
	int st;
	char w[16];

	*mask = 0;
	while (*p != '\0') {
		len = strcspn(p, ",");
		if (len == 0 || len >= sizeof w)
			return -1;
		memcpy(w, p, len);
		w[len] = '\0';
		st = js_state_from_ext(w);
		if (st < 0 || (JS_STATE_BIT(st) & JS_FINAL_MASK) == 0)
			return -1;
		*mask |= JS_STATE_BIT(st);
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	return *mask != 0 ? 0 : -1;
}

static int
check_notify_on(const char *v, char *why, size_t whylen)
{
	unsigned mask;

	if (v[0] == '\0' || notify_on_parse(v, &mask) == 0)
		return 0;
	snprintf(why, whylen, "expected a comma list of completed, failed, "
	    "cancelled");
	return -1;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

void
proc_config_free(struct proc_config *cfg)
{
	free(cfg->spool);
	free(cfg->notify_command);
	free(cfg->notify_url);
	free(cfg->notify_chat);
	if (cfg->notify_bot_token != NULL)
		explicit_bzero(cfg->notify_bot_token,
		    strlen(cfg->notify_bot_token));
	free(cfg->notify_bot_token);
	free(cfg->notify_api);
	free(cfg->status_url);
	free(cfg->runtime);
	proc_free_words(cfg->runtime_global);
	proc_free_words(cfg->container_args);
	free(cfg->slurm_bindir);
	free(cfg->slurm_outdir);
	free(cfg->slurm_conf);
	proc_free_words(cfg->slurm_labels);
	proc_free_words(cfg->labels);
	proc_free_words(cfg->all_labels);
	free(cfg->server);
	if (cfg->token != NULL)
		explicit_bzero(cfg->token, strlen(cfg->token));
	free(cfg->token);
	free(cfg->tls_ca);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->user);
	free(cfg->home);
	memset(cfg, 0, sizeof *cfg);
}

/* The executor and the Slurm settings.  0, or -1 with err. */
static int
load_executor(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	const char *ex = str(o, "executor"), *conf = str(o, "slurm-conf");
	struct js_opt *labels = NULL;
	size_t i;

	/* executor, slurm-poll, slurm-output-dir and slurm-label are
	 * checked by the table */
	cfg->executor = strcmp(ex, "slurm") == 0 ? PROC_EXEC_SLURM :
	    PROC_EXEC_LOCAL;
	cfg->slurm_poll_ms = num(o, "slurm-poll");
	if (conf == NULL || *conf == '\0')
		conf = getenv("SLURM_CONF");
	cfg->slurm_conf = dup_or_null(conf);
	cfg->slurm_bindir = strdup(str(o, "slurm-bin-dir") ?
	    str(o, "slurm-bin-dir") : "");
	cfg->slurm_outdir = strdup(str(o, "slurm-output-dir"));
	for (i = 0; i < NOPTS; i++)
		if (strcmp(o[i].name, "slurm-label") == 0)
			labels = &o[i];
	cfg->slurm_labels = calloc(labels->nlist + 1, sizeof *cfg->slurm_labels);
	if (cfg->slurm_bindir == NULL || cfg->slurm_outdir == NULL ||
	    cfg->slurm_labels == NULL || (conf != NULL && cfg->slurm_conf == NULL)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < labels->nlist; i++)
		if ((cfg->slurm_labels[i] = strdup(labels->list[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	return 0;
}

/* Builds cfg->all_labels from its --label words and, under the Slurm
 * executor, the names of its --slurm-label mappings (each name once).
 * 0, or -1 with err. */
static int
all_labels_build(struct proc_config *cfg, char *err, size_t errlen)
{
	char *const *w;
	size_t n = 0, i, len;
	char *name;

	proc_free_words(cfg->all_labels);
	cfg->all_labels = NULL;
	cfg->nall_labels = 0;
	for (w = cfg->labels; w != NULL && *w != NULL; w++)
		n++;
	for (w = cfg->slurm_labels; w != NULL && *w != NULL; w++)
		n++;
	if ((cfg->all_labels = calloc(n + 1, sizeof *cfg->all_labels)) == NULL)
		goto nomem;
	n = 0;
	for (w = cfg->labels; w != NULL && *w != NULL; w++)
		if ((cfg->all_labels[n++] = strdup(*w)) == NULL)
			goto nomem;
	cfg->nall_labels = n;
	if (cfg->executor != PROC_EXEC_SLURM)
		return 0;
	for (w = cfg->slurm_labels; w != NULL && *w != NULL; w++) {
		len = strcspn(*w, "=");		/* "LABEL=args": checked */
		for (i = 0; i < n; i++)
			if (strncmp(cfg->all_labels[i], *w, len) == 0 &&
			    cfg->all_labels[i][len] == '\0')
				break;
		if (i < n)
			continue;
		if ((name = strndup(*w, len)) == NULL)
			goto nomem;
		cfg->all_labels[n++] = name;
		cfg->nall_labels = n;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

int
proc_labels_match(const struct proc_config *cfg, const json_t *job)
{
	return js_sched_job_takes(job, (const char *const *)cfg->all_labels,
	    cfg->nall_labels, cfg->exclusive);
}

/* Reads the first line of a token file.  NULL with err. */
static char *
read_token_file(const struct js_opt *o, char *err, size_t errlen)
{
	char buf[4096], *nl;
	ssize_t n;
	int fd = open(o->str, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		js_config_bad(o, err, errlen, "%s", strerror(errno));
		return NULL;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0) {
		js_config_bad(o, err, errlen, "%s", strerror(errno));
		return NULL;
	}
	buf[n] = '\0';
	nl = strpbrk(buf, "\r\n");
	if (nl != NULL)
		*nl = '\0';
	if (buf[0] == '\0') {
		js_config_bad(o, err, errlen, "its first line is empty");
		return NULL;
	}
	nl = strdup(buf);
	explicit_bzero(buf, sizeof buf);
	if (nl == NULL)
		snprintf(err, errlen, "out of memory");
	return nl;
}

/* The --label words, each once (at most JS_LABELS_MAX; each word checked
 * by the table).  0, or -1 with err. */
static int
load_labels(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	struct js_opt *lab = js_config_get(o, NOPTS, "label");
	size_t i, j;

	cfg->labels = calloc(lab->nlist + 1, sizeof *cfg->labels);
	if (cfg->labels == NULL)
		goto nomem;
	for (i = 0; i < lab->nlist; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(lab->list[i], lab->list[j]) == 0)
				break;
		if (j < i)
			continue;
		if ((cfg->labels[i] = strdup(lab->list[i])) == NULL)
			goto nomem;
	}
	/* (a repeated label left a hole: close it) */
	for (i = j = 0; i < lab->nlist; i++)
		if (cfg->labels[i] != NULL)
			cfg->labels[j++] = cfg->labels[i];
	cfg->labels[j] = NULL;
	if (j > JS_LABELS_MAX) {
		snprintf(err, errlen, "%s: bad value for label: at most %d "
		    "labels", js_config_where(lab), JS_LABELS_MAX);
		return -1;
	}
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Remote mode's bearer token: --token, or the first line of --token-file
 * (one of them, or neither).  0, or -1 with err. */
static int
load_token(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	const char *tok = str(o, "token"), *tokfile = str(o, "token-file");
	int has_tok = tok != NULL && tok[0] != '\0';
	int has_file = tokfile != NULL && tokfile[0] != '\0';

	if (has_tok && has_file) {
		snprintf(err, errlen, "give --token or --token-file, not both");
		return -1;
	}
	if (has_tok) {
		if ((cfg->token = strdup(tok)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	} else if (has_file) {
		if ((cfg->token = read_token_file(js_config_get(o, NOPTS,
		    "token-file"), err, errlen)) == NULL)
			return -1;
	}
	if (cfg->token != NULL && strpbrk(cfg->token, " \t\r\n") != NULL) {
		snprintf(err, errlen, "%s: bad value for token-file: its first "
		    "line has blanks", js_config_where(js_config_get(o, NOPTS,
		    "token-file")));
		return -1;
	}
	return 0;
}

/* Remote mode's TLS files (each readable now); a client certificate goes
 * with its key.  0, or -1 with err. */
static int
load_tls(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	static const char *const tls[3] = { "tls-ca", "tls-cert", "tls-key" };
	char **dst[3];
	size_t i;

	dst[0] = &cfg->tls_ca;
	dst[1] = &cfg->tls_cert;
	dst[2] = &cfg->tls_key;
	for (i = 0; i < 3; i++) {
		const char *v = str(o, tls[i]);
		if (v == NULL || v[0] == '\0')
			continue;
		if (access(v, R_OK) < 0) {
			js_config_bad(js_config_get(o, NOPTS, tls[i]), err, errlen,
			    "%s", strerror(errno));
			return -1;
		}
		if ((*dst[i] = strdup(v)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return -1;
	}
	return 0;
}

/* The remote-mode settings: the server, its token and TLS files, and the
 * claim, log and retry bounds.  0, or -1 with err. */
static int
load_remote(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	const char *server = str(o, "server"), *tok = str(o, "token");
	const char *tokfile = str(o, "token-file");
	size_t i;

	cfg->claim_wait_ms = num(o, "claim-wait");
	cfg->log_buffer = (uint64_t)num(o, "log-buffer");
	cfg->retry_max_ms = num(o, "retry-max");	/* bounds: the table */
	if (server == NULL || server[0] == '\0') {
		if ((tok != NULL && tok[0] != '\0') ||
		    (tokfile != NULL && tokfile[0] != '\0')) {
			snprintf(err, errlen, "--token and --token-file need "
			    "--server");
			return -1;
		}
		return 0;
	}
	if ((cfg->server = strdup(server)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* no trailing slash: routes are appended */
	for (i = strlen(cfg->server); i > 0 && cfg->server[i - 1] == '/'; i--)
		cfg->server[i - 1] = '\0';
	if (load_token(cfg, o, err, errlen) < 0)
		return -1;
	return load_tls(cfg, o, err, errlen);
}

/* The spool, the log, the job slots (-j 0: one per CPU), the durations,
 * the log size limit and the notify command (values checked by the
 * table).  0, or -1 with err. */
static int
load_general(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	const char *notify = str(o, "notify-command");
	long ncpu;

	cfg->log_level = js_log_level_parse(str(o, "log-level")); /* checked */
	cfg->use_syslog = (int)num(o, "syslog");
	cfg->jobs = (int)num(o, "jobs");
	if (cfg->jobs == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		cfg->jobs = ncpu > 0 ? (int)(ncpu < 4096 ? ncpu : 4096) : 1;
	}
	cfg->lease_ms = num(o, "lease");
	cfg->kill_grace_ms = num(o, "kill-grace");
	cfg->shutdown_grace_ms = num(o, "shutdown-grace");
	cfg->scan_interval_ms = num(o, "scan-interval");
	cfg->max_log_size = (uint64_t)num(o, "max-log-size");
	cfg->spool = strdup(str(o, "spool"));
	cfg->notify_command = dup_or_null(notify);
	if (cfg->spool == NULL || (cfg->notify_command == NULL &&
	    notify != NULL && notify[0] != '\0')) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* A copy of URL v ("": NULL) without trailing slashes into *dst.  0, or
 * -1 with err. */
static int
dup_url(char **dst, const char *v, char *err, size_t errlen)
{
	size_t i;

	*dst = NULL;
	if (v == NULL || v[0] == '\0')
		return 0;
	if ((*dst = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = strlen(*dst); i > 0 && (*dst)[i - 1] == '/'; i--)
		(*dst)[i - 1] = '\0';
	return 0;
}

/* The built-in notifiers: the outcomes that notify, the webhook, the
 * Telegram chat with its bot token (from a file, only with a chat), the
 * status page's address and the retry bounds.  0, or -1 with err. */
static int
load_notify(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	const char *on = str(o, "notify-on"), *chat = str(o, "notify-telegram");
	struct js_opt *tf = js_config_get(o, NOPTS,
	    "notify-telegram-token-file");
	int has_chat = chat != NULL && chat[0] != '\0';
	int has_file = tf->str != NULL && tf->str[0] != '\0';

	if (on == NULL || on[0] == '\0' ||
	    notify_on_parse(on, &cfg->notify_on) < 0)	/* checked */
		cfg->notify_on = JS_FINAL_MASK;
	cfg->notify_retry_max_ms = num(o, "notify-retry-max");
	cfg->notify_give_up_ms = num(o, "notify-give-up");
	if (has_chat != has_file) {
		snprintf(err, errlen, "--notify-telegram and "
		    "--notify-telegram-token-file go together");
		return -1;
	}
	if (dup_url(&cfg->notify_url, str(o, "notify-url"), err, errlen) < 0 ||
	    dup_url(&cfg->notify_api, str(o, "notify-telegram-api"), err,
	    errlen) < 0 ||
	    dup_url(&cfg->status_url, str(o, "status-url"), err, errlen) < 0)
		return -1;
	if (!has_chat)
		return 0;
	if ((cfg->notify_chat = strdup(chat)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((cfg->notify_bot_token = read_token_file(tf, err, errlen)) == NULL)
		return -1;
	/* it goes into the path of the Bot API's URL */
	if (strpbrk(cfg->notify_bot_token, " \t/?#%") != NULL ||
	    strlen(cfg->notify_bot_token) > 256)
		return js_config_bad(tf, err, errlen, "its first line is no "
		    "bot token (at most 256 bytes; no blanks, '/', '?', '#' or "
		    "'%%')");
	if (cfg->notify_api == NULL) {
		snprintf(err, errlen, "--notify-telegram needs "
		    "--notify-telegram-api");
		return -1;
	}
	return 0;
}

/* The container runtime (given, or the default found on this host) and
 * the words given to it.  0, or -1 with err. */
static int
load_container(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	const char *rt = str(o, "container-runtime");

	if (rt == NULL || rt[0] == '\0')
		rt = container_default_runtime();
	if (!container_runtime_ok(rt)) {	/* a given one is checked */
		snprintf(err, errlen, "bad default container runtime '%s'", rt);
		return -1;
	}
	cfg->runtime = strdup(rt);
	cfg->runtime_global = proc_split_words(str(o, "container-global-args"));
	cfg->container_args = proc_split_words(str(o, "container-args"));
	if (cfg->runtime == NULL || cfg->runtime_global == NULL ||
	    cfg->container_args == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Whom jobs run as: --user (when root; a user other than root, whose uid
 * is not 0), else the processor's own user.  0, or -1 with err. */
static int
load_user(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	const char *user = str(o, "user");
	struct passwd *pw;

	if (geteuid() == 0 && user != NULL && user[0] != '\0' &&
	    strcmp(user, "root") != 0) {
		errno = 0;
		pw = getpwnam(user);
		if (pw == NULL) {
			js_config_bad(js_config_get(o, NOPTS, "user"), err,
			    errlen, "%s", errno ? strerror(errno) :
			    "no such user");
			return -1;
		}
		if (pw->pw_uid == 0) {
			js_config_bad(js_config_get(o, NOPTS, "user"), err,
			    errlen, "it has uid 0; use --user root to run jobs "
			    "as root");
			return -1;
		}
		cfg->run_as = 1;
		cfg->uid = pw->pw_uid;
		cfg->gid = pw->pw_gid;
		cfg->user = strdup(pw->pw_name);
		cfg->home = strdup(pw->pw_dir);
	} else {
		pw = getpwuid(geteuid());
		cfg->user = strdup(pw ? pw->pw_name : "root");
		cfg->home = strdup(pw ? pw->pw_dir : "/");
	}
	if (cfg->user == NULL || cfg->home == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The labels the processor takes jobs by (all_labels_build) and
 * --exclusive, which needs one.  0, or -1 with err. */
static int
load_claim_labels(struct proc_config *cfg, struct js_opt *o, char *err,
    size_t errlen)
{
	if (all_labels_build(cfg, err, errlen) < 0)
		return -1;
	cfg->exclusive = (int)num(o, "exclusive");
	if (cfg->exclusive && cfg->nall_labels == 0) {
		js_config_bad(js_config_get(o, NOPTS, "exclusive"), err, errlen,
		    "a dedicated processor takes only jobs that ask for one of "
		    "its labels: give --label too");
		return -1;
	}
	return 0;
}

/* Parses argv, environment and config file into cfg (with print_help,
 * --help prints the usage).  Returns a JS_CONFIG_* code; on
 * JS_CONFIG_ERROR err says why. */
static int
load(struct proc_config *cfg, char *err, size_t errlen, int print_help)
{
	struct js_opt o[NOPTS];
	int rc;

	memcpy(o, opt_template, sizeof o);
	rc = js_config_parse(o, NOPTS, saved_argc, saved_argv, err, errlen);
	if (rc == JS_CONFIG_HELP && print_help)
		js_config_usage(stdout, PROG, "runs the jobs of a jobspool spool",
		    o, NOPTS);
	if (rc != JS_CONFIG_OK) {
		js_config_free(o, NOPTS);
		return rc;
	}
	memset(cfg, 0, sizeof *cfg);
	if (load_general(cfg, o, err, errlen) < 0 ||
	    load_container(cfg, o, err, errlen) < 0 ||
	    load_executor(cfg, o, err, errlen) < 0 ||
	    load_labels(cfg, o, err, errlen) < 0 ||
	    load_remote(cfg, o, err, errlen) < 0 ||
	    load_notify(cfg, o, err, errlen) < 0 ||
	    load_user(cfg, o, err, errlen) < 0 ||
	    load_claim_labels(cfg, o, err, errlen) < 0) {
		js_config_free(o, NOPTS);
		proc_config_free(cfg);
		return JS_CONFIG_ERROR;
	}
	js_config_free(o, NOPTS);
	return JS_CONFIG_OK;
}

/* Whether two settings (NULL: unset) differ. */
static int
differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

int
proc_reload(struct proc_config *cfg, char *err, size_t errlen)
{
	struct proc_config n;

	if (load(&n, err, errlen, 0) != JS_CONFIG_OK)
		return -1;
	if (strcmp(n.spool, cfg->spool) != 0)
		js_warn("reload: the spool directory cannot change while "
		    "running (still %s)", cfg->spool);
	if (n.executor != cfg->executor) {
		js_warn("reload: the executor cannot change while running "
		    "(still %s)", cfg->executor == PROC_EXEC_SLURM ? "slurm" :
		    "local");
		n.executor = cfg->executor;
	}
	if ((n.server == NULL) != (cfg->server == NULL) ||
	    (n.server != NULL && strcmp(n.server, cfg->server) != 0))
		js_warn("reload: the remote settings are read at start only "
		    "(server, token, TLS, claim-wait, log-buffer, retry-max)");
	if (differ(n.notify_url, cfg->notify_url) ||
	    differ(n.notify_chat, cfg->notify_chat) ||
	    differ(n.notify_bot_token, cfg->notify_bot_token) ||
	    differ(n.notify_api, cfg->notify_api) ||
	    differ(n.status_url, cfg->status_url) ||
	    n.notify_retry_max_ms != cfg->notify_retry_max_ms ||
	    n.notify_give_up_ms != cfg->notify_give_up_ms)
		js_warn("reload: the notifiers are read at start only "
		    "(notify-url, notify-telegram*, status-url, notify-retry-max, "
		    "notify-give-up); notify-on and notify-command apply now");
	if (cfg->server != NULL) {
		/* the link claims with the labels it started with: the loop
		 * must accept what it claims */
		char **t = n.labels;
		n.labels = cfg->labels;
		cfg->labels = t;
		n.exclusive = cfg->exclusive;
	}
	/* the labels and the executor kept from before count */
	if (all_labels_build(&n, err, errlen) < 0) {
		if (cfg->server != NULL) {
			char **t = n.labels;
			n.labels = cfg->labels;
			cfg->labels = t;
		}
		proc_config_free(&n);
		return -1;
	}
	free(n.spool);
	n.spool = cfg->spool;
	cfg->spool = NULL;
	n.link_pid = cfg->link_pid;
	proc_config_free(cfg);
	*cfg = n;
	js_log_set_level((enum js_log_level)cfg->log_level);
	return 0;
}

int
proc_config_load(struct proc_config *cfg, int argc, char **argv, char *err,
    size_t errlen)
{
	saved_argc = argc;
	saved_argv = argv;
	return load(cfg, err, errlen, 1);
}
