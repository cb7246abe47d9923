/*
 * conf.c - the settings of jobspool-apiserver (conf.h): the option table,
 * parsing and checking it at start-up, the TLS files read, and the
 * reloadable part (struct api_conf) built again on SIGHUP.  Prints
 * nothing but --help's text when asked; errors go back to the caller.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "conf.h"
#include "config.h"
#include "log.h"

static int check_listen(const char *v, char *why, size_t whylen);
static int check_token(const char *v, char *why, size_t whylen);
static int check_access_log(const char *v, char *why, size_t whylen);
static int check_mint(const char *v, char *why, size_t whylen);

static const struct js_opt opts_template[] = {
	{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR, .def = "./spool",
	  .metavar = "DIR", .help = "spool directory (created if missing)",
	  .check = js_check_nonempty },
	{ .name = "listen", .short_flag = 'l', .type = JS_OPT_STR,
	  .def = "127.0.0.1:8080", .metavar = "ADDR:PORT",
	  .help = "address to listen on; port 0 picks a free port",
	  .check = check_listen },
	{ .name = "token", .short_flag = 't', .type = JS_OPT_LIST,
	  .metavar = "NAME:SECRET[:admin|:worker]",
	  .help = "bearer token (repeatable); env JOBSPOOL_TOKENS is comma-separated",
	  .check = check_token, .secret = 1 },
	{ .name = "jwt-secret-file", .type = JS_OPT_STR, .metavar = "FILE",
	  .help = "HS256 secrets for JWT bearer tokens, one per line (32 bytes "
	  "or more; the first signs, all verify; mode 600)" },
	{ .name = "jwt-ttl", .type = JS_OPT_DURATION, .def = "24h",
	  .metavar = "DURATION", .help = "lifetime of a minted JWT when none is "
	  "asked for", .min = 1000, .max = 3650LL * 86400000 },
	{ .name = "jwt-max-ttl", .type = JS_OPT_DURATION, .def = "30d",
	  .metavar = "DURATION", .help = "the longest JWT lifetime minted or "
	  "accepted (a revocation is kept that long)", .min = 1000,
	  .max = 3650LL * 86400000 },
	{ .name = "jwt-skew", .type = JS_OPT_DURATION, .def = "60s",
	  .metavar = "DURATION", .help = "clock difference allowed when checking "
	  "a JWT's exp, nbf and iat", .min = 0, .max = 3600000 },
	{ .name = "mint-token", .type = JS_OPT_STR, .metavar = "NAME[:ROLE]",
	  .help = "print a JWT for NAME (ROLE admin or worker) signed with the "
	  "first --jwt-secret-file secret, and exit", .check = check_mint },
	{ .name = "ttl", .type = JS_OPT_DURATION, .metavar = "DURATION",
	  .help = "lifetime of the --mint-token JWT (default --jwt-ttl)",
	  .min = 1000, .max = 3650LL * 86400000 },
	{ .name = "max-body", .type = JS_OPT_SIZE, .def = "1M", .metavar = "SIZE",
	  .help = "largest request body (413 beyond)", .min = 64,
	  .max = 1LL << 30 },
	{ .name = "max-connections", .type = JS_OPT_INT, .def = "1024",
	  .metavar = "N", .help = "connections served at once", .min = 1,
	  .max = 65536 },
	{ .name = "read-timeout", .type = JS_OPT_DURATION, .def = "30s",
	  .metavar = "DURATION",
	  .help = "time allowed to receive a request's headers and body",
	  .min = 1000, .max = 86400000 },
	{ .name = "idle-timeout", .type = JS_OPT_DURATION, .def = "60s",
	  .metavar = "DURATION",
	  .help = "an idle keep-alive connection or a stalled client is closed",
	  .min = 1000, .max = 86400000 },
	{ .name = "lease", .type = JS_OPT_DURATION, .def = "60s",
	  .metavar = "DURATION", .help = "lease granted to remote workers "
	  "(same as the processors' --lease); expired leases are recovered",
	  .min = 1000, .max = 86400000 },
	{ .name = "tls-cert", .type = JS_OPT_STR, .metavar = "FILE",
	  .help = "TLS certificate (PEM); enables https" },
	{ .name = "tls-key", .type = JS_OPT_STR, .metavar = "FILE",
	  .help = "TLS private key (PEM)" },
	{ .name = "tls-client-ca", .type = JS_OPT_STR, .metavar = "FILE",
	  .help = "CA (PEM) that client certificates must be signed by (mutual TLS)" },
	{ .name = "log-level", .type = JS_OPT_STR, .def = "info",
	  .metavar = "LEVEL", .help = "error, warning, info or debug",
	  .check = js_log_level_check },
	{ .name = "syslog", .type = JS_OPT_BOOL, .def = "no",
	  .help = "log to syslog instead of stderr" },
	{ .name = "access-log", .type = JS_OPT_STR, .metavar = "FILE|-",
	  .help = "log one line per request (method, path, route, status, "
	  "bytes, time, token name) to FILE, or to stderr with -",
	  .check = check_access_log },
};
#define NOPTS (sizeof opts_template / sizeof opts_template[0])

static struct js_opt *
opt(struct js_opt *o, const char *name)
{
	return js_config_get(o, NOPTS, name);
}

/* The JWT settings of o into cf: the secrets (read again at each
 * reload: a rotation needs no restart) and the lifetimes.  -1 with err. */
