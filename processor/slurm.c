/*
 * slurm.c - the Slurm executor's watcher (see slurm.h and the EXECUTORS
 * section of jobspool-processor(8)).
 *
 * The watcher is one process per job, started by the event loop exactly as
 * a local job is (own session, tied to the processor's life, stdout and
 * stderr on <id>.log, its start recorded in <id>.wip before it runs).  It:
 *   1. re-attaches to the Slurm job recorded in the .wip ("slurm.job_id") or
 *      named jobspool-<id>, if Slurm still knows it or has its result;
 *      otherwise submits the job with sbatch --parsable, a generated batch
 *      script on sbatch's stdin, and records the Slurm job id at once;
 *   2. every --slurm-poll copies what Slurm's output file gained into the
 *      log and asks scontrol (sacct -c once Slurm has forgotten the job);
 *   3. on SIGTERM (timeout, cancel, shutdown: the loop signals the run's
 *      process group) runs scancel, unless the claim has been lost to
 *      another processor, which then owns the Slurm job;
 *   4. when the Slurm job ends, copies the rest of the output and exits with
 *      its exit code, or dies of its signal.
 * A watcher killed with the processor (SIGKILL, PR_SET_PDEATHSIG) leaves
 * the Slurm job running; the next claim of the job re-attaches to it, so it
 * runs once.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "capture.h"
#include "log.h"
#include "proc.h"
#include "slurm.h"

#define OUT_MAX 65536		/* bytes kept of a command's stdout/stderr */
#define FORGET_GRACE_MS 10000	/* a just-submitted job unknown this long: lost */
#define TICK_MS 200		/* output copied into the log this often */

/* Set by the SIGTERM/SIGINT handler; read by the watch loop.  The watcher
 * is single-threaded: this is its only state shared with a handler. */
static volatile sig_atomic_t got_term;

#ifdef JS_COVERAGE
void __gcov_dump(void);
#define COV_FLUSH() __gcov_dump()
#else
#define COV_FLUSH() do { } while (0)
#endif

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

struct watch {
	struct js_spool *sp;
	const char *id;
	long long gen;
	struct slurm_conf sc;
	char **labels;			/* "LABEL=args" words given */
	size_t nlabels;
	char *env[3];			/* PATH, SLURM_CONF for the commands */
	long long job_id;		/* Slurm's, 0 before submission */
	char out_path[PATH_MAX];
	int out_fd;
	off_t copied;			/* bytes of the output file in the log */
	off_t log_base;			/* log size when the Slurm job began */
	char state[64], reason[256], exit_code[32];
	int64_t submitted_ms;		/* monotonic, 0 on re-attach */
	int cancelled;			/* scancel has been run */
};

/* ---- words ---- */

/* A copy of s quoted for sh between single quotes. */
static char *
sh_quote(const char *s)
{
	size_t n = 3;
	const char *p;
	char *q, *o;

	for (p = s; *p != '\0'; p++)
		n += *p == '\'' ? 4 : 1;
	q = o = malloc(n);
	if (q == NULL)
		return NULL;
	*o++ = '\'';
	for (p = s; *p != '\0'; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else {
			*o++ = *p;
		}
	}
	*o++ = '\'';
	*o = '\0';
	return q;
}

static void
buf_quoted(struct js_buf *b, const char *s)
{
	char *q = sh_quote(s);

	if (q == NULL) {
		b->failed = 1;
		return;
	}
	js_buf_puts(b, q);
	free(q);
}

static int
add_word(char ***v, size_t *n, const char *w)
{
	char **t = realloc(*v, (*n + 2) * sizeof **v);

	if (t == NULL)
		return -1;
	*v = t;
	if ((t[*n] = strdup(w)) == NULL)
		return -1;
	t[++*n] = NULL;
	return 0;
}

/* ---- the processor's side ---- */

