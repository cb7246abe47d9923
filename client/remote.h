/* remote.h - remote mode's HTTP layer (remote.c) for its routes
 * (remote_api.c). */
#ifndef JS_CLIENT_REMOTE_H
#define JS_CLIENT_REMOTE_H

#include <curl/curl.h>

#include "buf.h"
#include "client.h"

/* One request.  path holds the query; body NULL for none. */
struct rq {
	const char *method;
	const char *path;
	const char *body;
	const char *idem;	/* Idempotency-Key, or NULL */
	long timeout_s;		/* 0: none (a follow) */
	FILE *stream;		/* a 2xx answer's body goes here as it comes */
	/* filled: */
	long status;		/* 0 if no answer came (cannot connect) */
	struct js_buf body_out;	/* the answer (or an error's body) */
	long long streamed;	/* bytes written to stream */
};

/* Runs rq.  0 when a 2xx answer came, else -1 with ctx->err: the
 * server's JSON error text as it came (rq->status set), or why there was
 * no answer (rq->status 0).  The caller frees rq->body_out. */
int cl_http(struct cl_ctx *ctx, struct rq *rq);
/* The same, parsing a JSON answer into *out (if out is not NULL). */
int cl_http_json(struct cl_ctx *ctx, struct rq *rq, json_t **out);
/* A query value %-escaped into a new string (curl_free it). */
char *cl_http_escape(struct cl_ctx *ctx, const char *v);

/* Checks the settings of remote mode and opens its connection (ctx->be).
 * 0, or -1 with ctx->err. */
int cl_http_open(struct cl_ctx *ctx);
/* Frees the connection (the ops' close). */
void cl_remote_close(struct cl_ctx *ctx);

#endif
