/*
 * jobspool-apiserver - takes jobs over HTTP and writes them into the spool
 * (man 8 jobspool-apiserver).  This file: settings, start-up and
 * signals.  See api.h for the other pieces.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "log.h"
#include "server.h"

static int check_listen(const char *v, char *why, size_t whylen);
static int check_token(const char *v, char *why, size_t whylen);

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
};
#define NOPTS (sizeof opts_template / sizeof opts_template[0])

static struct js_opt *
opt(struct js_opt *o, const char *name)
{
	return js_config_get(o, NOPTS, name);
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
	/* bounds checked by the table */
	cf->max_body = (size_t)opt(o, "max-body")->num;
	cf->lease_ms = opt(o, "lease")->num;
	cf->read_timeout_s = (unsigned)(rt / 1000);
	cf->idle_timeout_s = (unsigned)(it / 1000);
	return cf;
fail:
	auth_free_tokens(cf->tokens, cf->ntokens);
	free(cf);
	return NULL;
}

/* Parses all settings into a fresh copy of the option table. */
static int
parse_opts(struct js_opt *o, int argc, char *argv[], char *err, size_t errlen)
{
	memcpy(o, opts_template, sizeof opts_template);
	return js_config_parse(o, NOPTS, argc, argv, err, errlen);
}

struct listen_addr {
	struct sockaddr_storage ss;
	int v6;
	int loopback;
	char host[96];
};

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

/* After libmicrohttpd failed to start: binds a socket to la as it would
 * (SO_REUSEADDR) and returns bind's errno (EADDRINUSE, EACCES,
 * EADDRNOTAVAIL...), or 0 if the address can be bound (then the problem
 * was elsewhere). */
static int
bind_errno(const struct listen_addr *la)
{
	int fd, one = 1, e = 0;

	fd = socket(la->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (const struct sockaddr *)&la->ss, la->v6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in)) < 0 ||
	    listen(fd, 1) < 0)
		e = errno;
	close(fd);
	return e;
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

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			js_warn("cannot raise the open file limit: %s",
			    strerror(errno));
	}
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

/* SIGHUP: tokens, body limit, timeouts for new requests, log level. */
static void
reload(struct api *a, int argc, char *argv[])
{
	struct js_opt o[NOPTS];
	struct api_conf *cf, *old;
	char err[512], lease[JS_DURATION_SIZE];

	if (parse_opts(o, argc, argv, err, sizeof err) != JS_CONFIG_OK) {
		js_warn("reload: %s; keeping the current settings", err);
		js_config_free(o, NOPTS);
		return;
	}
	cf = conf_build(o, err, sizeof err);
	if (cf == NULL || apply_log(o, 0, err, sizeof err) < 0) {
		js_warn("reload: %s; keeping the current settings", err);
		api_conf_free(cf);
		js_config_free(o, NOPTS);
		return;
	}
	pthread_rwlock_wrlock(&a->lock);
	old = a->conf;
	a->conf = cf;
	pthread_rwlock_unlock(&a->lock);
	api_conf_free(old);
	js_duration_format(cf->lease_ms, lease);
	js_info("reloaded: %zu token(s), max body %zu bytes, lease %s",
	    cf->ntokens, cf->max_body, lease);
	js_config_free(o, NOPTS);
}

