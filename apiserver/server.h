/*
 * server.h - start-up and shutdown of jobspool-apiserver (server.c),
 * shared by main.c (server_run) and the handler-level fuzz harness (the
 * steps).
 *
 * Order: a zeroed struct api, a->conf set, api_open, (signal mask),
 * api_start_threads, a->daemon = api_start_daemon; on SIGTERM api_drain;
 * at the end api_close (also after a failed step: each piece is released
 * only if it was set up).
 */
#ifndef JS_SERVER_H
#define JS_SERVER_H

#include "api.h"

struct settings;

struct api_listen {
	const struct sockaddr *addr;	/* NULL: no listening socket (the
					 * caller hands connections in with
					 * MHD_add_connection) */
	int v6;
	unsigned max_connections;
	const char *cert, *key;		/* PEM; cert NULL: plain http */
	const char *ca;			/* client CA (mutual TLS) or NULL */
};

/* The whole server with settings s (whose conf it takes): start-up, then
 * signals until SIGTERM or SIGINT (SIGHUP reloads), the drain and the
 * clean-up.  0, or -1 after logging why it could not start. */
int server_run(struct settings *s);
/* Opens (creating) the spool, warns if it is not usable, initialises the
 * lock and creates the objects of struct api.  -1 after logging why. */
int api_open(struct api *a, const char *spool);
/* The change bus's inotify watcher, the header-timeout guard and lease
 * recovery.  -1 after logging. */
int api_start_threads(struct api *a);
/* The libmicrohttpd daemon with the handlers of http.c; NULL on failure. */
struct MHD_Daemon *api_start_daemon(struct api *a,
    const struct api_listen *l);
/* SIGTERM: stop taking requests, end follow streams and WebSockets, give
 * the requests in flight up to --read-timeout (at most 30 s), stop the
 * daemon. */
void api_drain(struct api *a);
/* Stops the threads, frees the objects, closes the spool, frees a->conf. */
void api_close(struct api *a);

#endif
