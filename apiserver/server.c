/*
 * server.c - bringing the apiserver up and down: the spool and the index,
 * the inotify and guard threads, the libmicrohttpd daemon, the drain on
 * SIGTERM and the final clean-up.  main.c calls these with its settings;
 * the handler-level fuzz harness (tests/fuzz/fuzz_api.c) calls the same
 * functions with a daemon that has no listening socket and is handed
 * connections with MHD_add_connection.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "api.h"
#include "log.h"
#include "server.h"

void
api_conf_free(struct api_conf *cf)
{
	if (cf == NULL)
		return;
	auth_free_tokens(cf->tokens, cf->ntokens);
	free(cf);
}

int
api_open(struct api *a, const char *spool)
{
	char err[512];

	a->sp = js_spool_open(spool, JS_SPOOL_CREATE, err, sizeof err);
	if (a->sp == NULL) {
		js_err("%s", err);
		return -1;
	}
	if (js_spool_check(a->sp, err, sizeof err) < 0)
		js_warn("%s (answering 503 until it is fixed)", err);
	pthread_rwlock_init(&a->lock, NULL);
	if (idx_init() < 0) {
		js_err("out of memory");
		return -1;
	}
	return 0;
}

int
api_start_threads(struct api *a)
{
	if (follow_start(a) < 0) {
		js_err("cannot watch the spool directory: %s", strerror(errno));
		return -1;
	}
	if (guard_start(a) < 0 || leases_start(a) < 0) {
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
	    MHD_OPTION_NOTIFY_CONNECTION, notify_conn, &a->mtls,
	    MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
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
	follow_wake_all();
	t0 = js_mono_ms();
	pthread_rwlock_rdlock(&a->lock);
	grace += (int64_t)a->conf->read_timeout_s * 1000;
	pthread_rwlock_unlock(&a->lock);
	if (grace > 30000)
		grace = 30000;
	while ((atomic_load(&a->ws_active) > 0 ||
	    atomic_load(&a->active) > 0) && js_mono_ms() - t0 < grace) {
		follow_wake_all();
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
	leases_stop();
	guard_stop();
	follow_stop();
	idx_free();
	js_spool_close(a->sp);
	a->sp = NULL;
	api_conf_free(a->conf);
	a->conf = NULL;
}
