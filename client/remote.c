/* remote.c - remote mode's HTTP(S) with libcurl: the bearer token, TLS and
 * mutual TLS (--tls-ca, --tls-cert, --tls-key, as the processor's remote
 * mode names them), answers buffered or streamed, errors as the server
 * wrote them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

struct remote {
	CURL *c;
	char auth[600];
};

struct sink {
	struct cl_ctx *ctx;
	struct rq *rq;
	CURL *c;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	long status = 0;

	n *= size;	/* size is always 1 */
	curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
	if (s->rq->stream != NULL && status >= 200 && status < 300) {
		if (fwrite(p, 1, n, s->rq->stream) != n)
			return 0;
		fflush(s->rq->stream);
		s->rq->streamed += (long long)n;
		return n;
	}
	if (s->rq->body_out.len + n > ((size_t)64 << 20) ||
	    js_buf_add(&s->rq->body_out, p, n) < 0)
		return 0;
	return n;
}

/* The error of an answer that was not 2xx: its body as the server wrote
 * it (the JSON {"error": ...}). */
static void
answer_error(struct cl_ctx *ctx, struct rq *rq)
{
	const char *b = rq->body_out.p ? rq->body_out.p : "";
	size_t len = rq->body_out.len;

	while (len > 0 && (b[len - 1] == '\n' || b[len - 1] == '\r'))
		len--;
	snprintf(ctx->err, sizeof ctx->err, "HTTP %ld: %.*s", rq->status,
	    (int)(len > 900 ? 900 : len), len ? b : "(no body)");
}

/* The headers of rq; NULL if out of memory. */
static struct curl_slist *
headers(struct cl_ctx *ctx, const struct rq *rq)
{
	struct remote *r = ctx->be;
	struct curl_slist *h = NULL, *n;
	char idem[300];

	if (ctx->token != NULL && (h = curl_slist_append(h, r->auth)) == NULL)
		return NULL;
	if ((n = curl_slist_append(h, "Content-Type: application/json")) ==
	    NULL)
		goto fail;
	h = n;
	if ((n = curl_slist_append(h, "Expect:")) == NULL)
		goto fail;
	h = n;
	if (rq->idem != NULL) {
		snprintf(idem, sizeof idem, "Idempotency-Key: %s", rq->idem);
		if ((n = curl_slist_append(h, idem)) == NULL)
			goto fail;
		h = n;
	}
	return h;
fail:
	curl_slist_free_all(h);
	return NULL;
}

static void
setup(struct cl_ctx *ctx, CURL *c, struct rq *rq, char *url,
    struct sink *s)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, rq->timeout_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, CL_PROG "/" JS_VERSION);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	if (strcmp(rq->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (rq->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
	}
	if (ctx->tls_ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, ctx->tls_ca);
	if (ctx->tls_cert != NULL)
		curl_easy_setopt(c, CURLOPT_SSLCERT, ctx->tls_cert);
	if (ctx->tls_key != NULL)
		curl_easy_setopt(c, CURLOPT_SSLKEY, ctx->tls_key);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
}

int
cl_http(struct cl_ctx *ctx, struct rq *rq)
{
	struct remote *r = ctx->be;
	char cerr[CURL_ERROR_SIZE] = "", *url;
	struct curl_slist *h = headers(ctx, rq);
	struct sink s = { ctx, rq, r->c };
	CURLcode cc;

	rq->status = 0;
	rq->streamed = 0;
	url = malloc(strlen(ctx->url) + strlen(rq->path) + 1);
	if (h == NULL || url == NULL) {
		curl_slist_free_all(h);
		free(url);
		snprintf(ctx->err, sizeof ctx->err, "out of memory");
		return -1;
	}
	strcpy(url, ctx->url);
	strcat(url, rq->path);
	setup(ctx, r->c, rq, url, &s);
	curl_easy_setopt(r->c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(r->c, CURLOPT_ERRORBUFFER, cerr);
	cc = curl_easy_perform(r->c);
	curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &rq->status);
	curl_slist_free_all(h);
	free(url);
	if (cc != CURLE_OK) {
		snprintf(ctx->err, sizeof ctx->err, "%s%s: %s", ctx->url,
		    rq->path, cerr[0] ? cerr : curl_easy_strerror(cc));
		if (rq->status >= 300)
			answer_error(ctx, rq);
		return -1;
	}
	if (rq->status < 200 || rq->status >= 300) {
		answer_error(ctx, rq);
		return -1;
	}
	return 0;
}

int
cl_http_json(struct cl_ctx *ctx, struct rq *rq, json_t **out)
{
	json_error_t je;
	int rc = cl_http(ctx, rq);

	if (rc == 0 && out != NULL) {
		*out = json_loadb(rq->body_out.p ? rq->body_out.p : "",
		    rq->body_out.len, 0, &je);
		if (*out == NULL) {
			snprintf(ctx->err, sizeof ctx->err, "the server's answer is "
			    "not JSON: %s", je.text);
			rc = -1;
		}
	}
	js_buf_free(&rq->body_out);
	return rc;
}

char *
cl_http_escape(struct cl_ctx *ctx, const char *v)
{
	return curl_easy_escape(((struct remote *)ctx->be)->c, v, 0);
}

void
cl_remote_close(struct cl_ctx *ctx)
{
	struct remote *r = ctx->be;

	if (r != NULL) {
		curl_easy_cleanup(r->c);
		free(r);
	}
	ctx->be = NULL;
	curl_global_cleanup();
}

int
cl_http_open(struct cl_ctx *ctx)
{
	struct remote *r;
	size_t n = strlen(ctx->url);

	if (strncmp(ctx->url, "http://", 7) != 0 &&
	    strncmp(ctx->url, "https://", 8) != 0) {
		snprintf(ctx->err, sizeof ctx->err, "--url must start with "
		    "http:// or https://, not '%.200s'", ctx->url);
		return -1;
	}
	while (n > 0 && ctx->url[n - 1] == '/')
		ctx->url[--n] = '\0';	/* paths start with '/' */
	if ((ctx->tls_cert == NULL) != (ctx->tls_key == NULL)) {
		snprintf(ctx->err, sizeof ctx->err, "--tls-cert and --tls-key go "
		    "together");
		return -1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (r = calloc(1, sizeof *r)) == NULL ||
	    (r->c = curl_easy_init()) == NULL) {
		snprintf(ctx->err, sizeof ctx->err, "cannot start libcurl");
		return -1;
	}
	if (ctx->token != NULL)
		snprintf(r->auth, sizeof r->auth, "Authorization: Bearer %s",
		    ctx->token);
	ctx->be = r;
	return 0;
}
