/*
 * jobspool-apiserver - takes jobs over HTTP and writes them into the spool
 * (SPEC §4, man 8 jobspool-apiserver).  This file: settings, start-up and
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
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "api.h"
#include "config.h"
#include "log.h"

static const struct js_opt opts_template[] = {
	{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR, .def = "./spool",
	  .metavar = "DIR", .help = "spool directory (created if missing)" },
	{ .name = "listen", .short_flag = 'l', .type = JS_OPT_STR,
	  .def = "127.0.0.1:8080", .metavar = "ADDR:PORT",
	  .help = "address to listen on; port 0 picks a free port" },
	{ .name = "token", .short_flag = 't', .type = JS_OPT_LIST,
	  .metavar = "NAME:SECRET[:admin|:worker]",
	  .help = "bearer token (repeatable); env JOBSPOOL_TOKENS is comma-separated" },
	{ .name = "max-body", .type = JS_OPT_SIZE, .def = "1M", .metavar = "SIZE",
	  .help = "largest request body (413 beyond)" },
	{ .name = "max-connections", .type = JS_OPT_INT, .def = "1024",
	  .metavar = "N", .help = "connections served at once", .min = 1,
	  .max = 65536 },
	{ .name = "read-timeout", .type = JS_OPT_DURATION, .def = "30s",
	  .metavar = "DURATION",
	  .help = "time allowed to receive a request's headers and body" },
	{ .name = "idle-timeout", .type = JS_OPT_DURATION, .def = "60s",
	  .metavar = "DURATION",
	  .help = "an idle keep-alive connection or a stalled client is closed" },
	{ .name = "lease", .type = JS_OPT_DURATION, .def = "60s",
	  .metavar = "DURATION", .help = "lease granted to remote workers "
	  "(same as the processors' --lease); expired leases are recovered" },
	{ .name = "tls-cert", .type = JS_OPT_STR, .metavar = "FILE",
	  .help = "TLS certificate (PEM); enables https" },
	{ .name = "tls-key", .type = JS_OPT_STR, .metavar = "FILE",
	  .help = "TLS private key (PEM)" },
	{ .name = "tls-client-ca", .type = JS_OPT_STR, .metavar = "FILE",
	  .help = "CA (PEM) that client certificates must be signed by (mutual TLS)" },
	{ .name = "log-level", .type = JS_OPT_STR, .def = "info",
	  .metavar = "LEVEL", .help = "error, warning, info or debug" },
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
				snprintf(err, errlen, "token name '%s' given twice",
				    cf->tokens[i].name);
				goto fail;
			}
	}
	cf->max_body = (size_t)opt(o, "max-body")->num;
	if (cf->max_body < 64) {
		snprintf(err, errlen, "--max-body must be at least 64 bytes");
		goto fail;
	}
	if (rt < 1000 || it < 1000 || rt > 86400000LL || it > 86400000LL) {
		snprintf(err, errlen, "--read-timeout and --idle-timeout must be "
		    "between 1s and 1d");
		goto fail;
	}
	cf->lease_ms = opt(o, "lease")->num;
	if (cf->lease_ms < 1000 || cf->lease_ms > 86400000LL) {
		snprintf(err, errlen, "bad value '%s' for --lease: between 1s and "
		    "1d", opt(o, "lease")->str);
		goto fail;
	}
	cf->read_timeout_s = (unsigned)(rt / 1000);
	cf->idle_timeout_s = (unsigned)(it / 1000);
	return cf;
fail:
	auth_free_tokens(cf->tokens, cf->ntokens);
	free(cf);
	return NULL;
}

static void
conf_free(struct api_conf *cf)
{
	if (cf == NULL)
		return;
	auth_free_tokens(cf->tokens, cf->ntokens);
	free(cf);
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
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof buf, fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	js_debug("libmicrohttpd: %s", buf);
}

/* Registers each connection with the header-timeout guard; with mutual TLS,
 * makes the handshake require a client certificate. */
