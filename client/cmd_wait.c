/* cmd_wait.c - jobspool wait and jobspool log, and the wait that submit
 * -w / -f and batch -w end with. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "util.h"

int
cl_wait_one(struct cl_ctx *ctx, const char *id, int64_t timeout_ms,
    FILE *fp)
{
	json_t *job;
	int final, rc;

	if (ctx->ops->wait(ctx, id, timeout_ms, &job, &final) < 0)
		return cl_fail(ctx);
	rc = cl_job_exit(job);
	if (ctx->json)
		cl_print_json(job);
	else if (fp != NULL)
		cl_print_outcome(fp, job, js_now_ms());
	json_decref(job);
	return rc;
}

struct wait_args {
	int64_t timeout_ms;
	int follow;
	long long offset;
};

static int
wait_opt(void *arg, int c, const char *v)
{
	struct wait_args *w = arg;

	if (c == 'f') {
		w->follow = 1;
		return 0;
	}
	if (c == 'o')
		return js_parse_int(v, 0, (long long)1 << 60, &w->offset);
	return js_parse_duration_ms(v, &w->timeout_ms);
}

int
cmd_wait(struct cl_ctx *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' }, { NULL, 0, NULL, 0 } };
	struct wait_args w = { -1, 0, 0 };
	int64_t deadline;
	char id[JS_ID_SIZE];
	int rc, i, worst = 0;

	if ((rc = cl_opts(ctx, argc, argv, "t:", lo, wait_opt, &w)) != 0)
		return rc < 0 ? 0 : rc;
	if (optind >= argc)
		return cl_usage("wait", "give the id of at least one job");
	if ((rc = cl_ready(ctx)) != 0)
		return rc;
	deadline = js_mono_ms() + w.timeout_ms;
	for (i = optind; i < argc; i++) {
		int64_t left = w.timeout_ms < 0 ? -1 : deadline - js_mono_ms();
		if (cl_resolve(ctx, argv[i], id) < 0)
			rc = cl_fail(ctx);
		else
			rc = cl_wait_one(ctx, id, left < 0 && w.timeout_ms >= 0 ?
			    0 : left, stdout);
		if (worst == 0)
			worst = rc;
	}
	return worst;
}

int
cmd_log(struct cl_ctx *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "offset", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 } };
	struct wait_args w = { -1, 0, 0 };
	char id[JS_ID_SIZE];
	int rc;

	if ((rc = cl_opts(ctx, argc, argv, "fo:", lo, wait_opt, &w)) != 0)
		return rc < 0 ? 0 : rc;
	if (optind + 1 != argc)
		return cl_usage("log", "give the id of one job");
	if ((rc = cl_ready(ctx)) != 0)
		return rc;
	if (cl_resolve(ctx, argv[optind], id) < 0 ||
	    ctx->ops->log(ctx, id, w.offset, w.follow, stdout) < 0)
		return cl_fail(ctx);
	if (!w.follow)
		return 0;
	ctx->json = 0;	/* the log is the output */
	return cl_wait_one(ctx, id, 0, NULL);
}