char **
slurm_watch_argv(const char *self, const char *spool, const char *id,
    long long gen, const struct slurm_conf *sc)
{
	char **v = NULL, w[PATH_MAX + 32];
	size_t n = 0;
	char *const *l;

#define W(s) do { if (add_word(&v, &n, (s)) < 0) goto fail; } while (0)
	W(self);
	W(SLURM_WATCH_FLAG);
	W(spool);
	W(id);
	snprintf(w, sizeof w, "%lld", gen);
	W(w);
	snprintf(w, sizeof w, "bindir=%s", sc->bindir ? sc->bindir : "");
	W(w);
	snprintf(w, sizeof w, "outdir=%s", sc->outdir ? sc->outdir : "/tmp");
	W(w);
	if (sc->conf != NULL && *sc->conf != '\0') {
		snprintf(w, sizeof w, "conf=%s", sc->conf);
		W(w);
	}
	snprintf(w, sizeof w, "poll=%lld", (long long)sc->poll_ms);
	W(w);
	if (sc->drop) {
		snprintf(w, sizeof w, "uid=%lu", (unsigned long)sc->uid);
		W(w);
		snprintf(w, sizeof w, "gid=%lu", (unsigned long)sc->gid);
		W(w);
	}
	for (l = sc->labels; l != NULL && *l != NULL; l++) {
		snprintf(w, sizeof w, "label=%s", *l);
		W(w);
	}
#undef W
	return v;
fail:
	proc_free_words(v);
	return NULL;
}

int
slurm_labels_ok(char *const *labels, char *err, size_t errlen)
{
	const char *eq, *p;

	for (; labels != NULL && *labels != NULL; labels++) {
		eq = strchr(*labels, '=');
		if (eq == NULL || eq == *labels || eq[1] == '\0') {
			snprintf(err, errlen, "slurm-label '%s' must be "
			    "LABEL=SBATCH-ARGS, e.g. gpu=--gres=gpu:1", *labels);
			return -1;
		}
		for (p = *labels; p < eq; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '_' && *p != '.') {
				snprintf(err, errlen, "slurm-label '%s': a label "
				    "holds only letters, digits, '-', '_', '.'",
				    *labels);
				return -1;
			}
	}
	return 0;
}

const char *
slurm_error(const json_t *slurm, char *buf, size_t len)
{
	const char *state = js_job_str(slurm, "state");
	const char *reason = js_job_str(slurm, "reason");
	long long jid = js_job_int(slurm, "job_id", 0);

	if (state == NULL || strcmp(state, "COMPLETED") == 0)
		return NULL;
	if (reason == NULL || *reason == '\0' || strcmp(reason, "None") == 0)
		reason = NULL;
	if (jid > 0)
		snprintf(buf, len, "Slurm job %lld ended %s%s%s%s", jid, state,
		    reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
	else
		snprintf(buf, len, "Slurm: %s%s%s", state, reason ? ": " : "",
		    reason ? reason : "");
	return buf;
}

/* ---- running Slurm's commands ---- */

/* Runs Slurm command prog with args (NULL-terminated, args[0] unused),
 * feeding in (may be NULL) and collecting stdout and stderr (NUL-
 * terminated, truncated; capture.h).  A SIGTERM meanwhile does not stop
 * the command (it may be the scancel that carries it out).  Returns the
 * exit status (0..255, 128 + a signal), or -1 if it could not run
 * (message in err). */
static int
run_cmd(struct watch *w, const char *prog, char **args, const char *in,
    char *out, size_t outlen, char *err, size_t errlen)
{
	char path[PATH_MAX], *argv0 = args[0];	/* the caller's: restored */
	struct capture_buf ob = { out, outlen, 0, 0 }, eb = { err, errlen, 0, 0 };
	struct capture_cmd c;
	int status, r;

	if (w->sc.bindir != NULL && *w->sc.bindir != '\0')
		snprintf(path, sizeof path, "%s/%s", w->sc.bindir, prog);
	else
		snprintf(path, sizeof path, "%s", prog);
	args[0] = path;
	memset(&c, 0, sizeof c);
	c.path = path;
	c.argv = args;
	c.envp = w->env;
	c.in = in;
	c.inlen = in != NULL ? strlen(in) : 0;
	r = capture_run(&c, &ob, &eb, &status);
	args[0] = argv0;
	if (r < 0) {
		snprintf(err, errlen, "cannot run %.1024s: %s", path,
		    strerror(errno));
		return -1;
	}
	/* trailing newlines make poor messages */
	while (eb.len > 0 && (err[eb.len - 1] == '\n' || err[eb.len - 1] == ' '))
		err[--eb.len] = '\0';
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Value of "Key=" in scontrol's one-line output, into v. */
static int
field(const char *line, const char *key, char *v, size_t vlen)
{
	size_t kl = strlen(key), n;
	const char *p = line;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == line || p[-1] == ' ' || p[-1] == '\n') && p[kl] == '=') {
			p += kl + 1;
			n = strcspn(p, " \n");
			if (n >= vlen)
				n = vlen - 1;
			memcpy(v, p, n);
			v[n] = '\0';
			return 0;
		}
		p += kl;
	}
	return -1;
}

