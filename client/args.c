/* args.c - submit's options into the JSON of a job (jobspool(5)).  The
 * words after "--" are the command exactly as typed: no shell, no
 * quoting.  Nothing here talks to a spool or a server. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "util.h"

enum { A_NAME = OPT_FIRST_CMD, A_LABEL, A_PRIORITY, A_TIMEOUT, A_RETRIES,
	A_ENV, A_CWD, A_STDIN, A_DELAY, A_AT, A_AFTER, A_IDEM, A_SHELL,
	A_CONTAINER, A_FILE, A_DESC, A_ATTEMPTS };

static const struct option submit_lo[] = {
	CL_COMMON_LONGOPTS,
	{ "name", required_argument, NULL, A_NAME },
	{ "label", required_argument, NULL, A_LABEL },
	{ "priority", required_argument, NULL, A_PRIORITY },
	{ "timeout", required_argument, NULL, A_TIMEOUT },
	{ "retries", required_argument, NULL, A_RETRIES },
	{ "max-attempts", required_argument, NULL, A_ATTEMPTS },
	{ "env", required_argument, NULL, A_ENV },
	{ "cwd", required_argument, NULL, A_CWD },
	{ "stdin", required_argument, NULL, A_STDIN },
	{ "delay", required_argument, NULL, A_DELAY },
	{ "at", required_argument, NULL, A_AT },
	{ "after", required_argument, NULL, A_AFTER },
	{ "idempotency-key", required_argument, NULL, A_IDEM },
	{ "shell", required_argument, NULL, A_SHELL },
	{ "container", required_argument, NULL, A_CONTAINER },
	{ "file", required_argument, NULL, A_FILE },
	{ "description", required_argument, NULL, A_DESC },
	{ "wait", no_argument, NULL, 'w' },
	{ "follow", no_argument, NULL, 'f' },
	{ NULL, 0, NULL, 0 }
};

/* An integer option into the job's field. */
static int
int_field(json_t *job, const char *field, const char *v, long long min,
    long long max, char *err, size_t errlen)
{
	long long n;

	if (js_parse_int(v, min, max, &n) < 0) {
		snprintf(err, errlen, "--%s must be an integer from %lld to %lld",
		    field, min, max);
		return -1;
	}
	return json_object_set_new(job, field, json_integer(n));
}

/* Appends v to the array (made if missing) of field. */
static int
push(json_t *job, const char *field, const char *v)
{
	json_t *a = json_object_get(job, field);

	if (!json_is_array(a)) {
		a = json_array();
		if (json_object_set_new(job, field, a) < 0)
			return -1;
	}
	return json_array_append_new(a, json_string(v));
}

/* --env K=V into "env". */
static int
env_field(json_t *job, const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	json_t *env = json_object_get(job, "env");
	char key[256];

	if (eq == NULL || eq == v || (size_t)(eq - v) >= sizeof key) {
		snprintf(err, errlen, "--env wants NAME=VALUE, not '%.100s'", v);
		return -1;
	}
	memcpy(key, v, (size_t)(eq - v));
	key[eq - v] = '\0';
	if (!json_is_object(env)) {
		env = json_object();
		if (json_object_set_new(job, "env", env) < 0)
			return -1;
	}
	return json_object_set_new(env, key, json_string(eq + 1));
}

/* --stdin FILE: its text becomes "stdin". */
static int
stdin_field(json_t *job, const char *path, char *err, size_t errlen)
{
	size_t len;
	char *t = cl_read_file(path, &len, err, errlen);
	json_t *s;

	if (t == NULL)
		return -1;
	s = json_stringn(t, len);
	free(t);
	if (s == NULL) {
		snprintf(err, errlen, "--stdin %s: the file must be UTF-8 text",
		    path);
		return -1;
	}
	return json_object_set_new(job, "stdin", s);
}

