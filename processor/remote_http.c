/*
 * remote_http.c - the HTTP transport of remote mode (see remote_http.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "remote_http.h"
#include "util.h"

#define RESP_MAX (16u << 20)		/* largest answer we read */
#define BACKOFF_MIN_MS 250

#define IDLE_REUSE_MS 5000	/* an idle handle older than this goes */

int
rhttp_init(struct rhttp *h, const struct proc_config *cfg)
{
	memset(h, 0, sizeof *h);
	h->idle_mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	h->server = cfg->server;
	h->token = cfg->token;
	h->tls_ca = cfg->tls_ca;
	h->tls_cert = cfg->tls_cert;
	h->tls_key = cfg->tls_key;
	h->json_hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	h->json_hdrs = curl_slist_append(h->json_hdrs, "Expect:");
	h->log_hdrs = curl_slist_append(NULL,
	    "Content-Type: application/octet-stream");
	h->log_hdrs = curl_slist_append(h->log_hdrs, "Transfer-Encoding: chunked");
	h->log_hdrs = curl_slist_append(h->log_hdrs, "Expect:");
	if (h->json_hdrs == NULL || h->log_hdrs == NULL) {
		rhttp_free(h);
		return -1;
	}
	return 0;
}

void
rhttp_free(struct rhttp *h)
{
	while (h->nidle > 0)
		curl_easy_cleanup(h->idle[--h->nidle].c);
	pthread_mutex_destroy(&h->idle_mu);
	curl_slist_free_all(h->json_hdrs);
	curl_slist_free_all(h->log_hdrs);
	h->json_hdrs = h->log_hdrs = NULL;
}

CURL *
rhttp_handle(struct rhttp *h)
{
	CURL *c = NULL, *stale[RHTTP_IDLE_MAX];
	int64_t now = js_mono_ms();
	size_t nstale = 0, i, keep = 0;

	pthread_mutex_lock(&h->idle_mu);
	/* the oldest first: those idle too long go */
	for (i = 0; i < h->nidle; i++) {
		if (now - h->idle[i].since > IDLE_REUSE_MS)
			stale[nstale++] = h->idle[i].c;
		else
			h->idle[keep++] = h->idle[i];
	}
	h->nidle = keep;
	if (h->nidle > 0)
		c = h->idle[--h->nidle].c;
	pthread_mutex_unlock(&h->idle_mu);
	for (i = 0; i < nstale; i++)
		curl_easy_cleanup(stale[i]);
	return c != NULL ? c : curl_easy_init();
}

void
rhttp_handle_done(struct rhttp *h, CURL *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&h->idle_mu);
	if (h->nidle < RHTTP_IDLE_MAX) {
		h->idle[h->nidle].c = c;
		h->idle[h->nidle].since = js_mono_ms();
		h->nidle++;
		c = NULL;
	}
	pthread_mutex_unlock(&h->idle_mu);
	if (c != NULL)
		curl_easy_cleanup(c);
}

int64_t
rhttp_backoff_cap(int fails, int64_t max_ms)
{
	int64_t cap = BACKOFF_MIN_MS;

	while (fails-- > 1 && cap < max_ms)
		cap *= 2;
	return cap > max_ms ? max_ms : cap;
}

int64_t
rhttp_backoff_ms(int fails, int64_t max_ms)
{
	int64_t cap = rhttp_backoff_cap(fails, max_ms);
	uint32_t r;

	if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
		r = (uint32_t)js_now_ns();
	/* full jitter: anywhere in [0, cap], but not a busy loop */
	return 10 + (int64_t)(r % (uint32_t)(cap + 1));
}

const char *
rhttp_why(const json_t *ans, const char *err)
{
	const char *e = json_string_value(json_object_get(ans, "error"));

	return e != NULL ? e : err;
}

void
rhttp_answer_line(const char *body, char *err, size_t errlen)
{
	char *nl;

	snprintf(err, errlen, "%.200s", body != NULL ? body : "");
	nl = strpbrk(err, "\r\n");
	if (nl != NULL)
		*nl = '\0';
}

struct buf {
	char *p;
	size_t len;
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;
	char *p;

	if (b->len + len > RESP_MAX)
		return 0;
	p = realloc(b->p, b->len + len + 1);
	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, len);
	b->p = p;
	b->len += len;
	b->p[b->len] = '\0';
	return len;
}

struct xfer {
	const struct rhttp_req *rq;
	curl_off_t dn, un;		/* bytes moved so far */
	int64_t moved;			/* when they last changed (mono) */
	int stalled;
};

static int
on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	struct xfer *x = arg;
	int64_t now = js_mono_ms();

	(void)dt; (void)ut;
	if ((x->rq->abort1 != NULL && atomic_load(x->rq->abort1)) ||
	    (x->rq->abort2 != NULL && atomic_load(x->rq->abort2)))
		return 1;
	if (dn != x->dn || un != x->un || x->moved == 0) {
		x->dn = dn;
		x->un = un;
		x->moved = now;
	} else if (x->rq->stall_s > 0 &&
	    now - x->moved > x->rq->stall_s * 1000) {
		x->stalled = 1;		/* a dead network or a hung server */
		return 1;
	}
	return 0;
}

/* Every connection: a dead peer is noticed within about 25 s even while
 * we only wait (keep-alive probes), and unacknowledged data fails a
 * connection after 20 s. */
static int
on_socket(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int cnt = 3;
	unsigned int uto = 20000;

	(void)arg;
	if (purpose == CURLSOCKTYPE_IPCXN) {
		/* best effort: not every socket is TCP */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto,
		    sizeof uto);
	}
	return CURL_SOCKOPT_OK;
}

/* The options of every request: timeouts, keep-alive, identity, TLS. */
static void
set_common(const struct rhttp *h, CURL *c, const struct rhttp_req *rq,
    char *url, char *cerr)
{
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
	if (rq->stall_s > 0 && rq->stall_s < 5)
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
		    rq->stall_s * 1000L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_socket);
	curl_easy_setopt(c, CURLOPT_USERAGENT, PROG "/" JS_VERSION);
	if (h->token != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->token);
	}
	if (h->tls_ca != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->tls_ca);
	if (h->tls_cert != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, h->tls_cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, h->tls_key);
	}
}

int
rhttp_post(const struct rhttp *h, CURL *c, const struct rhttp_req *rq,
    long *status, json_t **out, char *err, size_t errlen)
{
	char url[2048], cerr[CURL_ERROR_SIZE];
	struct buf b = { NULL, 0 };
	struct xfer x;
	CURLcode rc;

	*status = 0;
	if (out != NULL)
		*out = NULL;
	memset(&x, 0, sizeof x);
	x.rq = rq;
	snprintf(url, sizeof url, "%s%s", h->server, rq->path);
	curl_easy_reset(c);
	cerr[0] = '\0';
	set_common(h, c, rq, url, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	if (rq->body == NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->log_hdrs);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, rq->read);
		curl_easy_setopt(c, CURLOPT_READDATA, rq->read_arg);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->json_hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
		    (long)strlen(rq->body));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		if (x.stalled)
			snprintf(err, errlen, "no answer for %ld s",
			    rq->stall_s);
		else
			snprintf(err, errlen, "%s", cerr[0] ? cerr :
			    curl_easy_strerror(rc));
		free(b.p);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (out != NULL && b.len > 0)
		*out = json_loadb(b.p, b.len, 0, NULL);
	rhttp_answer_line(b.p, err, errlen);
	free(b.p);
	return 0;
}