static int
state_final(const char *s)
{
	static const char *const running[] = {
		"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED",
		"REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "STOPPED",
		"SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD", NULL
	};
	size_t i;

	if (*s == '\0')
		return 0;
	for (i = 0; running[i] != NULL; i++)
		if (strcmp(s, running[i]) == 0)
			return 0;
	return 1;
}

/* Asks Slurm about w->job_id: 1 known (state filled), 0 unknown, -1 error
 * running the commands (message in err). */
static int
query(struct watch *w, char *err, size_t errlen)
{
	char id[32], out[OUT_MAX], e2[1024], *bar;
	char *sargs[] = { NULL, "show", "job", "-o", id, NULL };
	char *aargs[] = { NULL, "-c", "-n", "-P", "-o", "State,ExitCode,Reason",
	    "-j", id, NULL };
	int rc;

	snprintf(id, sizeof id, "%lld", w->job_id);
	rc = run_cmd(w, "scontrol", sargs, NULL, out, sizeof out, err, errlen);
	if (rc == 0 && field(out, "JobState", w->state, sizeof w->state) == 0) {
		if (field(out, "Reason", w->reason, sizeof w->reason) < 0)
			w->reason[0] = '\0';
		if (field(out, "ExitCode", w->exit_code, sizeof w->exit_code) < 0)
			w->exit_code[0] = '\0';
		return 1;
	}
	if (rc < 0 || rc == 127)
		return -1;
	/* forgotten by slurmctld (MinJobAge): the job completion log */
	rc = run_cmd(w, "sacct", aargs, NULL, out, sizeof out, e2, sizeof e2);
	if (rc != 0 || out[0] == '\0')
		return 0;
	out[strcspn(out, "\n")] = '\0';
	bar = strchr(out, '|');
	if (bar == NULL)
		return 0;
	*bar++ = '\0';
	/* "CANCELLED by 0": the state is the first word */
	out[strcspn(out, " ")] = '\0';
	snprintf(w->state, sizeof w->state, "%.63s", out);
	snprintf(w->exit_code, sizeof w->exit_code, "%.*s",
	    (int)strcspn(bar, "|"), bar);
	bar = strchr(bar, '|');
	snprintf(w->reason, sizeof w->reason, "%.255s", bar ? bar + 1 : "");
	return 1;
}

/* Looks up a Slurm job named jobspool-<id> (a crash between sbatch and
 * recording its id): its id, or 0. */
static long long
find_by_name(struct watch *w)
{
	char name[64], out[OUT_MAX], err[1024];
	char *args[] = { NULL, "-h", "--states=all", "-o", "%i", "-n", name, NULL };

	snprintf(name, sizeof name, "jobspool-%s", w->id);
	if (run_cmd(w, "squeue", args, NULL, out, sizeof out, err, sizeof err) != 0)
		return 0;
	return strtoll(out, NULL, 10);
}

/* Records Slurm's view in <id>.wip.  -1 if the claim is lost. */
static int
record(struct watch *w, const char *error)
{
	json_t *s;
	int rc;