static void
notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	int *require = cls;

	guard_conn_event(c, socket_context, toe);
	if (toe != MHD_CONNECTION_NOTIFY_STARTED || !*require)
		return;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci == NULL || ci->tls_session == NULL)
		return;
	/* a missing certificate or one the CA did not sign fails the
	 * handshake itself; http.c checks again before each request */
	gnutls_certificate_server_set_request((gnutls_session_t)ci->tls_session,
	    GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_cert((gnutls_session_t)ci->tls_session, NULL,
	    0);
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

	if (lv < 0) {
		snprintf(err, errlen, "bad value '%s' for --log-level: expected "
		    "error, warning, info or debug", opt(o, "log-level")->str);
		return -1;
	}
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
	char err[512];

	if (parse_opts(o, argc, argv, err, sizeof err) != JS_CONFIG_OK) {
		js_warn("reload: %s; keeping the current settings", err);
		js_config_free(o, NOPTS);
		return;
	}
	cf = conf_build(o, err, sizeof err);
	if (cf == NULL || apply_log(o, 0, err, sizeof err) < 0) {
		js_warn("reload: %s; keeping the current settings", err);
		conf_free(cf);
		js_config_free(o, NOPTS);
		return;
	}
	pthread_rwlock_wrlock(&a->lock);
	old = a->conf;
	a->conf = cf;
	pthread_rwlock_unlock(&a->lock);
	conf_free(old);
	js_info("reloaded: %zu token(s), max body %zu bytes, lease %lld ms",
	    cf->ntokens, cf->max_body, (long long)cf->lease_ms);
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
	unsigned flags;
	const union MHD_DaemonInfo *di;
	sigset_t set;
	int rc, sig, status = 1, tls;

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
		if ((cert = slurp(opt(o, "tls-cert")->str, "certificate", err,
		    sizeof err)) == NULL ||
		    (key = slurp(opt(o, "tls-key")->str, "key", err,
		    sizeof err)) == NULL ||
		    (opt(o, "tls-client-ca")->str != NULL &&
		    (ca = slurp(opt(o, "tls-client-ca")->str, "client CA", err,
		    sizeof err)) == NULL)) {
			fprintf(stderr, "%s: %s\n", PROG, err);
			goto usage;
		}
		a.mtls = ca != NULL;
	}

	a.sp = js_spool_open(opt(o, "spool")->str, JS_SPOOL_CREATE, err,
	    sizeof err);
	if (a.sp == NULL) {
		js_err("%s", err);
		goto out;
	}
	if (js_spool_check(a.sp, err, sizeof err) < 0)
		js_warn("%s (answering 503 until it is fixed)", err);
	pthread_rwlock_init(&a.lock, NULL);
	raise_nofile();
	if (idx_init() < 0) {
		js_err("out of memory");
		goto out;
	}

	/* signals are taken by sigwait below; every thread inherits the mask */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (follow_start(&a) < 0) {
		js_err("cannot watch the spool directory: %s", strerror(errno));
		goto out;
	}
	if (guard_start(&a) < 0) {
		js_err("cannot start a thread: %s", strerror(errno));
		goto out;
	}

	/* One thread per connection: a follow stream may block in its content
	 * callback, a slow client holds only its own thread, and poll() has
	 * no FD_SETSIZE limit.  --max-connections bounds the threads. */
	flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (la.v6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	{
		struct MHD_OptionItem tlsopts[] = {
			{ MHD_OPTION_HTTPS_MEM_CERT, 0, cert },
			{ MHD_OPTION_HTTPS_MEM_KEY, 0, key },
			{ ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, ca },
			{ MHD_OPTION_END, 0, NULL },
		};
		struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0, NULL } };

		a.daemon = MHD_start_daemon(flags, 0, NULL, NULL,
		    http_handler, &a,
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&la.ss,
		    MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned)opt(o, "max-connections")->num,
		    MHD_OPTION_CONNECTION_TIMEOUT, a.conf->read_timeout_s,
		    MHD_OPTION_NOTIFY_COMPLETED, http_completed, &a,
		    MHD_OPTION_NOTIFY_CONNECTION, notify_conn, &a.mtls,
		    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
		    MHD_OPTION_ARRAY, tls ? tlsopts : none,
		    MHD_OPTION_END);
	}
	if (a.daemon == NULL) {
		js_err("cannot listen on %s (address in use, not ours, or bad "
		    "TLS certificate/key)", opt(o, "listen")->str);
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
	atomic_store(&a.stopping, 1);
	MHD_quiesce_daemon(a.daemon);
	follow_wake_all();
	{
		/* follow streams and WebSocket threads see stopping and end
		 * (WebSockets with a close frame); other requests in flight
		 * get up to --read-timeout (at most 30 s) to finish */
		int64_t t0 = js_mono_ms(), grace = 1000;
		pthread_rwlock_rdlock(&a.lock);
		grace += (int64_t)a.conf->read_timeout_s * 1000;
		pthread_rwlock_unlock(&a.lock);
		if (grace > 30000)
			grace = 30000;
		while ((atomic_load(&a.ws_active) > 0 ||
		    atomic_load(&a.active) > 0) && js_mono_ms() - t0 < grace) {
			follow_wake_all();
			usleep(10000);
		}
		if (atomic_load(&a.active) > 0 || atomic_load(&a.ws_active) > 0)
			js_warn("closing %d request(s) still in flight",
			    atomic_load(&a.active) + atomic_load(&a.ws_active));
	}
	MHD_stop_daemon(a.daemon);
	status = 0;
out:
	guard_stop();
	follow_stop();
	idx_free();
	js_spool_close(a.sp);
	conf_free(a.conf);
	js_config_free(o, NOPTS);
	free(cert);
	free(key);
	free(ca);
	return status;
usage:
	conf_free(a.conf);
	js_config_free(o, NOPTS);
	free(cert);
	free(key);
	free(ca);
	return 2;
}