static int
jwt_build(struct js_opt *o, struct api_conf *cf, char *err, size_t errlen)
{
	struct js_opt *f = opt(o, "jwt-secret-file");
	char why[512];

	cf->jwt_ttl_s = opt(o, "jwt-ttl")->num / 1000;
	cf->jwt_max_s = opt(o, "jwt-max-ttl")->num / 1000;
	cf->jwt_skew_s = opt(o, "jwt-skew")->num / 1000;
	if (cf->jwt_ttl_s > cf->jwt_max_s)
		return js_config_bad(opt(o, "jwt-ttl"), err, errlen, "longer than "
		    "--jwt-max-ttl");
	if (f->str == NULL || f->str[0] == '\0')
		return 0;
	if (js_jwt_keys_load(f->str, &cf->jwt, why, sizeof why) < 0)
		return js_config_bad(f, err, errlen, "%s", why);
	return 0;
}

/* Builds the reloadable settings; NULL with err on a bad value. */
static struct api_conf *
conf_build(struct js_opt *o, char *err, size_t errlen)
{
	struct api_conf *cf = calloc(1, sizeof *cf);
	struct js_opt *tk = opt(o, "token");
	long long rt = opt(o, "read-timeout")->num;
	long long it = opt(o, "idle-timeout")->num;
	size_t i;

	if (cf == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (tk->nlist > 0) {
		cf->tokens = calloc(tk->nlist, sizeof *cf->tokens);
		if (cf->tokens == NULL) {
			snprintf(err, errlen, "out of memory");
			free(cf);
			return NULL;
		}
	}
	for (i = 0; i < tk->nlist; i++) {
		size_t j;
		if (auth_parse_token(tk->list[i], &cf->tokens[i], err, errlen) < 0)
			goto fail;
		cf->ntokens++;
		for (j = 0; j < i; j++)
			if (strcmp(cf->tokens[j].name, cf->tokens[i].name) == 0) {
				js_config_bad(tk, err, errlen, "token name "
				    "'%s' given twice", cf->tokens[i].name);
				goto fail;
			}
	}
	if (jwt_build(o, cf, err, errlen) < 0)
		goto fail;
	/* bounds checked by the table */
	cf->max_body = (size_t)opt(o, "max-body")->num;
	cf->lease_ms = opt(o, "lease")->num;
	cf->read_timeout_s = (unsigned)(rt / 1000);
	cf->idle_timeout_s = (unsigned)(it / 1000);
	return cf;
fail:
	auth_free_tokens(cf->tokens, cf->ntokens);
	js_jwt_keys_free(&cf->jwt);
	free(cf);
	return NULL;
}

/* --access-log: "-", or a file whose directory exists. */
static int
check_access_log(const char *v, char *why, size_t whylen)
{
	const char *slash = strrchr(v, '/');
	char dir[4096];
	struct stat st;

	if (strcmp(v, "-") == 0 || v[0] == '\0')
		return 0;
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == v ? 1 :
		    (int)(slash - v), v);
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && slash != v + strlen(v) - 1)
		return 0;
	snprintf(why, whylen, "expected - or a file in an existing directory");
	return -1;
}

/* Parses all settings into a fresh copy of the option table. */
static int
parse_opts(struct js_opt *o, int argc, char *argv[], char *err, size_t errlen)
{
	memcpy(o, opts_template, sizeof opts_template);
	return js_config_parse(o, NOPTS, argc, argv, err, errlen);
}