	s = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I}",
	    "job_id", (json_int_t)w->job_id,
	    "state", error ? "NOT_SUBMITTED" : w->state,
	    "reason", error ? error : w->reason,
	    "exit_code", w->exit_code,
	    "output", w->out_path,
	    "log_base", (json_int_t)w->log_base);
	if (s == NULL)
		return 0;	/* not recorded: re-attach by name still works */
	rc = js_spool_annotate(w->sp, w->id, w->gen, "slurm", s);
	if (rc < 0 && errno != ESTALE)
		js_warn("job %s: cannot record the Slurm job: %s", w->id,
		    strerror(errno));
	json_decref(s);
	return rc < 0 && errno == ESTALE ? -1 : 0;
}

/* Whether the claim of this generation still holds. */
static int
claim_holds(struct watch *w)
{
	json_t *cur = js_spool_read_state(w->sp, w->id, JS_WIP);
	int ok;

	ok = cur != NULL && js_job_int(cur, "generation", -1) == w->gen;
	json_decref(cur);
	return ok;
}

/* ---- submission ---- */

static const char *
label_args(struct watch *w, const char *label)
{
	size_t i, n = strlen(label);

	for (i = 0; i < w->nlabels; i++)
		if (strncmp(w->labels[i], label, n) == 0 && w->labels[i][n] == '=')
			return w->labels[i] + n + 1;
	return NULL;
}

/* The batch script: the job's environment, limits and command. */
static char *
script(const json_t *job, const char *id)
{
	struct js_buf b = JS_BUF_INIT;
	json_t *env = json_object_get(job, "env"), *limits, *v;
	const char *k, *shell = js_job_str(job, "shell");
	size_t i;
	char num[64];

	js_buf_puts(&b, "#!/bin/sh\n# jobspool job ");
	js_buf_puts(&b, id);
	js_buf_puts(&b, ", written by jobspool-processor\n"
	    "export PATH='/usr/local/bin:/usr/bin:/bin'\n"
	    "export JOBSPOOL_JOB_ID=");
	buf_quoted(&b, id);
	js_buf_puts(&b, "\n");
	json_object_foreach(env, k, v) {
		if (!json_is_string(v))
			continue;
		js_buf_puts(&b, "export ");
		js_buf_puts(&b, k);	/* validated: a shell variable name */
		js_buf_puts(&b, "=");
		buf_quoted(&b, json_string_value(v));
		js_buf_puts(&b, "\n");
	}
	limits = json_object_get(job, "limits");
	if ((v = json_object_get(limits, "cpu")) != NULL) {
		snprintf(num, sizeof num, "ulimit -t %lld || exit 126\n",
		    (long long)json_integer_value(v));
		js_buf_puts(&b, num);
	}
	if ((v = json_object_get(limits, "nofile")) != NULL) {
		snprintf(num, sizeof num, "ulimit -n %lld || exit 126\n",
		    (long long)json_integer_value(v));
		js_buf_puts(&b, num);
	}
	if ((v = json_object_get(limits, "fsize")) != NULL) {
		snprintf(num, sizeof num, "ulimit -f %lld || exit 126\n",
		    (long long)((json_integer_value(v) + 511) / 512));
		js_buf_puts(&b, num);
	}
	if (shell != NULL) {
		js_buf_puts(&b, "exec /bin/sh -c ");
		buf_quoted(&b, shell);
	} else {
		v = json_object_get(job, "command");
		js_buf_puts(&b, "exec");
		for (i = 0; i < json_array_size(v); i++) {
			js_buf_puts(&b, " ");
			buf_quoted(&b, json_string_value(json_array_get(v, i)));
		}
	}
	js_buf_puts(&b, "\n");
	return js_buf_take(&b, NULL);	/* NULL if any append failed */
}

/* The size of <id>.log now.  (Our stdout is the pipe the processor drains
 * into the log, up to --max-log-size: the log itself is read by name.) */
static int
log_size_now(struct watch *w, off_t *size)
{
	struct stat st;
	int fd = js_spool_log_open(w->sp, w->id, 0), rc;

	if (fd < 0)
		return -1;
	rc = fstat(fd, &st);
	close(fd);
	if (rc < 0 || !S_ISREG(st.st_mode))
		return -1;
	*size = st.st_size;
	return 0;
}

/* Adds the sbatch arguments the job's labels map to (--slurm-label).
 * 0; -1 on ENOMEM; -2 with a message in err for a label without one. */
