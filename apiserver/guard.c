/*
 * guard.c - --read-timeout for request headers.  libmicrohttpd's
 * connection timeout counts inactivity only, so a client sending one header
 * byte every few seconds (slow loris) would hold its connection and thread
 * for ever.  Every connection is registered here from the connection
 * notifications; a thread looks four times a second for connections whose
 * request headers have not all arrived in time and shuts their socket down
 * (libmicrohttpd then closes the connection as if the client had gone).
 *
 * Deadlines: a new connection must deliver its first request's headers
 * within --read-timeout; a kept-alive one the next request's within
 * --idle-timeout plus --read-timeout after the previous answer.  While a
 * request is being handled (body, answer, follow stream) or after a
 * WebSocket upgrade, the connection is left alone here; the body has its own
 * check in http.c and a stalled answer the idle timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "api.h"
#include "log.h"

#define GUARD_EVERY_MS 250

struct gconn {
	MHD_socket fd;
	int64_t since;		/* accepted, or the previous answer ended */
	int state;		/* GUARD_WAITING/_BUSY/_UPGRADED */
	int kept;		/* a previous request was answered */
	int shut;		/* already shut down by us */
	struct gconn *prev, *next;
};

struct guard {
	struct api *a;
	pthread_mutex_t mu;	/* guards the list and its records */
	struct gconn *head;
	struct ticker *timer;
};

struct guard *
guard_new(struct api *a)
{
	struct guard *g = calloc(1, sizeof *g);
	int e;

	if (g == NULL)
		return NULL;
	g->a = a;
	if ((e = pthread_mutex_init(&g->mu, NULL)) != 0) {
		free(g);
		errno = e;
		return NULL;
	}
	return g;
}

void
guard_free(struct guard *g)
{
	struct gconn *gc, *next;

	if (g == NULL)
		return;
	ticker_stop(g->timer);
	for (gc = g->head; gc != NULL; gc = next) {
		next = gc->next;
		free(gc);
	}
	pthread_mutex_destroy(&g->mu);
	free(g);
}

struct gconn *
guard_conn_add(struct guard *g, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct gconn *gc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	gc = calloc(1, sizeof *gc);
	if (gc == NULL || ci == NULL) {
		free(gc);	/* unguarded: inactivity timeout only */
		return NULL;
	}
	gc->fd = ci->connect_fd;
	gc->since = js_mono_ms();
	pthread_mutex_lock(&g->mu);
	gc->next = g->head;
	if (g->head != NULL)
		g->head->prev = gc;
	g->head = gc;
	pthread_mutex_unlock(&g->mu);
	return gc;
}

/* Unregistered before libmicrohttpd closes the socket, so the guard never
 * shuts down a reused descriptor. */
void
guard_conn_del(struct guard *g, struct gconn *gc)
{
	if (gc == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	if (gc->prev != NULL)
		gc->prev->next = gc->next;
	else
		g->head = gc->next;
	if (gc->next != NULL)
		gc->next->prev = gc->prev;
	pthread_mutex_unlock(&g->mu);
	free(gc);
}

void
guard_set(struct MHD_Connection *c, int state)
{
	const union MHD_ConnectionInfo *ci;
	struct api_conn *cn;
	struct gconn *gc;
	struct guard *g;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (cn = ci->socket_context) == NULL ||
	    (gc = cn->guard) == NULL)
		return;
	g = cn->a->guard;
	pthread_mutex_lock(&g->mu);
	if (gc->state != GUARD_UPGRADED) {
		if (state == GUARD_WAITING) {
			gc->since = js_mono_ms();
			gc->kept = 1;
		}
		gc->state = state;
	}
	pthread_mutex_unlock(&g->mu);
}

/* Four times a second: shuts down the connections whose request headers
 * are overdue. */
static void
watch(void *arg)
{
	struct guard *g = arg;
	struct gconn *gc;
	int64_t now, rt, it;

	pthread_rwlock_rdlock(&g->a->lock);
	rt = (int64_t)g->a->conf->read_timeout_s * 1000;
	it = (int64_t)g->a->conf->idle_timeout_s * 1000;
	pthread_rwlock_unlock(&g->a->lock);
	pthread_mutex_lock(&g->mu);
	now = js_mono_ms();
	for (gc = g->head; gc != NULL; gc = gc->next) {
		if (gc->state != GUARD_WAITING || gc->shut ||
		    now - gc->since <= rt + (gc->kept ? it : 0))
			continue;
		gc->shut = 1;
		js_info("closing a connection: its request headers took "
		    "longer than --read-timeout");
		if (shutdown(gc->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
			js_warn("shutdown: %s", strerror(errno));
	}
	pthread_mutex_unlock(&g->mu);
}

int
guard_start(struct guard *g)
{
	g->timer = ticker_start(GUARD_EVERY_MS, watch, g);
	return g->timer != NULL ? 0 : -1;
}
