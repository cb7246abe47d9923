/* cmd_misc.c - jobspool show, ls, cancel, rm, rerun, and short ids. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "util.h"

int
cl_resolve(struct cl_ctx *ctx, const char *arg, char id[JS_ID_SIZE])
{
	struct cl_filter f = { .limit = -1 };
	size_t len = strlen(arg), i, hits = 0;
	json_t *jobs, *j;
	const char *v;

	if (js_id_valid(arg)) {
		memcpy(id, arg, JS_ID_SIZE);
		return 0;
	}
	if (len == 0 || len > JS_ID_LEN ||
	    strspn(arg, "0123456789abcdef-") != len) {
		snprintf(ctx->err, sizeof ctx->err, "'%.60s' is not a job id (a "
		    "lowercase UUID, or a unique prefix of one)", arg);
		return -1;
	}
	if (ctx->ops->list(ctx, &f, &jobs) < 0)
		return -1;
	json_array_foreach(jobs, i, j) {
		v = js_job_str(j, "id");
		if (v != NULL && strncmp(v, arg, len) == 0 && hits++ == 0)
			memcpy(id, v, JS_ID_SIZE);
	}
	json_decref(jobs);
	if (hits == 1)
		return 0;
	snprintf(ctx->err, sizeof ctx->err, hits == 0 ? "no job %s" :
	    "%s is the start of several job ids: give more of it", arg);
	return -1;
}

static int
no_opt(void *arg, int c, const char *v)
{
	(void)arg;
	(void)c;
	(void)v;
	return -1;
}

/* The common start of the commands on ids: options, at least one id (or
 * exactly one), the backend.  0, or the exit status. */
static int
id_cmd(struct cl_ctx *ctx, int argc, char **argv, int one)
{
	int rc = cl_opts(ctx, argc, argv, "", NULL, no_opt, NULL);

	if (rc != 0)
		return rc < 0 ? -1 : rc;
	if (optind >= argc || (one && optind + 1 != argc))
		return cl_usage(argv[0], one ? "give the id of one job" :
		    "give the id of at least one job");
	return cl_ready(ctx);
}

int
cmd_show(struct cl_ctx *ctx, int argc, char **argv)
{
	char id[JS_ID_SIZE];
	json_t *job;
	int rc = id_cmd(ctx, argc, argv, 1);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (cl_resolve(ctx, argv[optind], id) < 0 ||
	    ctx->ops->get(ctx, id, &job) < 0)
		return cl_fail(ctx);
	if (ctx->json)
		cl_print_json(job);
	else
		cl_print_job(stdout, job, js_now_ms());
	json_decref(job);
	return 0;
}

static int
ls_opt(void *arg, int c, const char *v)
{
	struct cl_filter *f = arg;
	long long n;

	switch (c) {
	case 's': f->state = v; return 0;
	case 'n': f->name = v; return 0;
	case 'b': f->batch = v; return 0;
	case 'l': f->label = v; return 0;
	case 'a': f->limit = -1; return 0;
	}
	if (js_parse_int(v, 1, 1000000, &n) < 0)
		return -1;
	f->limit = (long)n;
	return 0;
}

int
cmd_ls(struct cl_ctx *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'l' },
		{ "limit", required_argument, NULL, 'N' },
		{ "all", no_argument, NULL, 'a' }, { NULL, 0, NULL, 0 } };
	struct cl_filter f = { .limit = 100 };
	json_t *jobs;
	int rc;

	if ((rc = cl_opts(ctx, argc, argv, "as:n:b:l:", lo, ls_opt, &f)) != 0)
		return rc < 0 ? 0 : rc;
	if (optind != argc)
		return cl_usage("ls", "unexpected argument '%s'", argv[optind]);
	if ((rc = cl_ready(ctx)) != 0)
		return rc;
	if (ctx->ops->list(ctx, &f, &jobs) < 0)
		return cl_fail(ctx);
	if (ctx->json)
		cl_print_json(jobs);
	else
		cl_print_table(stdout, jobs, js_now_ms());
	json_decref(jobs);
	return 0;
}

/* cancel, rm: each id in turn; 125 if any failed. */
static int
each_id(struct cl_ctx *ctx, int argc, char **argv, int rm)
{
	char id[JS_ID_SIZE];
	json_t *job = NULL;
	int i, rc = id_cmd(ctx, argc, argv, 0), bad = 0;

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	for (i = optind; i < argc; i++) {
		if (cl_resolve(ctx, argv[i], id) < 0 || (rm ?
		    ctx->ops->remove(ctx, id) : ctx->ops->cancel(ctx, id,
		    &job)) < 0) {
			bad = cl_fail(ctx);
			continue;
		}
		if (ctx->json && job != NULL)
			cl_print_json(job);
		else if (ctx->json)
			printf("{\"id\":\"%s\",\"removed\":true}\n", id);
		else if (rm)
			printf("removed %s\n", id);
		else
			printf("%s %s\n", json_is_true(json_object_get(job,
			    "cancel_requested")) ? "cancel requested for running "
			    "job" : "cancelled", id);
		json_decref(job);
		job = NULL;
	}
	return bad;
}

int
cmd_cancel(struct cl_ctx *ctx, int argc, char **argv)
{
	return each_id(ctx, argc, argv, 0);
}

int
cmd_rm(struct cl_ctx *ctx, int argc, char **argv)
{
	return each_id(ctx, argc, argv, 1);
}

int
cmd_rerun(struct cl_ctx *ctx, int argc, char **argv)
{
	char id[JS_ID_SIZE];
	json_t *job;
	int rc = id_cmd(ctx, argc, argv, 1);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if (cl_resolve(ctx, argv[optind], id) < 0 ||
	    ctx->ops->rerun(ctx, id, &job) < 0)
		return cl_fail(ctx);
	if (ctx->json)
		cl_print_json(job);
	else
		printf("%s\n", js_job_str(job, "id"));
	json_decref(job);
	return 0;
}