static int
add_label_args(struct watch *w, const json_t *job, char ***args, size_t *n,
    char *err, size_t errlen)
{
	json_t *labels = json_object_get(job, "labels");
	char **extra;
	const char *l, *la;
	size_t i;
	int r;

	for (i = 0; i < json_array_size(labels); i++) {
		l = json_string_value(json_array_get(labels, i));
		la = l ? label_args(w, l) : NULL;
		if (la == NULL) {
			snprintf(err, errlen, "no Slurm mapping for label '%s' "
			    "(set --slurm-label %s=SBATCH-ARGS)", l ? l : "?",
			    l ? l : "LABEL");
			return -2;
		}
		extra = proc_split_words(la);
		if (extra == NULL)
			return -1;
		for (r = 0; extra[r] != NULL; r++)
			if (add_word(args, n, extra[r]) < 0) {
				proc_free_words(extra);
				return -1;
			}
		proc_free_words(extra);
	}
	return 0;
}

/* sbatch's command line for the job (owned: proc_free_words), or NULL
 * with a message in err. */
static char **
sbatch_args(struct watch *w, const json_t *job, char *err, size_t errlen)
{
	char **args = NULL, arg[PATH_MAX + 64];
	const char *cwd = js_job_str(job, "cwd");
	size_t n = 0;
	json_t *v;

#define A(s) do { if (add_word(&args, &n, (s)) < 0) goto nomem; } while (0)
	A("sbatch");
	A("--parsable");
	snprintf(arg, sizeof arg, "--job-name=jobspool-%s", w->id);
	A(arg);
	snprintf(arg, sizeof arg, "--output=%s/jobspool-%s-%%j.out",
	    w->sc.outdir, w->id);
	A(arg);
	/* ALL of sbatch's own environment, which run_cmd makes PATH and
	 * SLURM_CONF only: with NONE, Slurm would build the job's
	 * environment by running the user's login shell on the node
	 * (--get-user-env), seconds per job and whatever it prints.  The
	 * job's env is in the script. */
	A("--export=ALL");
	if (cwd != NULL) {
		snprintf(arg, sizeof arg, "--chdir=%s", cwd);
		A(arg);
	}
	if (w->sc.drop) {
		snprintf(arg, sizeof arg, "--uid=%lu", (unsigned long)w->sc.uid);
		A(arg);
		snprintf(arg, sizeof arg, "--gid=%lu", (unsigned long)w->sc.gid);
		A(arg);
	}
	v = json_object_get(job, "timeout");
	if (json_is_number(v) && json_number_value(v) > 0) {
		/* whole minutes, rounded up, plus one: the exact timeout is
		 * the processor's, Slurm's only a backstop */
		long long min = (long long)((json_number_value(v) + 59.999) / 60) + 1;
		snprintf(arg, sizeof arg, "--time=%lld", min);
		A(arg);
	}
	v = json_object_get(json_object_get(job, "limits"), "memory");
	if (json_is_integer(v)) {
		long long mb = (json_integer_value(v) + (1 << 20) - 1) >> 20;
		snprintf(arg, sizeof arg, "--mem=%lldM", mb > 0 ? mb : 1);
		A(arg);
	}
#undef A
	switch (add_label_args(w, job, &args, &n, err, errlen)) {
	case 0:
		return args;
	case -2:
		proc_free_words(args);
		return NULL;
	}
nomem:
	snprintf(err, errlen, "out of memory");
	proc_free_words(args);
	return NULL;
}