/* One submit option (not a common one) into s.  0, or -1 with err. */
static int
submit_opt(struct cl_submit *s, int c, const char *v, char *err,
    size_t errlen)
{
	json_t *j = s->job;

	switch (c) {
	case 'w': s->wait = 1; return 0;
	case 'f': s->follow = 1; return 0;
	case A_NAME: return json_object_set_new(j, "name", json_string(v));
	case A_DESC: return json_object_set_new(j, "description",
	    json_string(v));
	case A_LABEL: return push(j, "labels", v);
	case A_AFTER: return push(j, "after", v);
	case A_PRIORITY: return int_field(j, "priority", v, -1000000, 1000000,
	    err, errlen);
	case A_RETRIES: return int_field(j, "retries", v, 0, 100, err, errlen);
	case A_ATTEMPTS: return int_field(j, "max_attempts", v, 1, 100, err,
	    errlen);
	case A_TIMEOUT: return json_object_set_new(j, "timeout",
	    json_string(v));
	case A_DELAY: return json_object_set_new(j, "delay", json_string(v));
	case A_AT: return json_object_set_new(j, "run_at", json_string(v));
	case A_CWD: return json_object_set_new(j, "cwd", json_string(v));
	case A_ENV: return env_field(j, v, err, errlen);
	case A_STDIN: return stdin_field(j, v, err, errlen);
	case A_IDEM: s->idem = v; return 0;
	case A_SHELL: s->shell = 1;
		return json_object_set_new(j, "shell", json_string(v));
	case A_CONTAINER: s->container = 1;
		return json_object_set_new(j, "container",
		    json_pack("{s:s}", "image", v));
	case A_FILE: s->file = v; return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -1;
}

/* --file: the job of FILE under the options given (they win). */
static int
merge_file(struct cl_submit *s, char *err, size_t errlen)
{
	json_error_t je;
	json_t *f = strcmp(s->file, "-") == 0 ?
	    json_loadf(stdin, JSON_REJECT_DUPLICATES, &je) :
	    json_load_file(s->file, JSON_REJECT_DUPLICATES, &je);

	if (!json_is_object(f)) {
		snprintf(err, errlen, "--file %s: %s", s->file, f == NULL ?
		    je.text : "not a JSON object");
		json_decref(f);
		return -1;
	}
	json_object_update(f, s->job);
	json_decref(s->job);
	s->job = f;
	return 0;
}

/* The words after the options: the command (or the container's). */
static int
take_command(struct cl_submit *s, int argc, char **argv, char *err,
    size_t errlen)
{
	json_t *cmd;
	int i;

	if (optind >= argc) {
		if (s->shell || s->file != NULL)
			return 0;
		snprintf(err, errlen, s->container ? "--container IMAGE needs "
		    "-- CMD [ARG...]" : "nothing to run: give -- CMD [ARG...], "
		    "--shell LINE, --container IMAGE -- CMD or --file JOB.json");
		return -1;
	}
	if (s->shell) {
		snprintf(err, errlen, "--shell LINE takes no more words "
		    "(got '%.100s'): quote the whole line", argv[optind]);
		return -1;
	}
	cmd = json_array();
	for (i = optind; i < argc; i++)
		if (json_array_append_new(cmd, json_string(argv[i])) < 0) {
			json_decref(cmd);
			snprintf(err, errlen, "an argument is not UTF-8 text");
			return -1;
		}
	if (s->container)
		return json_object_set_new(json_object_get(s->job, "container"),
		    "command", cmd);
	return json_object_set_new(s->job, "command", cmd);
}

int
cl_submit_args(struct cl_ctx *ctx, struct cl_submit *s, int argc,
    char **argv, char *err, size_t errlen)
{
	int c, r;

	memset(s, 0, sizeof *s);
	err[0] = '\0';
	if ((s->job = json_object()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+wf", submit_lo, NULL)) != -1) {
		if (c == '?' || c == ':') {
			snprintf(err, errlen, "bad option '%s'", argv[optind - 1]);
			return -1;
		}
		if (c == OPT_HELP) {
			snprintf(err, errlen, "help");
			return -1;
		}
		if ((r = cl_common_opt(ctx, c, optarg)) < 0) {
			snprintf(err, errlen, "%s", ctx->err);
			return -1;
		}
		if (r == 0 && submit_opt(s, c, optarg, err, errlen) < 0) {
			if (strcmp(err, "") == 0)
				snprintf(err, errlen, "bad value for %s",
				    argv[optind - 1]);
			return -1;
		}
	}
	if (s->shell + s->container + (s->file != NULL) > 1) {
		snprintf(err, errlen, "give one of --shell, --container, --file");
		return -1;
	}
	if (take_command(s, argc, argv, err, errlen) < 0)
		return -1;
	return s->file != NULL ? merge_file(s, err, errlen) : 0;
}
