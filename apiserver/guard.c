/*
 * guard.c - --read-timeout for request headers.  libmicrohttpd's
 * connection timeout counts inactivity only, so a client sending one header
 * byte every few seconds (slow loris) would hold its connection and thread
 * for ever.  Every connection is registered here from the connection
 * notifications; a thread looks four times a second for connections whose
 * request headers have not all arrived in time and shuts their socket down
 * (libmicrohttpd then closes the connection as if the client had gone).
 * Once a second the same thread also recovers remote workers' expired
 * leases (routes_workers.c), so they return even when no worker claims.
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
#include <time.h>

#include "api.h"
#include "log.h"

struct gconn {
	MHD_socket fd;
	int64_t since;		/* accepted, or the previous answer ended */
	int state;		/* GUARD_WAITING/_BUSY/_UPGRADED */
	int kept;		/* a previous request was answered */
	int shut;		/* already shut down by us */
	struct gconn *prev, *next;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct gconn *head;
	struct api *a;
	pthread_t th;
	int running, stop;
} guard_state = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
};

void
guard_conn_event(struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct gconn *gc;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		gc = calloc(1, sizeof *gc);
		if (gc == NULL || ci == NULL) {
			free(gc);	/* unguarded: inactivity timeout only */
			return;
		}
		gc->fd = ci->connect_fd;
		gc->since = js_mono_ms();
		pthread_mutex_lock(&guard_state.mu);
		gc->next = guard_state.head;
		if (guard_state.head != NULL)
			guard_state.head->prev = gc;
		guard_state.head = gc;
		pthread_mutex_unlock(&guard_state.mu);
		*socket_context = gc;
		return;
	}
	/* closed: unregistered before libmicrohttpd closes the socket, so
	 * the guard never shuts down a reused descriptor */
	gc = *socket_context;
	if (gc == NULL)
		return;
	pthread_mutex_lock(&guard_state.mu);
	if (gc->prev != NULL)
		gc->prev->next = gc->next;
	else
		guard_state.head = gc->next;
	if (gc->next != NULL)
		gc->next->prev = gc->prev;
	pthread_mutex_unlock(&guard_state.mu);
	free(gc);
	*socket_context = NULL;
}

void
guard_set(struct MHD_Connection *c, int state)
{
	const union MHD_ConnectionInfo *ci;
	struct gconn *gc;

	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (gc = ci->socket_context) == NULL)
		return;
	pthread_mutex_lock(&guard_state.mu);
	if (gc->state != GUARD_UPGRADED) {
		if (state == GUARD_WAITING) {
			gc->since = js_mono_ms();
			gc->kept = 1;
		}
		gc->state = state;
	}
	pthread_mutex_unlock(&guard_state.mu);
}

static void *
watch(void *arg)
{
	struct timespec ts;
	struct gconn *gc;
	int64_t now, rt, it;

	(void)arg;
	pthread_mutex_lock(&guard_state.mu);
	while (!guard_state.stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&guard_state.cv, &guard_state.mu, &ts);
		if (guard_state.stop)
			break;
		pthread_rwlock_rdlock(&guard_state.a->lock);
		rt = (int64_t)guard_state.a->conf->read_timeout_s * 1000;
		it = (int64_t)guard_state.a->conf->idle_timeout_s * 1000;
		pthread_rwlock_unlock(&guard_state.a->lock);
		now = js_mono_ms();
		for (gc = guard_state.head; gc != NULL; gc = gc->next) {
			if (gc->state != GUARD_WAITING || gc->shut ||
			    now - gc->since <= rt + (gc->kept ? it : 0))
				continue;
			gc->shut = 1;
			js_info("closing a connection: its request headers took "
			    "longer than --read-timeout");
			if (shutdown(gc->fd, SHUT_RDWR) < 0 && errno != ENOTCONN)
				js_warn("shutdown: %s", strerror(errno));
		}
	}
	pthread_mutex_unlock(&guard_state.mu);
	return NULL;
}

int
guard_start(struct api *a)
{
	guard_state.a = a;
	guard_state.stop = 0;
	if ((errno = pthread_create(&guard_state.th, NULL, watch, NULL)) != 0)
		return -1;
	guard_state.running = 1;
	return 0;
}

void
guard_stop(void)
{
	if (!guard_state.running)
		return;
	pthread_mutex_lock(&guard_state.mu);
	guard_state.stop = 1;
	pthread_cond_signal(&guard_state.cv);
	pthread_mutex_unlock(&guard_state.mu);
	pthread_join(guard_state.th, NULL);
	guard_state.running = 0;
}