/* Submits the job.  0 with w->job_id set, or -1 with a message in err. */
static int
submit(struct watch *w, const json_t *job, char *err, size_t errlen)
{
	char **args, out[OUT_MAX], e2[2048], *text;
	int rc = -1, r;
	off_t size;

	if (json_object_get(job, "stdin") != NULL) {
		snprintf(err, errlen, "stdin is not supported by the Slurm "
		    "executor");
		return -1;
	}
	if (json_object_get(json_object_get(job, "limits"), "nproc") != NULL) {
		snprintf(err, errlen, "limits.nproc is not supported by the "
		    "Slurm executor");
		return -1;
	}
	text = script(job, w->id);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (log_size_now(w, &size) == 0)
		w->log_base = size;
	args = sbatch_args(w, job, err, errlen);
	if (args == NULL)
		goto out;
	r = run_cmd(w, "sbatch", args, text, out, sizeof out, e2, sizeof e2);
	if (r != 0) {
		snprintf(err, errlen, "sbatch failed (%s%d): %.1500s",
		    r < 0 ? "" : "exit status ", r, e2[0] ? e2 : "no message");
		goto out;
	}
	w->job_id = strtoll(out, NULL, 10);	/* "123" or "123;cluster" */
	if (w->job_id <= 0) {
		snprintf(err, errlen, "sbatch printed no job id: %.200s", out);
		goto out;
	}
	w->submitted_ms = js_mono_ms();
	rc = 0;
out:
	proc_free_words(args);
	free(text);
	return rc;
}

/* ---- following ---- */

/* Copies what the output file gained into the log (fd 1). */
static void
copy_output(struct watch *w)
{
	char buf[65536];
	struct stat st;
	ssize_t k;
	uid_t owner = w->sc.drop ? w->sc.uid : geteuid();

	if (w->out_fd == -1) {	/* -2: refused once, never again */
		w->out_fd = open(w->out_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
		    O_NONBLOCK);
		if (w->out_fd < 0)
			return;	/* not there yet */
		/* Slurm creates it as the job's user: anything else was
		 * planted (a shared /tmp) and is not read */
		if (fstat(w->out_fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_uid != owner) {
			js_warn("job %s: %s is not a file of uid %lu: not read",
			    w->id, w->out_path, (unsigned long)owner);
			close(w->out_fd);
			w->out_fd = -2;	/* never again */
			return;
		}
	}
	if (w->out_fd < 0)
		return;
	for (;;) {
		k = pread(w->out_fd, buf, sizeof buf, w->copied);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		if (js_write_all(1, buf, (size_t)k) < 0)
			return;	/* the log is gone: nothing to do */
		w->copied += k;
	}
}

static void
set_out_path(struct watch *w)
{
	snprintf(w->out_path, sizeof w->out_path, "%s/jobspool-%s-%lld.out",
	    w->sc.outdir, w->id, w->job_id);
}

/* Ends the watcher as the Slurm job ended. */
static int
exit_as_job(struct watch *w)
{
	int code = 0, sig = 0;
	struct rlimit none = { 0, 0 };

	sscanf(w->exit_code, "%d:%d", &code, &sig);
	if (strcmp(w->state, "COMPLETED") == 0)
		return code;
	if (strcmp(w->state, "CANCELLED") == 0 && w->cancelled)
		sig = SIGTERM;	/* what the loop asked for */
	if (sig > 0 && sig < NSIG && sig != SIGSTOP && sig != SIGTSTP &&
	    sig != SIGTTIN && sig != SIGTTOU && sig != SIGCHLD &&
	    sig != SIGCONT && sig != SIGURG && sig != SIGWINCH) {
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		COV_FLUSH();
		raise(sig);
	}
	return code > 0 ? code : 1;
}

static int
parse_args(struct watch *w, int argc, char *argv[], char **spool)
{
	int i;
	char *v;

	if (argc < 5 || !js_id_valid(argv[3]))
		return -1;
	*spool = argv[2];
	w->id = argv[3];
	w->gen = strtoll(argv[4], NULL, 10);
	w->sc.outdir = "/tmp";
	w->sc.poll_ms = 500;
	for (i = 5; i < argc; i++) {
		v = strchr(argv[i], '=');
		if (v == NULL)
			return -1;
		v++;
		if (strncmp(argv[i], "bindir=", 7) == 0)
			w->sc.bindir = v;
		else if (strncmp(argv[i], "outdir=", 7) == 0)
			w->sc.outdir = v;
		else if (strncmp(argv[i], "conf=", 5) == 0)
			w->sc.conf = v;
		else if (strncmp(argv[i], "poll=", 5) == 0)
			w->sc.poll_ms = strtoll(v, NULL, 10);
		else if (strncmp(argv[i], "uid=", 4) == 0) {
			w->sc.uid = (uid_t)strtoul(v, NULL, 10);
			w->sc.drop = 1;
		} else if (strncmp(argv[i], "gid=", 4) == 0)
			w->sc.gid = (gid_t)strtoul(v, NULL, 10);
		else if (strncmp(argv[i], "label=", 6) == 0) {
			char **t = realloc(w->labels, (w->nlabels + 1) * sizeof *t);
			if (t == NULL)
				return -1;
			w->labels = t;
			w->labels[w->nlabels++] = v;
		} else
			return -1;
	}
	if (w->sc.poll_ms < 10)
		w->sc.poll_ms = 10;
	return 0;
}

static void
pause_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	if (!got_term)
		nanosleep(&ts, NULL);	/* EINTR on SIGTERM: wanted */
}