/* "HOST:PORT", "[V6]:PORT" or "localhost:PORT". */
static int
parse_listen(const char *s, struct listen_addr *la, char *err, size_t errlen)
{
	char host[80];
	const char *colon, *h = s;
	size_t hl;
	long long port;

	memset(la, 0, sizeof *la);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof host)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (js_parse_int(colon + 1, 0, 65535, &port) < 0)
		goto bad;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&la->ss;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			goto bad;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		la->v6 = 1;
		la->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
		snprintf(la->host, sizeof la->host, "[%s]", host);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&la->ss;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			goto bad;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		la->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
		snprintf(la->host, sizeof la->host, "%s", host);
	}
	return 0;
bad:
	snprintf(err, errlen, "bad value '%s' for --listen: expected ADDR:PORT "
	    "such as 127.0.0.1:8080 or [::1]:8080", s);
	return -1;
}

static int
check_listen(const char *v, char *why, size_t whylen)
{
	struct listen_addr la;

	if (parse_listen(v, &la, why, whylen) == 0)
		return 0;
	snprintf(why, whylen, "expected ADDR:PORT such as 127.0.0.1:8080 or "
	    "[::1]:8080");
	return -1;
}

/* --mint-token NAME[:admin|:worker|:user] */
static int
check_mint(const char *v, char *why, size_t whylen)
{
	const char *c = strchr(v, ':');
	size_t nl = c != NULL ? (size_t)(c - v) : strlen(v);

	if (!js_jwt_sub_valid(v, nl) ||
	    (c != NULL && js_jwt_role_parse(c + 1) < 0)) {
		snprintf(why, whylen, "expected NAME, NAME:admin or NAME:worker "
		    "(NAME of letters, digits, '-', '_', '.')");
		return -1;
	}
	return 0;
}