int
main(int argc, char *argv[])
{
	struct js_opt o[NOPTS];
	struct listen_addr la;
	struct api a;
	char err[512];
	char *cert = NULL, *key = NULL, *ca = NULL;
	struct api_listen al;
	const union MHD_DaemonInfo *di;
	sigset_t set;
	int rc, sig, status = 1, tls;
	const char *netfs;

	rc = parse_opts(o, argc, argv, err, sizeof err);
	if (rc == JS_CONFIG_HELP) {
		js_config_usage(stdout, PROG, "takes jobs over HTTP into a jobspool "
		    "spool", o, NOPTS);
		js_config_free(o, NOPTS);
		return 0;
	}
	if (rc == JS_CONFIG_VERSION) {
		printf("%s %s\n", PROG, JS_VERSION);
		js_config_free(o, NOPTS);
		return 0;
	}
	if (rc != JS_CONFIG_OK) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		js_config_free(o, NOPTS);
		return 2;
	}
	memset(&a, 0, sizeof a);
	if (apply_log(o, 1, err, sizeof err) < 0 ||
	    parse_listen(opt(o, "listen")->str, &la, err, sizeof err) < 0 ||
	    (a.conf = conf_build(o, err, sizeof err)) == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		js_config_free(o, NOPTS);
		return 2;
	}
	if (!la.loopback && a.conf->ntokens == 0) {
		fprintf(stderr, "%s: refusing to listen on %s without tokens: "
		    "give --token NAME:SECRET (or JOBSPOOL_TOKENS), or listen on "
		    "127.0.0.1\n", PROG, opt(o, "listen")->str);
		goto usage;
	}
	tls = opt(o, "tls-cert")->str != NULL || opt(o, "tls-key")->str != NULL;
	if (tls && (opt(o, "tls-cert")->str == NULL ||
	    opt(o, "tls-key")->str == NULL)) {
		fprintf(stderr, "%s: --tls-cert and --tls-key go together\n", PROG);
		goto usage;
	}
	if (!tls && opt(o, "tls-client-ca")->str != NULL) {
		fprintf(stderr, "%s: --tls-client-ca needs --tls-cert and "
		    "--tls-key\n", PROG);
		goto usage;
	}
	if (tls) {
		const char *bad = NULL;
		if ((cert = slurp(opt(o, "tls-cert")->str, "certificate", err,
		    sizeof err)) == NULL)
			bad = "tls-cert";
		else if ((key = slurp(opt(o, "tls-key")->str, "key", err,
		    sizeof err)) == NULL)
			bad = "tls-key";
		else if (opt(o, "tls-client-ca")->str != NULL &&
		    (ca = slurp(opt(o, "tls-client-ca")->str, "client CA", err,
		    sizeof err)) == NULL)
			bad = "tls-client-ca";
		if (bad != NULL) {
			char why[512];
			snprintf(why, sizeof why, "%s", err);
			js_config_bad(opt(o, bad), err, sizeof err, "%s", why);
			fprintf(stderr, "%s: %s\n", PROG, err);
			goto usage;
		}
		a.mtls = ca != NULL;
	}

	raise_nofile();
	if (api_open(&a, opt(o, "spool")->str) < 0)
		goto out;
	if ((netfs = js_netfs_name(js_spool_fd(a.sp))) != NULL)
		js_warn("%s is on a network filesystem (%s): a spool's locks, leases "
		    "and renames are only safe on a local filesystem of one host; "
		    "run processors on other hosts with --server instead (see "
		    "jobspool(5), CAVEATS)", js_spool_path(a.sp), netfs);

	/* signals are taken by sigwait below; every thread inherits the mask */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (api_start_threads(&a) < 0)
		goto out;
	memset(&al, 0, sizeof al);
	al.addr = (struct sockaddr *)&la.ss;
	al.v6 = la.v6;
	al.max_connections = (unsigned)opt(o, "max-connections")->num;
	if (tls) {
		al.cert = cert;
		al.key = key;
		al.ca = ca;
	}
	a.daemon = api_start_daemon(&a, &al);
	if (a.daemon == NULL) {
		int e = bind_errno(&la);
		if (e != 0)
			js_err("cannot listen on %s: %s", opt(o, "listen")->str,
			    strerror(e));
		else
			js_err("cannot start the HTTP server on %s%s (run with "
			    "--log-level debug for libmicrohttpd's reason)",
			    opt(o, "listen")->str, tls ? ": is the TLS "
			    "certificate or key unusable?" : "");
		goto out;
	}
	di = MHD_get_daemon_info(a.daemon, MHD_DAEMON_INFO_BIND_PORT);
	js_info("listening on %s://%s:%u", tls ? "https" : "http", la.host,
	    di != NULL ? (unsigned)di->port : 0u);
	if (a.conf->ntokens == 0)
		js_info("no tokens configured: every client on %s may use the API",
		    la.host);

	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(&a, argc, argv);
			continue;
		}
		js_info("signal %d: stopping (finishing requests in flight)", sig);
		break;
	}
	api_drain(&a);
	status = 0;
out:
	api_close(&a);
	js_config_free(o, NOPTS);
	free(cert);
	free(key);
	free(ca);
	return status;
usage:
	api_conf_free(a.conf);
	js_config_free(o, NOPTS);
	free(cert);
	free(key);
	free(ca);
	return 2;
}