/* Sets the watcher up: signal handlers, the environment of Slurm's
 * commands (w->env; *confenv is owned), the spool.  Returns the job's .wip
 * if it is still of our generation, or NULL (a message printed). */
static json_t *
watch_open(struct watch *w, const char *spool, char **confenv)
{
	static char pathenv[] = "PATH=/usr/local/sbin:/usr/local/bin:"
	    "/usr/sbin:/usr/bin:/sbin:/bin";
	struct sigaction sa;
	char err[1024];
	json_t *job;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;	/* no SA_RESTART: waits end early */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return NULL;
	signal(SIGPIPE, SIG_IGN);
	w->env[0] = pathenv;
	if (w->sc.conf != NULL) {
		if (asprintf(confenv, "SLURM_CONF=%s", w->sc.conf) < 0) {
			*confenv = NULL;
			return NULL;
		}
		w->env[1] = *confenv;
	}
	w->sp = js_spool_open(spool, 0, err, sizeof err);
	if (w->sp == NULL) {
		fprintf(stderr, "jobspool: %s\n", err);
		return NULL;
	}
	job = js_spool_read_state(w->sp, w->id, JS_WIP);
	if (job == NULL || js_job_int(job, "generation", -1) != w->gen) {
		fprintf(stderr, "jobspool: the claim of job %s is lost\n", w->id);
		json_decref(job);
		return NULL;
	}
	return job;
}

/* Re-attaches to the Slurm job the .wip records, or to one named
 * jobspool-<id> (a crash between sbatch and recording its id), if Slurm
 * still knows it or has its result.  1 if so, else 0 (submit it). */
static int
reattach(struct watch *w, const json_t *job, char *err, size_t errlen)
{
	const json_t *rec = json_object_get(job, "slurm");
	const char *output = js_job_str(rec, "output");
	off_t size;

	w->job_id = js_job_int(rec, "job_id", 0);
	if (w->job_id <= 0)
		w->job_id = find_by_name(w);
	if (w->job_id <= 0)
		return 0;
	if (query(w, err, errlen) != 1) {
		fprintf(stderr, "jobspool: Slurm job %lld is unknown to Slurm; "
		    "submitting again\n", w->job_id);
		w->job_id = 0;
		return 0;
	}
	w->log_base = (off_t)js_job_int(rec, "log_base", 0);
	set_out_path(w);
	if (output != NULL && strlen(output) < sizeof w->out_path)
		snprintf(w->out_path, sizeof w->out_path, "%s", output);
	if (log_size_now(w, &size) == 0 && size > w->log_base)
		w->copied = size - w->log_base;
	fprintf(stderr, "jobspool: re-attached to Slurm job %lld (%s)\n",
	    w->job_id, w->state);
	return 1;
}

/* SIGTERM came: scancel, unless the claim has been lost to another
 * processor, which then owns the Slurm job (-1). */
static int
cancel(struct watch *w)
{
	char id[32], out[1024], e2[1024];
	char *args[] = { NULL, id, NULL };

	if (!claim_holds(w))
		return -1;
	snprintf(id, sizeof id, "%lld", w->job_id);
	if (run_cmd(w, "scancel", args, NULL, out, sizeof out, e2,
	    sizeof e2) != 0)
		fprintf(stderr, "jobspool: scancel %s: %s\n", id, e2);
	w->cancelled = 1;
	return 0;
}

