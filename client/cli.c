/* cli.c - jobspool(1): the options before the command, and dispatch to
 * the command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static const struct {
	const char *name;
	int (*fn)(struct cl_ctx *, int, char **);
} commands[] = {
	{ "submit", cmd_submit }, { "batch", cmd_batch }, { "wait", cmd_wait },
	{ "log", cmd_log }, { "show", cmd_show }, { "ls", cmd_ls },
	{ "cancel", cmd_cancel }, { "rm", cmd_rm }, { "rerun", cmd_rerun },
};

/* The options before the command; optind is left at the command. */
static int
global_opts(struct cl_ctx *ctx, int argc, char **argv)
{
	static const struct option lo[] = { CL_COMMON_LONGOPTS,
	    { "version", no_argument, NULL, 'V' }, { NULL, 0, NULL, 0 } };
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			cl_help();
			return 0;
		}
		if (c == 'V') {
			printf(CL_PROG " " JS_VERSION "\n");
			return 0;
		}
		if (c == '?' || c == ':')
			return cl_usage(NULL, "bad option '%s'", argv[optind - 1]);
		if ((r = cl_common_opt(ctx, c, optarg)) < 0) {
			cl_warn("%s", ctx->err);
			return CL_EXIT_USAGE;
		}
	}
	return -1;
}

int
cl_main(int argc, char **argv)
{
	struct cl_ctx ctx;
	size_t i;
	int rc;

	memset(&ctx, 0, sizeof ctx);
	if ((rc = global_opts(&ctx, argc, argv)) < 0) {
		rc = -1;
		if (optind >= argc)
			rc = cl_usage(NULL, "a command is needed (submit, wait, log, "
			    "show, ls, cancel, rm, rerun, batch)");
		for (i = 0; rc < 0 && i < sizeof commands / sizeof commands[0];
		    i++)
			if (strcmp(argv[optind], commands[i].name) == 0) {
				char **sub = argv + optind;
				int n = argc - optind;
				optind = 0;	/* getopt starts afresh */
				rc = commands[i].fn(&ctx, n, sub);
			}
		if (rc < 0)
			rc = cl_usage(NULL, "unknown command '%s'", argv[optind]);
	}
	if (ctx.ops != NULL && ctx.ops->close != NULL)
		ctx.ops->close(&ctx);
	free(ctx.spool);
	free(ctx.url);
	free(ctx.token);
	free(ctx.tls_ca);
	free(ctx.tls_cert);
	free(ctx.tls_key);
	return rc;
}
