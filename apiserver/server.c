/*
 * server.c - bringing the apiserver up and down: the spool and the objects
 * struct api owns (index, change bus, metrics, leases, guard), their
 * threads, the libmicrohttpd daemon, signals, the drain on SIGTERM and the
 * final clean-up.  main.c calls server_run with its settings; the
 * handler-level fuzz harness (tests/fuzz/fuzz_api.c) calls the steps
 * (api_open ... api_close) with a daemon that has no listening socket and
 * is handed connections with MHD_add_connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "api.h"
#include "conf.h"
#include "log.h"
#include "revoke.h"
#include "sdnotify.h"
#include "server.h"

int
api_open(struct api *a, const char *spool)
{
	char err[512];
	int e;

	a->sp = js_spool_open(spool, JS_SPOOL_CREATE, err, sizeof err);
	if (a->sp == NULL) {
		js_err("%s", err);
		return -1;
	}
	if (js_spool_check(a->sp, err, sizeof err) < 0)
		js_warn("%s (answering 503 until it is fixed)", err);
	if ((e = pthread_rwlock_init(&a->lock, NULL)) != 0) {
		js_err("cannot create a lock: %s", strerror(e));
		js_spool_close(a->sp);
		a->sp = NULL;
		return -1;
	}
	a->lock_ok = 1;
	if ((a->metrics = metrics_new()) == NULL ||
	    (a->idx = idx_new(a->sp)) == NULL ||
	    (a->bus = bus_new(a->sp, a->metrics)) == NULL ||
	    (a->leases = leases_new(a)) == NULL ||
	    (a->workers = js_workers_new()) == NULL ||
	    (a->guard = guard_new(a)) == NULL ||
	    (a->jcache = jcache_new(a->sp)) == NULL) {
		js_err("cannot set up the server: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
api_start_threads(struct api *a)
{
	if (bus_start(a->bus) < 0) {
		js_err("cannot watch the spool directory: %s", strerror(errno));
		return -1;
	}
	if (guard_start(a->guard) < 0 || leases_start(a->leases) < 0) {
		js_err("cannot start a thread: %s", strerror(errno));
		return -1;
	}
	return 0;
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

/* Gives each connection its struct api_conn (the socket context) and
 * registers it with the header-timeout guard; with mutual TLS, makes the
 * handshake require a client certificate. */
static void
notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct api *a = cls;
	struct api_conn *cn = *socket_context;

	if (toe != MHD_CONNECTION_NOTIFY_STARTED) {
		if (cn != NULL)
			guard_conn_del(a->guard, cn->guard);
		free(cn);
		*socket_context = NULL;
		return;
	}
	cn = calloc(1, sizeof *cn);
	if (cn != NULL) {	/* else unguarded and uncounted */
		cn->a = a;
		cn->guard = guard_conn_add(a->guard, c);
	}
	*socket_context = cn;
	if (!a->mtls)
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

struct MHD_Daemon *
api_start_daemon(struct api *a, const struct api_listen *l)
{
	unsigned flags;
	int tls = l->cert != NULL;
	struct MHD_OptionItem tlsopts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)l->cert },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)l->key },
		{ l->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0,
		  (void *)l->ca },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem none[] = { { MHD_OPTION_END, 0, NULL } };
	struct MHD_OptionItem addr[] = {
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)l->addr },
		{ MHD_OPTION_END, 0, NULL },
	};

	/* One thread per connection: a follow stream may block in its content
	 * callback, a slow client holds only its own thread, and poll() has
	 * no FD_SETSIZE limit.  --max-connections bounds the threads. */
	flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (l->v6)
		flags |= MHD_USE_IPv6;
	if (tls)
		flags |= MHD_USE_TLS;
	if (l->addr == NULL)
		flags |= MHD_USE_NO_LISTEN_SOCKET;
	return MHD_start_daemon(flags, 0, NULL, NULL,
	    http_handler, a,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_ARRAY, l->addr != NULL ? addr : none,
	    MHD_OPTION_CONNECTION_LIMIT, l->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, a->conf->read_timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, a,
	    MHD_OPTION_URI_LOG_CALLBACK, http_uri_seen, NULL,
	    MHD_OPTION_NOTIFY_CONNECTION, notify_conn, a,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
	    /* a connection's buffer for its request line and headers (and
	     * upload chunks): all of it gets touched, so it is most of a
	     * connection's memory (200 log followers: 3 MiB) */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
	    MHD_OPTION_ARRAY, tls ? tlsopts : none,
	    MHD_OPTION_END);
}