/* Follows the Slurm job to its end: the output is copied every tick,
 * Slurm is asked at growing intervals up to --slurm-poll (each question is
 * a fork, an exec and an RPC to slurmctld; a cancel does not wait for it:
 * SIGTERM interrupts the tick).  Returns 1 if the claim was lost, else 0
 * (w->state final, or LOST when Slurm forgot the job). */
static int
follow(struct watch *w, char *err, size_t errlen)
{
	int64_t qint = w->sc.poll_ms < 250 ? w->sc.poll_ms : 250;
	int64_t next_q = js_mono_ms() + qint;
	int known;

	while (!state_final(w->state)) {
		char before[sizeof w->state], rbefore[sizeof w->reason];

		if (got_term && !w->cancelled && cancel(w) < 0)
			return 1;	/* the new owner has the Slurm job */
		pause_ms(w->sc.poll_ms < TICK_MS ? w->sc.poll_ms : TICK_MS);
		copy_output(w);
		if (!got_term && js_mono_ms() < next_q)
			continue;
		qint = qint * 2 < w->sc.poll_ms ? qint * 2 : w->sc.poll_ms;
		next_q = js_mono_ms() + qint;
		memcpy(before, w->state, sizeof before);
		memcpy(rbefore, w->reason, sizeof rbefore);
		known = query(w, err, errlen);
		if (known < 0) {
			fprintf(stderr, "jobspool: cannot ask Slurm about job "
			    "%lld: %s\n", w->job_id, err);
			continue;	/* Slurm may come back */
		}
		if (known == 0) {
			if (w->submitted_ms == 0 ||
			    js_mono_ms() - w->submitted_ms > FORGET_GRACE_MS) {
				snprintf(w->state, sizeof w->state, "LOST");
				snprintf(w->reason, sizeof w->reason, "Slurm no "
				    "longer knows the job");
				return 0;
			}
			continue;
		}
		if ((strcmp(before, w->state) != 0 ||
		    strcmp(rbefore, w->reason) != 0) && record(w, NULL) < 0)
			return 1;
	}
	return 0;
}

int
slurm_watch_main(int argc, char *argv[])
{
	struct watch w;
	char err[2048], *spool = NULL, *confenv = NULL;
	json_t *job = NULL;
	int status = 1, lost;

	memset(&w, 0, sizeof w);
	w.out_fd = -1;
	if (parse_args(&w, argc, argv, &spool) < 0) {
		fprintf(stderr, "jobspool-processor: %s is for the processor's "
		    "own use\n", SLURM_WATCH_FLAG);
		free(w.labels);
		return 2;
	}
	job = watch_open(&w, spool, &confenv);
	if (job == NULL)
		goto out;

	/* 1. re-attach, or submit */
	if (!reattach(&w, job, err, sizeof err)) {
		if (got_term) {
			status = 128 + SIGTERM;
			signal(SIGTERM, SIG_DFL);
			COV_FLUSH();
			raise(SIGTERM);
			goto out;
		}
		if (submit(&w, job, err, sizeof err) < 0) {
			fprintf(stderr, "jobspool: %s\n", err);
			record(&w, err);
			goto out;
		}
		set_out_path(&w);
		snprintf(w.state, sizeof w.state, "PENDING");
		if (record(&w, NULL) < 0)
			goto out;	/* the claim is lost */
	}

	/* 2. follow it to its end */
	lost = follow(&w, err, sizeof err);

	/* 3. the rest of its output, its result */
	copy_output(&w);
	if (lost || record(&w, NULL) < 0)
		goto out;
	if (w.out_fd >= 0) {
		struct stat st;
		/* all of it is in the log now */
		if (fstat(w.out_fd, &st) == 0 && st.st_size <= w.copied)
			unlink(w.out_path);
	}
	status = exit_as_job(&w);
out:
	if (w.out_fd >= 0)
		close(w.out_fd);
	json_decref(job);
	if (w.sp != NULL)
		js_spool_close(w.sp);
	free(confenv);
	free(w.labels);
	return status;
}