static int
check_token(const char *v, char *why, size_t whylen)
{
	struct api_token *t = calloc(1, sizeof *t);
	char err[512];

	if (t == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (auth_parse_token(v, t, err, sizeof err) < 0) {
		free(t);
		/* auth_parse_token's message quotes the token: not this one */
		snprintf(why, whylen, "%s", strstr(err, "expected") ?
		    strstr(err, "expected") : err);
		return -1;
	}
	auth_free_tokens(t, 1);
	return 0;
}

/* Reads a whole (small) file for the TLS options; NULL with err. */
static char *
slurp(const char *path, const char *what, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (fp == NULL) {
		snprintf(err, errlen, "cannot open %s %s: %s", what, path,
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *nb;
			if (cap > (1u << 20)) {
				snprintf(err, errlen, "%s %s is too large", what, path);
				goto fail;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len - 1, fp);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "cannot read %s %s", what, path);
		goto fail;
	}
	fclose(fp);
	buf[len] = '\0';
	return buf;
fail:
	fclose(fp);
	free(buf);
	return NULL;
}

static int
apply_log(struct js_opt *o, int first, char *err, size_t errlen)
{
	int lv = js_log_level_parse(opt(o, "log-level")->str);

	if (lv < 0)	/* checked by the table */
		return js_config_bad(opt(o, "log-level"), err, errlen,
		    "expected error, warning, info or debug");
	if (first)
		js_log_open(PROG, (enum js_log_level)lv, (int)opt(o, "syslog")->num);
	else
		js_log_set_level((enum js_log_level)lv);
	return 0;
}

void
api_conf_free(struct api_conf *cf)
{
	if (cf == NULL)
		return;
	auth_free_tokens(cf->tokens, cf->ntokens);
	js_jwt_keys_free(&cf->jwt);
	free(cf);
}

/* The TLS files named by the options into s (they go together; a client
 * CA needs them).  -1 with err. */
static int
load_tls(struct settings *s, char *err, size_t errlen)
{
	struct js_opt *o = s->o;
	const char *bad = NULL;
	char why[512];

	s->tls = opt(o, "tls-cert")->str != NULL ||
	    opt(o, "tls-key")->str != NULL;
	if (s->tls && (opt(o, "tls-cert")->str == NULL ||
	    opt(o, "tls-key")->str == NULL)) {
		snprintf(err, errlen, "--tls-cert and --tls-key go together");
		return -1;
	}
	if (!s->tls && opt(o, "tls-client-ca")->str != NULL) {
		snprintf(err, errlen, "--tls-client-ca needs --tls-cert and "
		    "--tls-key");
		return -1;
	}
	if (!s->tls)
		return 0;
	if ((s->cert = slurp(opt(o, "tls-cert")->str, "certificate", err,
	    errlen)) == NULL)
		bad = "tls-cert";
	else if ((s->key = slurp(opt(o, "tls-key")->str, "key", err,
	    errlen)) == NULL)
		bad = "tls-key";
	else if (opt(o, "tls-client-ca")->str != NULL &&
	    (s->ca = slurp(opt(o, "tls-client-ca")->str, "client CA", err,
	    errlen)) == NULL)
		bad = "tls-client-ca";
	if (bad == NULL)
		return 0;
	snprintf(why, sizeof why, "%s", err);
	js_config_bad(opt(o, bad), err, errlen, "%s", why);
	return -1;
}

int
settings_load(struct settings *s, int argc, char *argv[], char *err,
    size_t errlen)
{
	int rc;

	memset(s, 0, sizeof *s);
	s->argc = argc;
	s->argv = argv;
	s->o = malloc(sizeof opts_template);
	if (s->o == NULL) {
		snprintf(err, errlen, "out of memory");
		return SETTINGS_BAD;
	}
	rc = parse_opts(s->o, argc, argv, err, errlen);
	if (rc == JS_CONFIG_HELP)
		return SETTINGS_HELP;
	if (rc == JS_CONFIG_VERSION)
		return SETTINGS_VERSION;
	if (rc != JS_CONFIG_OK)
		return SETTINGS_BAD;
	s->spool = opt(s->o, "spool")->str;
	s->listen = opt(s->o, "listen")->str;
	s->max_connections = (unsigned)opt(s->o, "max-connections")->num;
	s->access_log = opt(s->o, "access-log")->str;
	if (apply_log(s->o, 1, err, errlen) < 0 ||
	    parse_listen(s->listen, &s->la, err, errlen) < 0 ||
	    (s->conf = conf_build(s->o, err, errlen)) == NULL)
		return SETTINGS_BAD;
	if (opt(s->o, "mint-token")->str != NULL)
		return s->conf->jwt.n > 0 ? SETTINGS_MINT : (snprintf(err, errlen,
		    "--mint-token needs --jwt-secret-file"), SETTINGS_BAD);
	if (!s->la.loopback && !auth_configured(s->conf)) {
		snprintf(err, errlen, "refusing to listen on %s without tokens: "
		    "give --token NAME:SECRET (or JOBSPOOL_TOKENS) or "
		    "--jwt-secret-file, or listen on 127.0.0.1", s->listen);
		return SETTINGS_BAD;
	}
	return load_tls(s, err, errlen) < 0 ? SETTINGS_BAD : SETTINGS_RUN;
}

char *
settings_mint(const struct settings *s, char *err, size_t errlen)
{
	const char *spec = opt(s->o, "mint-token")->str, *c = strchr(spec, ':');
	struct js_opt *ttl = opt(s->o, "ttl");
	struct js_jwt_claims cl;
	char id[JS_ID_SIZE], *tok;
	int64_t life = ttl->str != NULL ? ttl->num / 1000 : s->conf->jwt_ttl_s;

	if (life > s->conf->jwt_max_s) {
		js_config_bad(ttl, err, errlen, "longer than --jwt-max-ttl");
		return NULL;
	}
	memset(&cl, 0, sizeof cl);
	snprintf(cl.sub, sizeof cl.sub, "%.*s", (int)(c != NULL ?
	    (size_t)(c - spec) : strlen(spec)), spec);
	cl.role = c != NULL ? (enum js_jwt_role)js_jwt_role_parse(c + 1) :
	    JS_JWT_USER;	/* checked by check_mint */
	cl.iat = js_now_ms() / 1000;
	cl.exp = cl.iat + life;
	js_id_new(id);
	snprintf(cl.jti, sizeof cl.jti, "%s", id);
	if ((tok = js_jwt_sign(&s->conf->jwt.k[0], &cl)) == NULL)
		snprintf(err, errlen, "out of memory");
	return tok;
}

void
settings_usage(FILE *fp, const struct settings *s)
{
	js_config_usage(fp, PROG, "takes jobs over HTTP into a jobspool spool",
	    s->o, NOPTS);
}

void
settings_free(struct settings *s)
{
	if (s->o != NULL)
		js_config_free(s->o, NOPTS);
	free(s->o);
	s->o = NULL;
	api_conf_free(s->conf);
	s->conf = NULL;
	free(s->cert);
	free(s->key);
	free(s->ca);
	s->cert = s->key = s->ca = NULL;
}

struct api_conf *
settings_reload(const struct settings *s, char *err, size_t errlen)
{
	struct js_opt o[NOPTS];
	struct api_conf *cf = NULL;

	if (parse_opts(o, s->argc, s->argv, err, errlen) == JS_CONFIG_OK &&
	    (cf = conf_build(o, err, errlen)) != NULL &&
	    apply_log(o, 0, err, errlen) < 0) {
		api_conf_free(cf);
		cf = NULL;
	}
	js_config_free(o, NOPTS);
	return cf;
}
