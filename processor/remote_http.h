/*
 * remote_http.h - the HTTP transport of remote mode: POST requests to the
 * apiserver's worker routes with libcurl (bearer token, TLS and mutual TLS,
 * TCP keep-alive, stall detection) and the backoff between retries.
 *
 * One struct rhttp holds what every request to the server shares; each
 * thread of the link has its own curl easy handle.  Nothing here knows the
 * link's threads: a request is aborted when one of the flags it is given is
 * set, and a log upload reads its body through the caller's callback.
 */
#ifndef JS_REMOTE_HTTP_H
#define JS_REMOTE_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "curlfn.h"
#include <jansson.h>

#include "proc.h"

#define RHTTP_IDLE_MAX 8		/* handles kept for the next job */

struct rhttp {
	const char *server;		/* base URL */
	const char *token;		/* bearer secret, or NULL */
	const char *tls_ca, *tls_cert, *tls_key;	/* or NULL */
	struct curl_slist *json_hdrs, *log_hdrs;
	/* curl handles a job's thread has finished with, each holding its
	 * open connection to the server, for the next job's thread: a
	 * new connection per job cost a TCP handshake here and a thread
	 * on the server (libcurl does not share connections between
	 * threads; a handle passed from one thread to the next is fine) */
	pthread_mutex_t idle_mu;
	struct rhttp_idle {
		CURL *c;
		int64_t since;		/* js_mono_ms() when put back */
	} idle[RHTTP_IDLE_MAX];
	size_t nidle;
};

/* One request. */
struct rhttp_req {
	const char *path;		/* after the base URL: /api/v1/... */
	const char *body;		/* JSON; NULL: read is the body */
	curl_read_callback read;	/* a streamed (chunked) upload */
	void *read_arg;
	const atomic_int *abort1, *abort2;	/* stop when set; may be NULL */
	int64_t timeout_ms;		/* the whole request */
	long stall_s;			/* no byte either way this long: a
					 * failure; 0: no limit */
};

/* Fills h from the settings (which it points into: they must outlive
 * it).  Returns 0, or -1 when out of memory (h is then freed). */
int rhttp_init(struct rhttp *h, const struct proc_config *cfg);
/* Frees h and its idle handles (every other handle must be done). */
void rhttp_free(struct rhttp *h);

/* A curl handle for one thread's requests: the most recent idle one (its
 * connection kept open), or a new one.  NULL when out of memory. */
CURL *rhttp_handle(struct rhttp *h);
/* The thread is done with c (NULL: nothing): kept for the next thread,
 * or cleaned up when enough are kept.  A handle idle for longer than the
 * server likely keeps a connection open is not reused. */
void rhttp_handle_done(struct rhttp *h, CURL *c);

/* One POST to the server with curl handle c.  The answer's status goes
 * into *status and its body, if JSON, into *out (NULL otherwise; the
 * caller releases it); err then holds the body's first line (at most 200
 * bytes), the server's error text for a log.  Returns 0 when an HTTP
 * answer came back, -1 with err saying why when none did. */
int rhttp_post(const struct rhttp *h, CURL *c, const struct rhttp_req *rq,
    long *status, json_t **out, char *err, size_t errlen);

/* The server's "error" in an answer, or err. */
const char *rhttp_why(const json_t *ans, const char *err);

/* The longest wait before retry number fails (1, 2, ...): 250 ms doubled
 * on each failure after the first, at most max_ms. */
int64_t rhttp_backoff_cap(int fails, int64_t max_ms);
/* A wait before that retry: full jitter, anywhere from 10 ms to 10 ms plus
 * rhttp_backoff_cap (never a busy loop). */
int64_t rhttp_backoff_ms(int fails, int64_t max_ms);

/* Copies an answer's body as one line of text into err: up to the first
 * CR or LF, at most 200 bytes.  body may be NULL (err is then ""). */
void rhttp_answer_line(const char *body, char *err, size_t errlen);

#endif