void
api_drain(struct api *a)
{
	/* follow streams and WebSocket threads see stopping and end
	 * (WebSockets with a close frame); other requests in flight get up
	 * to --read-timeout (at most 30 s) to finish */
	int64_t t0, grace = 1000;

	atomic_store(&a->stopping, 1);
	MHD_quiesce_daemon(a->daemon);
	bus_wake_all(a->bus);
	t0 = js_mono_ms();
	pthread_rwlock_rdlock(&a->lock);
	grace += (int64_t)a->conf->read_timeout_s * 1000;
	pthread_rwlock_unlock(&a->lock);
	if (grace > 30000)
		grace = 30000;
	while ((atomic_load(&a->ws_active) > 0 ||
	    atomic_load(&a->active) > 0) && js_mono_ms() - t0 < grace) {
		bus_wake_all(a->bus);
		usleep(10000);
	}
	if (atomic_load(&a->active) > 0 || atomic_load(&a->ws_active) > 0)
		js_warn("closing %d request(s) still in flight",
		    atomic_load(&a->active) + atomic_load(&a->ws_active));
	MHD_stop_daemon(a->daemon);
	a->daemon = NULL;
}

void
api_close(struct api *a)
{
	/* the threads first (the leases' uses the bus, the bus's the
	 * metrics), then what they used */
	leases_free(a->leases);
	guard_free(a->guard);
	bus_free(a->bus);
	idx_free(a->idx);
	metrics_free(a->metrics);
	js_workers_free(a->workers);
	jcache_free(a->jcache);
	a->jcache = NULL;
	a->workers = NULL;
	a->leases = NULL;
	a->guard = NULL;
	a->bus = NULL;
	a->idx = NULL;
	a->metrics = NULL;
	js_spool_close(a->sp);
	a->sp = NULL;
	if (a->lock_ok)
		pthread_rwlock_destroy(&a->lock);
	a->lock_ok = 0;
	api_conf_free(a->conf);
	a->conf = NULL;
	if (a->access_on && a->access_fd > 2)
		close(a->access_fd);
	a->access_on = 0;
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

/* SIGHUP: tokens, body limit, timeouts for new requests, log level. */
static void
reload(struct api *a, const struct settings *s)
{
	struct api_conf *cf, *old;
	char err[512], lease[JS_DURATION_SIZE];

	cf = settings_reload(s, err, sizeof err);
	if (cf == NULL) {
		js_warn("reload: %s; keeping the current settings", err);
		return;
	}
	pthread_rwlock_wrlock(&a->lock);
	old = a->conf;
	a->conf = cf;
	pthread_rwlock_unlock(&a->lock);
	api_conf_free(old);
	js_duration_format(cf->lease_ms, lease);
	js_info("reloaded: %zu token(s), %zu JWT secret(s), max body %zu "
	    "bytes, lease %s", cf->ntokens, cf->jwt.n, cf->max_body, lease);
}

/* Revocations of tokens that expired since are removed (lib/revoke). */
static void
prune_revoked(struct api *a)
{
	int n = js_revoke_prune(a->sp, js_now_ms() / 1000);

	if (n < 0)
		js_warn("cannot prune %s/" JS_REVOKE_DIR ": %s",
		    js_spool_path(a->sp), strerror(errno));
	else if (n > 0)
		js_info("removed %d revocation(s) of expired tokens", n);
}

/* --access-log: stderr ("-") or FILE opened for appending.  -1 after
 * logging why not. */
static int
open_access_log(struct api *a, const char *where)
{
	if (where == NULL || where[0] == '\0')
		return 0;
	if (strcmp(where, "-") == 0) {
		a->access_fd = 2;
	} else {
		a->access_fd = open(where, O_WRONLY | O_APPEND | O_CREAT |
		    O_CLOEXEC | O_NOCTTY, 0640);
		if (a->access_fd < 0) {
			js_err("cannot open the access log %s: %s", where,
			    strerror(errno));
			return -1;
		}
	}
	a->access_on = 1;
	return 0;
}

/* The daemon on s's address; logs why not and returns -1. */
static int
listen_on(struct api *a, const struct settings *s)
{
	struct api_listen al;
	const union MHD_DaemonInfo *di;
	int e;

	memset(&al, 0, sizeof al);
	al.addr = (const struct sockaddr *)&s->la.ss;
	al.v6 = s->la.v6;
	al.max_connections = s->max_connections;
	al.cert = s->cert;
	al.key = s->key;
	al.ca = s->ca;
	a->daemon = api_start_daemon(a, &al);
	if (a->daemon == NULL) {
		if ((e = bind_errno(&s->la)) != 0)
			js_err("cannot listen on %s: %s", s->listen, strerror(e));
		else
			js_err("cannot start the HTTP server on %s%s (run with "
			    "--log-level debug for libmicrohttpd's reason)",
			    s->listen, s->tls ? ": is the TLS certificate or "
			    "key unusable?" : "");
		return -1;
	}
	di = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
	js_info("listening on %s://%s:%u", s->tls ? "https" : "http",
	    s->la.host, di != NULL ? (unsigned)di->port : 0u);
	/* the spool is open and the socket bound: a Type=notify unit starts
	 * what comes After= it now */
	if (js_sd_notifyf("READY=1\nSTATUS=listening on %s://%s:%u, spool %s",
	    s->tls ? "https" : "http", s->la.host, di != NULL ?
	    (unsigned)di->port : 0u, js_spool_path(a->sp)) < 0)
		js_warn("cannot tell the service manager that the server is "
		    "ready (NOTIFY_SOCKET): %s", strerror(errno));
	if (!auth_configured(a->conf))
		js_info("no tokens configured: every client on %s may use the API",
		    s->la.host);
	return 0;
}

/* The next of the signals of set.  With a watchdog (WatchdogSec=: wd_usec
 * > 0), WATCHDOG=1 every half interval meanwhile, from this thread.  -1
 * if waiting fails. */
static int
next_signal(const sigset_t *set, uint64_t wd_usec)
{
	struct timespec ts;
	int sig;

	if (wd_usec == 0)
		return sigwait(set, &sig) == 0 ? sig : -1;
	ts.tv_sec = (time_t)(wd_usec / 2 / 1000000);
	ts.tv_nsec = (long)(wd_usec / 2 % 1000000 * 1000);
	for (;;) {
		if ((sig = sigtimedwait(set, NULL, &ts)) >= 0)
			return sig;
		if (errno == EAGAIN) {
			if (js_sd_notify("WATCHDOG=1") < 0)
				js_warn("cannot send the watchdog keep-alive "
				    "(NOTIFY_SOCKET): %s", strerror(errno));
		} else if (errno != EINTR) {
			return -1;
		}
	}
}

int
server_run(struct settings *s)
{
	struct api a;
	sigset_t set;
	const char *netfs;
	uint64_t wd;
	int sig, rc = -1;

	memset(&a, 0, sizeof a);
	a.conf = s->conf;	/* taken: freed by api_close */
	s->conf = NULL;
	a.mtls = s->ca != NULL;
	raise_nofile();
	if (api_open(&a, s->spool) < 0 || open_access_log(&a, s->access_log) < 0)
		goto out;
	if ((netfs = js_netfs_name(js_spool_fd(a.sp))) != NULL)
		js_warn("%s is on a network filesystem (%s): a spool's locks, leases "
		    "and renames are only safe on a local filesystem of one host; "
		    "run processors on other hosts with --server instead (see "
		    "jobspool(5), CAVEATS)", js_spool_path(a.sp), netfs);
	prune_revoked(&a);

	/* signals are taken by sigwait below; every thread inherits the mask */
	signal(SIGPIPE, SIG_IGN);
	/* a file past our own size limit (RLIMIT_FSIZE, e.g. systemd's
	 * LimitFSIZE=) fails with EFBIG, answered 507, instead of SIGXFSZ
	 * killing the server */
	signal(SIGXFSZ, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (api_start_threads(&a) < 0 || listen_on(&a, s) < 0)
		goto out;
	wd = js_sd_watchdog_usec();
	for (;;) {
		if ((sig = next_signal(&set, wd)) < 0)
			continue;
		if (sig == SIGHUP) {
			reload(&a, s);
			continue;
		}
		js_info("signal %d: stopping (finishing requests in flight)", sig);
		break;
	}
	if (js_sd_notify("STOPPING=1\nSTATUS=stopping: finishing requests "
	    "in flight") < 0)
		js_warn("cannot tell the service manager that the server is "
		    "stopping (NOTIFY_SOCKET): %s", strerror(errno));
	api_drain(&a);
	rc = 0;
out:
	api_close(&a);
	return rc;
}
