/* cmd_submit.c - jobspool submit and jobspool batch. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "util.h"

int
cmd_submit(struct cl_ctx *ctx, int argc, char **argv)
{
	struct cl_submit s;
	char err[600];
	json_t *job = NULL;
	const char *id;
	int rc;

	if (cl_submit_args(ctx, &s, argc, argv, err, sizeof err) < 0) {
		json_decref(s.job);
		if (strcmp(err, "help") == 0) {
			cl_help();
			return 0;
		}
		return cl_usage("submit", "%s", err);
	}
	if ((rc = cl_ready(ctx)) != 0 ||
	    (rc = ctx->ops->submit(ctx, s.job, s.idem, &job)) < 0) {
		json_decref(s.job);
		return rc > 0 ? rc : cl_fail(ctx);
	}
	json_decref(s.job);
	id = js_job_str(job, "id");
	if (!s.wait && !s.follow) {
		if (ctx->json)
			cl_print_json(job);
		else
			printf("%s\n", id);
		json_decref(job);
		return 0;
	}
	if (!ctx->json)
		fprintf(stderr, "submitted %s\n", id);
	if (s.follow && ctx->ops->log(ctx, id, 0, 1, stdout) < 0)
		rc = cl_fail(ctx);
	else
		rc = cl_wait_one(ctx, id, -1, s.follow ? stderr : stdout);
	json_decref(job);
	return rc;
}

/* The jobs of a batch file: a JSON list, {"jobs": [...]}, or NDJSON (one
 * job a line; blank lines skipped).  NULL with err. */
static json_t *
batch_read(const char *path, char *err, size_t errlen)
{
	char *text = cl_read_file(path, NULL, err, errlen), *line, *save;
	json_t *v, *jobs;
	json_error_t je;
	size_t n = 0;

	if (text == NULL)
		return NULL;
	v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (json_is_object(v) && json_is_array(json_object_get(v, "jobs"))) {
		jobs = json_incref(json_object_get(v, "jobs"));
		json_decref(v);
		v = jobs;
	}
	if (v != NULL) {
		free(text);
		if (!json_is_array(v)) {
			snprintf(err, errlen, "%s: expected a JSON list of jobs",
			    path);
			json_decref(v);
			return NULL;
		}
		return v;
	}
	jobs = json_array();
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		n++;
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if ((v = json_loads(line, JSON_REJECT_DUPLICATES, &je)) == NULL) {
			snprintf(err, errlen, "%s: line %zu: %s", path, n, je.text);
			json_decref(jobs);
			free(text);
			return NULL;
		}
		json_array_append_new(jobs, v);
	}
	free(text);
	return jobs;
}

struct batch_args {
	int wait, follow;
};

static int
batch_opt(void *arg, int c, const char *v)
{
	struct batch_args *b = arg;

	(void)v;
	if (c == 'w')
		b->wait = 1;
	else
		b->follow = 1;
	return 0;
}

/* After the batch is in: follow, wait, print; the exit status. */
static int
batch_after(struct cl_ctx *ctx, const struct batch_args *b, json_t *res)
{
	const char *cid = js_job_str(res, "correlation_id");
	json_t *ids = json_object_get(res, "jobs"), *v;
	size_t i;
	int rc, worst = 0;

	if (ctx->json && !b->wait)
		cl_print_json(res);
	else if (!ctx->json && !b->follow) {
		printf("%s\n", cid);
		json_array_foreach(ids, i, v)
			printf("  %s\n", json_string_value(v));
	} else if (!ctx->json)
		fprintf(stderr, "batch %s: %zu jobs\n", cid, json_array_size(ids));
	if (b->follow && ctx->ops->batch_log(ctx, res, stdout) < 0)
		return cl_fail(ctx);
	if (!b->follow && !b->wait)
		return 0;
	json_array_foreach(ids, i, v) {
		rc = cl_wait_one(ctx, json_string_value(v), -1, b->follow ?
		    stderr : stdout);
		if (worst == 0)
			worst = rc;
	}
	return worst;
}

int
cmd_batch(struct cl_ctx *ctx, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "wait", no_argument, NULL, 'w' },
		{ "follow", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
	struct batch_args b = { 0, 0 };
	char err[600];
	json_t *jobs, *res;
	int rc;

	if ((rc = cl_opts(ctx, argc, argv, "wf", lo, batch_opt, &b)) != 0)
		return rc < 0 ? 0 : rc;
	if (optind + 1 != argc)
		return cl_usage("batch", "give one file of jobs (NDJSON, or a "
		    "JSON list; - for stdin)");
	if ((jobs = batch_read(argv[optind], err, sizeof err)) == NULL)
		return cl_usage("batch", "%s", err);
	if (json_array_size(jobs) == 0) {
		json_decref(jobs);
		return cl_usage("batch", "%s holds no job", argv[optind]);
	}
	if ((rc = cl_ready(ctx)) != 0 ||
	    (rc = ctx->ops->batch(ctx, jobs, &res)) < 0) {
		json_decref(jobs);
		return rc > 0 ? rc : cl_fail(ctx);
	}
	json_decref(jobs);
	rc = batch_after(ctx, &b, res);
	json_decref(res);
	return rc;
}
