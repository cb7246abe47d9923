/* common.c - what every command of jobspool(1) shares: the usage text,
 * messages, the common options, settings (flags, environment, the per-user
 * config file) and the choice of local or remote mode, reading a file,
 * JSON output. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "job.h"
#include "util.h"

static const char usage_text[] =
"usage: jobspool [--spool DIR | --url URL] [--json] COMMAND [options] [args]\n"
"\n"
"commands:\n"
"  submit [options] -- CMD [ARG...]   submit a command (argv exactly)\n"
"  submit --shell LINE | --container IMAGE -- CMD... | --file JOB.json\n"
"         options: --name --label --priority --timeout --retries\n"
"         --max-attempts --env K=V --cwd --stdin FILE --delay --at --after\n"
"         --idempotency-key; -w wait, -f follow the log, then exit with\n"
"         the job's status\n"
"  wait [--timeout DURATION] ID...    wait until final; exit with status\n"
"  log [-f] [--offset N] ID           the job's log (follow: to its end)\n"
"  show ID                            the job\n"
"  ls [--state S] [--name N] [--batch CID] [--label L] [--limit N]\n"
"  cancel ID...   rm ID...   rerun ID\n"
"  batch [-w] [--follow] FILE         jobs of FILE (NDJSON or a JSON list)\n"
"\n"
"common options (before or after the command):\n"
"  --spool DIR        local mode on this spool [JOBSPOOL_SPOOL]\n"
"  --url URL          remote mode on this apiserver [JOBSPOOL_URL]\n"
"  --token-file FILE  bearer token (first line) [JOBSPOOL_TOKEN: the token]\n"
"  --tls-ca FILE      CA certificates to verify the server with\n"
"  --tls-cert FILE    client certificate (PEM) for mutual TLS\n"
"  --tls-key FILE     its private key (PEM)\n"
"  --json             JSON output for scripts\n"
"  --help, --version\n"
"settings may also be lines 'KEY = VALUE' (spool, url, token, token-file,\n"
"tls-ca, tls-cert, tls-key) of ~/.config/jobspool/config.\n"
"ids may be abbreviated to a unique prefix.  See jobspool(1).\n";

void
cl_help(void)
{
	fputs(usage_text, stdout);
}

void
cl_warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, CL_PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, CL_PROG "%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see jobspool --help)\n");
	return CL_EXIT_USAGE;
}

int
cl_fail(struct cl_ctx *ctx)
{
	cl_warn("%s", ctx->err[0] ? ctx->err : "failed");
	return CL_EXIT_ERROR;
}

/* Leaves out a job's "seq" (nanoseconds, more than a JSON number holds
 * exactly), as the apiserver's answers do. */
static void
drop_seq(json_t *v)
{
	json_t *x;
	size_t i;

	if (json_is_object(v) && json_object_get(v, "id") != NULL)
		json_object_del(v, "seq");
	json_array_foreach(v, i, x)
		drop_seq(x);
}

void
cl_print_json(json_t *v)
{
	char *s;

	drop_seq(v);
	s = js_json_dumps(v, JSON_COMPACT, "\n", NULL);

	if (s != NULL)
		fputs(s, stdout);
	free(s);
}

static int
set_str(char **dst, const char *v)
{
	char *n = strdup(v);

	if (n == NULL)
		return -1;
	free(*dst);
	*dst = n;
	return 0;
}

/* The first line of a token file (no blanks) into ctx->token. */
static int
load_token_file(struct cl_ctx *ctx, const char *path)
{
	char *t = cl_read_file(path, NULL, ctx->err, sizeof ctx->err);

	if (t == NULL)
		return -1;
	t[strcspn(t, "\r\n")] = '\0';
	if (t[0] == '\0' || strpbrk(t, " \t") != NULL) {
		snprintf(ctx->err, sizeof ctx->err, "%s: the first line must be "
		    "the token, without blanks", path);
		free(t);
		return -1;
	}
	free(ctx->token);
	ctx->token = t;
	return 0;
}

int
cl_common_opt(struct cl_ctx *ctx, int opt, const char *arg)
{
	char **dst = NULL;

	switch (opt) {
	case OPT_JSON:
		ctx->json = 1;
		return 1;
	case OPT_SPOOL: dst = &ctx->spool; break;
	case OPT_URL: dst = &ctx->url; break;
	case OPT_TLS_CA: dst = &ctx->tls_ca; break;
	case OPT_TLS_CERT: dst = &ctx->tls_cert; break;
	case OPT_TLS_KEY: dst = &ctx->tls_key; break;
	case OPT_TOKEN_FILE:
		return load_token_file(ctx, arg) < 0 ? -1 : 1;
	default:
		return 0;
	}
	if (opt == OPT_SPOOL || opt == OPT_URL) {
		free(ctx->spool);
		free(ctx->url);
		ctx->spool = ctx->url = NULL;	/* the last one given wins */
	}
	if (set_str(dst, arg) < 0) {
		snprintf(ctx->err, sizeof ctx->err, "out of memory");
		return -1;
	}
	return 1;
}

/* One "KEY = VALUE" line of the config file into ctx, where the flags
 * and environment left the setting unset.  0, or -1 with err. */
static int
config_line(struct cl_ctx *ctx, char *line, const char *where)
{
	char *eq = strchr(line, '='), *k = line, *v, *e;
	static const char *const keys[] = { "spool", "url", "token",
	    "tls-ca", "tls-cert", "tls-key" };
	char **dst[] = { &ctx->spool, &ctx->url, &ctx->token, &ctx->tls_ca,
	    &ctx->tls_cert, &ctx->tls_key };
	size_t i;

	if (eq == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "%.300s: expected KEY = VALUE",
		    where);
		return -1;
	}
	for (e = eq; e > k && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	*e = '\0';
	for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && strchr(" \t\r\n", e[-1]); e--)
		;
	*e = '\0';
	for (e = k; *e; e++)
		if (*e == '_')
			*e = '-';
	if (strcmp(k, "token-file") == 0)
		return ctx->token != NULL ? 0 : load_token_file(ctx, v);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strcmp(k, keys[i]) != 0)
			continue;
		if (*dst[i] == NULL && (i > 1 || (ctx->spool == NULL &&
		    ctx->url == NULL)) && set_str(dst[i], v) < 0)
			return -1;
		return 0;
	}
	snprintf(ctx->err, sizeof ctx->err, "%.300s: unknown setting '%.64s'", where,
	    k);
	return -1;
}

/* ~/.config/jobspool/config ($XDG_CONFIG_HOME), if there is one. */
static int
load_config(struct cl_ctx *ctx)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char path[4096], line[4096], where[4200];
	FILE *fp;
	int n = 0, rc = 0;

	if (xdg != NULL && xdg[0] == '/')
		snprintf(path, sizeof path, "%s/jobspool/config", xdg);
	else if (home != NULL && home[0] != '\0')
		snprintf(path, sizeof path, "%s/.config/jobspool/config", home);
	else
		return 0;
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(ctx->err, sizeof ctx->err, "%.300s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof line, fp) != NULL) {
		char *p = line + strspn(line, " \t");
		n++;
		if (*p == '#' || *p == '\n' || *p == '\0')
			continue;
		snprintf(where, sizeof where, "%s:%d", path, n);
		rc = config_line(ctx, p, where);
	}
	fclose(fp);
	return rc;
}

/* The environment, where no flag set the setting. */
static int
load_env(struct cl_ctx *ctx)
{
	const char *sp = getenv("JOBSPOOL_SPOOL"), *url = getenv("JOBSPOOL_URL");
	const char *tok = getenv("JOBSPOOL_TOKEN");

	if (ctx->spool == NULL && ctx->url == NULL) {
		if (sp != NULL && sp[0] != '\0' && set_str(&ctx->spool, sp) < 0)
			return -1;
		else if ((sp == NULL || sp[0] == '\0') && url != NULL &&
		    url[0] != '\0' && set_str(&ctx->url, url) < 0)
			return -1;
	}
	if (ctx->token == NULL && tok != NULL && tok[0] != '\0' &&
	    set_str(&ctx->token, tok) < 0)
		return -1;
	return 0;
}

int
cl_open(struct cl_ctx *ctx, int *usage)
{
	*usage = 0;
	if (ctx->ops != NULL)
		return 0;
	if (load_env(ctx) < 0 || load_config(ctx) < 0) {
		if (ctx->err[0] == '\0')
			snprintf(ctx->err, sizeof ctx->err, "out of memory");
		return -1;
	}
	if (ctx->spool == NULL && ctx->url == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "no spool and no server: give "
		    "--spool DIR (local mode) or --url URL (remote mode), or set "
		    "JOBSPOOL_SPOOL or JOBSPOOL_URL");
		*usage = 1;
		return -1;
	}
	if (ctx->spool != NULL)
		return cl_local_open(ctx);
	return cl_remote_open(ctx);
}

int
cl_ready(struct cl_ctx *ctx)
{
	int usage;

	if (cl_open(ctx, &usage) == 0)
		return 0;
	if (usage)
		return cl_usage(NULL, "%s", ctx->err);
	return cl_fail(ctx);
}

char *
cl_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, got;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	do {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				buf = NULL;
				snprintf(err, errlen, "out of memory");
				break;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n - 1, fp);
		n += got;
	} while (got > 0);
	if (buf != NULL && ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	if (fp != stdin)
		fclose(fp);
	if (buf != NULL) {
		buf[n] = '\0';
		if (len != NULL)
			*len = n;
	}
	return buf;
}

/* getopt_long over argv with the common options and lo (the command's);
 * calls fn for each of the command's.  0, or the exit status to return. */
int
cl_opts(struct cl_ctx *ctx, int argc, char **argv, const char *shorts,
    const struct option *lo, int (*fn)(void *, int, const char *),
    void *arg)
{
	struct option all[24];
	static const struct option common[] = { CL_COMMON_LONGOPTS };
	size_t n = 0, i;
	int c, r;
	char sh[32];

	for (i = 0; i < sizeof common / sizeof common[0]; i++)
		all[n++] = common[i];
	for (i = 0; lo != NULL && lo[i].name != NULL && n < 23; i++)
		all[n++] = lo[i];
	memset(&all[n], 0, sizeof all[n]);
	snprintf(sh, sizeof sh, "+%s", shorts);
	opterr = 0;
	while ((c = getopt_long(argc, argv, sh, all, NULL)) != -1) {
		if (c == '?' || c == ':')
			return cl_usage(argv[0], "bad option '%s'", argv[optind - 1]);
		if (c == OPT_HELP) {
			cl_help();
			return -1;
		}
		if ((r = cl_common_opt(ctx, c, optarg)) < 0)
			return cl_usage(argv[0], "%s", ctx->err);
		if (r == 0 && fn(arg, c, optarg) < 0)
			return cl_usage(argv[0], "bad value '%s' for %s", optarg,
			    argv[optind - 1]);
	}
	return 0;
}
