/*
 * api.h - the pieces of jobspool-apiserver and how they meet.
 *
 *   main.c            the program: settings, then the server
 *   conf.c            settings: the option table, parsing, checks, SIGHUP
 *                     reload (conf.h)
 *   server.c          start-up, signals (SIGTERM stop, SIGHUP reload) and
 *                     shutdown of the objects, threads and daemon
 *                     (server.h)
 *   http.c            the MHD access handler: routing, body reading, limits,
 *                     content types, auth check, dispatch to the route's
 *                     handler
 *   routes.c          the route table (pattern, role, and per method the
 *                     body, query parameters and handler) and path matching
 *   reply.c           every answer's shape: JSON bodies, {"error": ...} with
 *                     the right status, query arguments (a leaf)
 *   auth.c            bearer tokens (constant-time compare), JWTs
 *                     (lib/jwt, lib/revoke), why a token is refused,
 *                     ownership
 *   routes_tokens.c   /api/v1/tokens...: minting and revoking JWTs
 *   routes_jobs.c     /api/v1/jobs..., the demo routes
 *   jobcache.c        GET /api/v1/jobs/{id}: the answer made from a job
 *                     file's bytes, sent again while the file holds them
 *   routes_health.c   /healthz: the spool, live processors, stalled jobs
 *   routes_batches.c  /api/v1/batches...
 *   routes_workers.c  /api/v1/workers/...: remote processors' claim, log
 *                     upload, heartbeat and finish
 *   leases.c          remote workers' leases: expiry and recovery, on a
 *                     timer of their own
 *   routes_sched.c    /api/v1/processors (the registry, local and remote),
 *                     /api/v1/pause[/{label}], and why a pending job waits
 *                     (the "waiting" of GET /api/v1/jobs and .../{id})
 *   index.c           listing and claim order: a cache of job summaries
 *                     keyed by id+mtime
 *   bus.c             the spool's change bus: one inotify watcher, the
 *                     generations waiters wake on, jobs seen finishing
 *   follow.c          chunked log follow (of a job, of a batch)
 *   ws.c              log follow over WebSocket (RFC 6455; SHA-1 and base64
 *                     of the handshake from lib/digest)
 *   wsframe.c         WebSocket framing (pure; fuzzed)
 *   request.c         method/query/type/length checks, NDJSON body (pure;
 *                     fuzzed)
 *   metrics.c         the counters of /metrics and their text format (a leaf)
 *   routes_metrics.c  GET /metrics
 *   ui.c              the status page: GET / and /ui/{file}, compiled in
 *                     from apiserver/ui/ (index.html, app.js, app.css)
 *   guard.c           --read-timeout for request headers (slow loris)
 *   ticker.c          a thread calling a function every N ms (guard.c,
 *                     leases.c)
 *
 * The objects (index, bus, metrics, leases, guard, job cache) are owned by struct api;
 * server.c creates them in api_open and frees them in api_close.
 *
 * Thread model: libmicrohttpd with one thread per connection (plus its
 * listening thread).  A follow stream blocks in its content callback,
 * waiting on a condition variable the bus's inotify thread broadcasts; a slow
 * client holds only its own thread; --max-connections bounds the threads.
 */
#ifndef JS_API_H
#define JS_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <microhttpd.h>

#include "job.h"
#include "jwt.h"
#include "registry.h"
#include "spool.h"

#define PROG "jobspool-apiserver"

struct api_token {
	char *name;
	char *secret;
	size_t secret_len;
	int admin;
	int worker;		/* may use the worker routes (:worker) */
};

/* Settings that SIGHUP may change; replaced as a whole under api.lock. */
struct api_conf {
	struct api_token *tokens;
	size_t ntokens;
	size_t max_body;
	unsigned read_timeout_s;
	unsigned idle_timeout_s;
	int64_t lease_ms;		/* granted to remote workers (--lease) */
	struct js_jwt_keys jwt;		/* --jwt-secret-file (n 0: no JWTs) */
	int64_t jwt_ttl_s;		/* --jwt-ttl: a minted token's default life */
	int64_t jwt_max_s;		/* --jwt-max-ttl: the longest life accepted */
	int64_t jwt_skew_s;		/* --jwt-skew: clock difference allowed */
};
void api_conf_free(struct api_conf *cf);	/* conf.c; NULL: nothing */

struct idx;
struct bus;
struct metrics;
struct leases;
struct guard;
struct gconn;

struct api {
	struct js_spool *sp;
	struct MHD_Daemon *daemon;
	struct idx *idx;		/* listing index (index.c) */
	struct bus *bus;		/* spool change bus (bus.c) */
	struct metrics *metrics;	/* counters of /metrics (metrics.c) */
	struct leases *leases;		/* remote workers' leases (leases.c) */
	struct guard *guard;		/* header-timeout guard (guard.c) */
	struct js_workers *workers;	/* remote workers seen (lib/registry) */
	struct jcache *jcache;		/* answers of GET jobs/{id} (jobcache.c) */
	pthread_rwlock_t lock;		/* guards conf */
	struct api_conf *conf;
	atomic_int stopping;		/* set on SIGTERM: follow streams end */
	atomic_int ws_active;		/* WebSocket threads still running */
	atomic_int active;		/* requests in flight (SIGTERM waits) */
	int mtls;			/* client certificates are required and verified */
	int access_fd;			/* --access-log: where to (valid if access_on) */
	int access_on;
	int lock_ok;			/* lock initialised (server.c) */
};

/* One connection (libmicrohttpd's socket context), set up by server.c's
 * connection notification: how a function given only the connection
 * reaches the server (reply_queue's status note, guard_set). */
struct api_conn {
	struct api *a;
	struct gconn *guard;	/* guard.c's record; NULL: unguarded */
	unsigned status;	/* of the request's answer (reply_queue); 0: none */
	long long bytes;	/* its body's length, -1 if unknown */
	int streamed;		/* a reply_stream answer: bytes counts what its
				 * content reader produced so far */
};

/* Who is calling: filled by the auth check of each request. */
struct caller {
	int authed;		/* tokens are configured and one matched */
	int admin;		/* sees every job (or no tokens configured) */
	int worker;		/* may use the worker routes (or no tokens) */
	char name[128];		/* token name ("" without tokens) */
	int jwt;		/* authenticated by a JWT: */
	int64_t exp;		/* its expiry (seconds since 1970) */
	char jti[JS_JWT_JTI_MAX + 1];	/* its id ("" if it has none) */
};

/* One request in flight (MHD's per-request closure). */
#define ROUTE_SEGS 6		/* segments of the longest path routed */
#define ROUTE_ARGS 2		/* {captures} of a pattern */
#define ROUTE_PATH_MAX 512	/* a longer path is no route (404) */
struct route;
struct route_method;
struct req {
	const struct route *route;	/* routes_match: NULL if none */
	const struct route_method *method;	/* request_check: its entry */
	const char *arg[ROUTE_ARGS];	/* the pattern's {captures} */
	char *seg[ROUTE_SEGS];	/* path segments (pointers into segbuf) */
	int nseg;
	char *segbuf;
	char *body;
	size_t len, cap;
	int ndjson;		/* body is application/x-ndjson */
	int head;		/* a HEAD request: reads, never marks retrieved */
	int failed;		/* an error response is already queued */
	int bad_path;		/* !request_path_ok: 400 (http_uri_seen) */
	int too_big;		/* the body is over max_body: 413 at the end */
	size_t discarded;
	int64_t start_ms;	/* when the request began (read timeout) */
	char verb[12];		/* its method, for the access log */
	unsigned read_timeout_s;
	struct caller who;
	size_t max_body;
	/* NDJSON batch, read line by line as it arrives */
	json_t *nd_jobs;
	char nd_err[300];
	int nd_oom;		/* nd_err is a failed allocation: 503, not 400 */
	size_t nd_line;
	void *ws_proto;		/* WebSocket prototype (ws.c), freed at the end */
	void *wlog;		/* a worker's log upload (routes_workers.c) */
};

/* routes.c: the route table, the only place a route is defined (adding
 * a route is adding a row).  A pattern is "/"-separated segments, each a
 * literal or a {capture} matching any one segment; a route is called with
 * the role it names; each method (group) it takes has its body, its query
 * parameters and its handler, called with the captures in order. */
enum route_role {
	ROLE_TOKEN = 0,		/* a token when tokens are configured */
	ROLE_OPEN,		/* anyone (/healthz, /metrics) */
	ROLE_WORKER,		/* a token with the worker role */
};
enum route_body {
	BODY_NONE = 0,	/* not checked (read if sent, up to --max-body) */
	BODY_JSON,	/* JSON: Content-Type and Content-Length checked */
	BODY_BATCH,	/* JSON, or NDJSON read line by line as it arrives */
	BODY_RAW,	/* raw bytes streamed to begin/feed: no type or size
			 * limit, no read timeout */
};
struct route_method {
	const char *methods;	/* "GET, HEAD", "POST", ... (for Allow) */
	const char *query;	/* the query parameters taken: "a,b" or "" */
	enum route_body body;
	/* the handler: one of them, by the captures it takes */
	enum MHD_Result (*h0)(struct api *, struct MHD_Connection *);
	enum MHD_Result (*h)(struct api *, struct MHD_Connection *,
	    struct req *);
	enum MHD_Result (*h1)(struct api *, struct MHD_Connection *,
	    struct req *, const char *);
	enum MHD_Result (*h2)(struct api *, struct MHD_Connection *,
	    struct req *, const char *, const char *);
	/* BODY_RAW: begin once the headers are checked (capture 1; may queue
	 * an error and set r->failed), feed each piece of the body; the
	 * handler answers at its end */
	enum MHD_Result (*begin)(struct api *, struct MHD_Connection *,
	    struct req *, const char *);
	void (*feed)(struct api *, struct req *, const char *, size_t);
};
#define ROUTE_METHODS 3
struct route {
	const char *name;		/* "job_log" */
	const char *pattern;		/* "/api/v1/jobs/{id}/log" */
	enum route_role role;
	struct route_method m[ROUTE_METHODS];	/* ends at methods NULL */
};
extern const struct route routes_table[];
extern const size_t routes_count;
/* Splits url's path into r->seg (r->segbuf, freed by the caller) and sets
 * r->route to the first row whose pattern it matches (NULL if none) and
 * r->arg to its captures.  One trailing '/' is ignored.  0, or -1 when
 * memory ran out (no route then: not a 404). */
int routes_match(struct req *r, const char *url);

/* request.c: what is decided from a request's method, URL and headers
 * without a socket, given its row of the route table. */
/* Whether the path of a raw request target (before its %-escapes are
 * decoded; it ends at '?' or the end) holds only bytes a route can hold:
 * printable ASCII other than space, raw or escaped, and no '%' that does
 * not start an escape of two hex digits.  A %00 would otherwise end the
 * decoded path early (libmicrohttpd hands it over as a C string). */
int request_path_ok(const char *target);
/* The entry of route rt for method, or NULL if rt does not take it. */
const struct route_method *request_method(const struct route *rt,
    const char *method);
/* The methods rt takes, for an Allow header ("GET, HEAD, PUT, DELETE"),
 * in buf (truncated to size); returns buf. */
#define ROUTE_ALLOW_MAX 64
const char *request_allow(const struct route *rt, char *buf, size_t size);
/* The query parameters rt takes with method, comma-separated ("" for
 * none); request_query_ok says whether key is one of them.  Any other
 * parameter is refused (400), as an unknown body field is. */
const char *request_query_allowed(const struct route *rt, const char *method);
int request_query_ok(const struct route *rt, const char *method,
    const char *key);
/* After routing (and auth): 0 if the request may go on, or the status to
 * answer (404, 405, 413, 415) with a message in msg.  Sets r->method and
 * r->ndjson.  content_type and content_length may be NULL. */
unsigned request_check(struct req *r, const char *method,
    const char *content_type, const char *content_length, char *msg,
    size_t msglen);
/* Whether r's body is streamed raw (its method's BODY_RAW). */
int request_raw(const struct req *r);
/* Feeds NDJSON upload data into r (validating each complete line into
 * r->nd_jobs, the first error into r->nd_err); last=1 ends the body. */
void request_ndjson_feed(struct req *r, const char *data, size_t len,
    int last);
/* Validates one job of a batch (number n, for the message) into
 * r->nd_jobs; -1 with r->nd_err. */
int request_take_job(struct req *r, const json_t *sub, size_t n);

/* auth.c */
void auth_free_tokens(struct api_token *t, size_t n);
/* Parses "NAME:SECRET[:admin|:worker]"; 0 or -1 with err. */
int auth_parse_token(const char *spec, struct api_token *t, char *err,
    size_t errlen);
/* Why a request's credentials were refused: a JWT's reason (enum
 * js_jwt_status, 1 to JS_JWT_NSTATUS - 1), or one of these. */
enum auth_reason {
	AUTH_OK = 0,
	AUTH_MISSING = JS_JWT_NSTATUS,	/* no "Authorization: Bearer X" */
	AUTH_UNKNOWN,		/* not a configured token, and not a JWT */
	AUTH_ERROR,		/* the revocations could not be read (503) */
	AUTH_NREASONS
};
/* "missing", "unknown_token", "error", or js_jwt_reason's word. */
const char *auth_reason_name(int reason);
/* Checks the Authorization header: AUTH_OK and fills who, or the reason
 * it is refused with a sentence in why (never quoting a secret). */
int auth_check(struct api *a, struct MHD_Connection *c, struct caller *who,
    char *why, size_t whylen);
/* The answer to a refused request: 401 with {"error": why, "reason":
 * word} and WWW-Authenticate (RFC 6750: error="invalid_token" and the
 * word as error_description), counted in /metrics; 503 for AUTH_ERROR. */
enum MHD_Result auth_refuse(struct api *a, struct MHD_Connection *c,
    int reason, const char *why);
/* Whether any credential is configured (static tokens or JWT secrets):
 * without any, every client is admin.  Under a->lock. */
int auth_configured(const struct api_conf *cf);
/* Whether who may see job (owner check). */
int auth_visible(const struct caller *who, const json_t *job);
/* The same for a job whose "owner" is owner (NULL: none). */
int auth_visible_owner(const struct caller *who, const char *owner);

/* http.c */
enum MHD_Result http_handler(void *cls, struct MHD_Connection *c,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **con_cls);
void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe);
/* MHD_OPTION_URI_LOG_CALLBACK: sees the raw request target before it is
 * decoded and marks a request whose path fails request_path_ok (its
 * answer is then 400). */
void *http_uri_seen(void *cls, const char *uri, struct MHD_Connection *c);

/* reply.c: every answer's shape; a leaf every route uses. */
/* Queues resp with status and drops our reference; the status (and the
 * body's length, given to reply_queue_len) are noted in the connection's
 * struct api_conn for /metrics and the access log (http_completed). */
enum MHD_Result reply_queue(struct MHD_Connection *c, unsigned status,
    struct MHD_Response *resp);
enum MHD_Result reply_queue_len(struct MHD_Connection *c, unsigned status,
    struct MHD_Response *resp, size_t len);
/* A chunked answer read from crc(cls) in blocks of block bytes (as
 * MHD_create_response_from_callback), whose bytes are counted as they are
 * produced, so the access log has the real count at the end; crfc(cls)
 * is called when it is freed, or at once if it cannot be made (NULL). */
struct MHD_Response *reply_stream(struct MHD_Connection *c, size_t block,
    MHD_ContentReaderCallback crc, void *cls,
    MHD_ContentReaderFreeCallback crfc);
/* A JSON response (compact, one trailing newline, Content-Type set) of
 * body, which it steals; NULL if out of memory.  The _len form gives the
 * body's length in *len. */
struct MHD_Response *reply_json_response(json_t *body);
struct MHD_Response *reply_json_response_len(json_t *body, size_t *len);
/* The text of a JSON answer: body made public (reply_public, in place),
 * compact, one trailing newline; its length in *len.  NULL when body is
 * NULL or out of memory.  body stays the caller's. */
char *reply_json_text(json_t *body, size_t *len);
/* An answer of JSON text (which it takes: freed on failure), with its
 * Content-Type.  NULL when text is NULL or out of memory. */
struct MHD_Response *reply_text_response(char *text, size_t len);
/* Leaves out of an answer (in place) what a JSON client could not hold
 * exactly: a job's "seq" (nanoseconds, above 2^53; list order and the
 * "next" cursor carry it).  Called for every JSON answer by
 * reply_json_response; a streamed answer calls it for each job. */
void reply_public(json_t *body);
enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status,
    json_t *body);	/* steals body */
/* The client's address as text (IPv4 or IPv6) in out, else unknown;
 * returns out.  The access log's and a worker's default name. */
const char *reply_peer(struct MHD_Connection *c, char *out, size_t size,
    const char *unknown);
enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same with an Allow header (405) when allow is not NULL. */
enum MHD_Result reply_error_allow(struct MHD_Connection *c, unsigned status,
    const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The status and error for a failed spool call (errno). */
enum MHD_Result reply_errno(struct MHD_Connection *c, int e, const char *what);
/* The same for a failed write of a new file (submit): ENOENT there means
 * the spool directory is gone, so 503 with js_spool_check's reason. */
enum MHD_Result reply_store_errno(struct api *a, struct MHD_Connection *c,
    int e, const char *what);
/* Whether the spool path still names the directory we opened (not removed,
 * renamed away or replaced): two stat calls, checked before each submit so
 * no job lands where the other programs do not look. */
int reply_spool_in_place(struct api *a);
/* A query argument or NULL; whether a flag argument is set ("1", "true",
 * "yes" or present without value). */
const char *reply_arg(struct MHD_Connection *c, const char *key);
int reply_flag(struct MHD_Connection *c, const char *key);
/* Parses the JSON body of r; NULL after queueing a 400 (503 when memory
 * ran out). */
json_t *reply_body_json(struct MHD_Connection *c, struct req *r);

/* routes_jobs.c */
enum MHD_Result route_jobs_post(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_jobs_list(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_job_get(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id);
enum MHD_Result route_job_put(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id);
enum MHD_Result route_job_delete(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id);
enum MHD_Result route_job_rerun(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id);
enum MHD_Result route_job_log(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id);
enum MHD_Result route_add(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *x, const char *y);
/* Reads a job the caller may see; NULL with errno (ENOENT if invisible). */
json_t *jobs_read_visible(struct api *a, const struct caller *who,
    const char *id, enum js_state *st);
/* Checks that every job a submitted job depends on (lib/deps: "after",
 * "after_any") is one the caller may see, or one of batch (the jobs of its
 * batch, each holding its "id"; NULL: none).  0; -1/EINVAL with err (the
 * answer is 400); -1 with errno if a job could not be read. */
int jobs_deps_known(struct api *a, const struct caller *who,
    const json_t *job, const json_t *batch, char *err, size_t errlen);
/* Submits stored jobs (with Idempotency-Key handling done by the caller). */

/* routes_workers.c: remote processors (man 8 jobspool-apiserver, WORKER
 * ROUTES).  The log upload is streamed: begin after the headers (may
 * queue an error and set r->failed), feed each piece of the body as it
 * arrives, end answers. */
enum MHD_Result route_worker_claim(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_worker_heartbeat(struct api *a,
    struct MHD_Connection *c, struct req *r, const char *id);
enum MHD_Result route_worker_finish(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id);
enum MHD_Result worker_log_begin(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id);
void worker_log_feed(struct api *a, struct req *r, const char *data,
    size_t len);
enum MHD_Result worker_log_end(struct api *a, struct MHD_Connection *c,
    struct req *r);
void worker_log_free(struct req *r);

/* leases.c: remote workers' leases.  leases_new: NULL/ENOMEM;
 * leases_free stops its thread.  leases_claimed counts a job handed to a
 * worker (leases_claims: the total, for /metrics); leases_ms is the
 * current --lease; leases_recover requeues expired leases (at most once a
 * second; the caller goes on if another thread is at it); leases_start
 * runs it once a second on its own thread once a job was handed out. */
struct leases *leases_new(struct api *a);
void leases_free(struct leases *l);
void leases_claimed(struct leases *l);
unsigned long leases_claims(struct leases *l);
int64_t leases_ms(struct api *a);
void leases_recover(struct leases *l, int64_t lease);
int leases_start(struct leases *l);	/* -1 with errno */

/* ticker.c: a thread that calls fn(arg) every every_ms milliseconds (the
 * first call after one period) until ticker_stop, which wakes it at once,
 * waits for a call in progress to return, and frees it (NULL: nothing).
 * ticker_start: NULL with errno. */
struct ticker;
struct ticker *ticker_start(unsigned every_ms, void (*fn)(void *),
    void *arg);
void ticker_stop(struct ticker *t);

/* routes_sched.c: processors, pause and resume, waiting reasons
 * (lib/registry, lib/pause, lib/sched's js_sched_why). */
enum MHD_Result route_processors(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_pause_get(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_pause_put(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_pause_delete(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_pause_label_put(struct api *a,
    struct MHD_Connection *c, struct req *r, const char *label);
enum MHD_Result route_pause_label_delete(struct api *a,
    struct MHD_Connection *c, struct req *r, const char *label);
/* The listing's answer out ({"jobs": [...]}): "paused" (what is paused)
 * added, and each pending job's "waiting" (js_sched_reason_json).  0, or
 * -1 with errno (out is then left as it was, or partly annotated). */
int waiting_list(struct api *a, json_t *out);
/* The same for one job (nothing unless it is pending). */
int waiting_job(struct api *a, json_t *job);

/* routes_tokens.c: POST /api/v1/tokens (mint), DELETE
 * /api/v1/tokens/{jti} (revoke, admin). */
enum MHD_Result route_tokens_post(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_token_delete(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *jti);

/* routes_batches.c */
enum MHD_Result route_batches_post(struct api *a, struct MHD_Connection *c,
    struct req *r);
enum MHD_Result route_batch_get(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *cid);
enum MHD_Result route_batch_log(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *cid);

/* index.c */
struct idx_filter {
	unsigned mask;		/* file states to read */
	unsigned status_mask;	/* outcome states wanted (for .retrieved) */
	const char *owner;	/* NULL: any */
	const char *batch;	/* NULL: any */
	const char *name;	/* NULL: any */
	const char *label;	/* only jobs asking for it (NULL: any) */
	int by_labels;		/* only jobs whose labels are all in labels[] */
	int exclusive;		/* and (a dedicated worker) ask for one of them */
	const char *const *labels;
	size_t nlabels;
	int want_bad;		/* also pending files that are not valid jobs */
};
struct idx_hit {
	char id[JS_ID_SIZE];
	enum js_state state;
	long long seq;
	int64_t started_ms, finished_ms;	/* 0 if unset */
	long long priority;
	int64_t not_before_ms;			/* 0 if unset */
	int bad;				/* not a valid job */
	int after;				/* names jobs it waits for
						 * (lib/deps: after, after_any) */
	int64_t mtime_ms;			/* of the file read */
	off_t size;
};
/* An index of the spool sp (which it does not own): NULL/ENOMEM.  Its
 * inotify watch starts with the first query.  idx_free(NULL) is allowed. */
struct idx *idx_new(struct js_spool *sp);
void idx_free(struct idx *x);
/* Hits matching f, in no particular order; caller frees *hits.  -1 with
 * errno (EAGAIN: jobs kept changing under it). */
int idx_query(struct idx *x, const struct idx_filter *f,
    struct idx_hit **hits, size_t *n);
/* The pending jobs in claim order (priority, then submission).  A scan
 * costs one readdir plus a read of each job not seen before; its order is
 * reused for up to a second while no .pending file appears (pgen:
 * follow_pending_gen() read before the call).  A cached job is not looked
 * at again, so check a hit with idx_recheck() before claiming it, and
 * idx_forget() a job once claimed or gone.  NULL with errno. */
struct idx_cand {
	int refs;		/* under index.c's lock */
	size_t n;
	char (*ids)[JS_ID_SIZE];
};
struct idx_cand *idx_candidates(struct idx *x, uint64_t pgen);
void idx_candidates_free(struct idx *x, struct idx_cand *c);
/* Candidate i if it is still a pending job matching f: 1 with *h. */
int idx_candidate(struct idx *x, const struct idx_cand *c, size_t i,
    const struct idx_filter *f, struct idx_hit *h);
void idx_forget(struct idx *x, const char *id);
/* Whether the hit's .pending is still the file the cache read (else reads
 * it again, updating *h): 1 if it still matches f, 0 if it changed so it
 * does not or is gone, -1 on error. */
int idx_recheck(struct idx *x, const struct idx_filter *f,
    struct idx_hit *h);

/* bus.c: the spool's change bus.  bus_new: NULL with errno (it does not
 * own sp; finishes are counted in m); bus_start starts the inotify thread
 * (-1 with errno); bus_free stops it and frees (NULL: nothing). */
struct bus *bus_new(struct js_spool *sp, struct metrics *m);
int bus_start(struct bus *b);
void bus_free(struct bus *b);
void bus_wake_all(struct bus *b);	/* shutdown: streams notice stopping */
uint64_t bus_gen(struct bus *b);
/* Waits until the spool changed after gen or timeout_ms passed. */
void bus_wait(struct bus *b, uint64_t gen, int timeout_ms);
/* Claim waiters: a counter bumped when a .pending file appears in the
 * spool (renamed in or written; inotify) and by bus_wake_all; waits
 * until it moves past pgen or timeout_ms passed. */
uint64_t bus_pending_gen(struct bus *b);
/* The same at once, for jobs this process just wrote (inotify's event
 * comes a moment later). */
void bus_pending_kick(struct bus *b);
void bus_wait_pending(struct bus *b, uint64_t pgen, int timeout_ms);
/* WebSocket waiters poll an eventfd too (-1/ENOMEM) */
int bus_add_efd(struct bus *b, int efd);
void bus_del_efd(struct bus *b, int efd);

/* follow.c */
/* A chunked response to c following one job's log from offset; NULL on
 * ENOMEM.  c loses its inactivity timeout (follow_untimed): a stream whose
 * client hung up ends instead. */
struct MHD_Response *follow_job_response(struct api *a,
    struct MHD_Connection *c, const char *id, uint64_t offset, int outcome);
/* A chunked response to c merging the logs of ids (n of them), each line
 * prefixed with the job id; following them (untimed, as above) if follow. */
struct MHD_Response *follow_batch_response(struct api *a,
    struct MHD_Connection *c, char (*ids)[JS_ID_SIZE], size_t n, int follow);
/* For a follow response on c: no inactivity timeout (a job may stay
 * pending longer than --idle-timeout); returns c's socket or -1. */
int follow_untimed(struct MHD_Connection *c);
/* Whether the client on sock hung up (closed or reset); 0 for sock -1. */
int follow_peer_gone(int sock);
/* Helpers shared with ws.c */
int follow_job_final(struct api *a, const char *id);	/* 1 final/gone, 0 not */

/* ws.c */
enum MHD_Result ws_upgrade(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *id, uint64_t offset);

/* wsframe.c: RFC 6455 framing without a socket. */
#define WS_HEADER_MAX 10
/* The header of a server frame (FIN, unmasked) with opcode op and a
 * payload of len bytes (len < 2^63); returns its length (2, 4 or 10). */
size_t ws_frame_header(unsigned char h[WS_HEADER_MAX], int op, uint64_t len);
/* Parses the client frame at the start of in[0..inlen), cap being the
 * largest frame accepted: its total length (> 0) with *op and the payload
 * (unmasked in place) in *payload and *plen; 0 if more bytes are needed;
 * -1002 if it is not masked, -1009 if it is larger than cap (the close
 * codes to answer, negated). */
long ws_frame_parse(unsigned char *in, size_t inlen, size_t cap, int *op,
    unsigned char **payload, size_t *plen);

/* guard.c: connections waiting for request headers past --read-timeout
 * (a->conf) are shut down by a ticker thread.  guard_new: NULL/ENOMEM;
 * guard_free stops the thread (NULL: nothing). */
enum { GUARD_WAITING = 0, GUARD_BUSY = 1, GUARD_UPGRADED = 2 };
struct guard *guard_new(struct api *a);
void guard_free(struct guard *g);
int guard_start(struct guard *g);	/* -1 with errno */
/* From the connection notification callback: a new connection's record
 * (NULL if out of memory: the connection goes unguarded), and its
 * removal when it closes (gc NULL: nothing). */
struct gconn *guard_conn_add(struct guard *g, struct MHD_Connection *c);
void guard_conn_del(struct guard *g, struct gconn *gc);
/* A request of c is being handled (BUSY), was answered (WAITING: the next
 * one's headers are due), or c became a WebSocket (UPGRADED, final); c's
 * guard is found through its struct api_conn. */
void guard_set(struct MHD_Connection *c, int state);

/* metrics.c: metrics_new: NULL with errno; metrics_free(NULL) is allowed. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
/* An answer of the route named route (a string that outlives m: the
 * route table's name, or "none") with status, counted once the request is
 * complete (http.c). */
void metrics_count_request(struct metrics *m, const char *route,
    unsigned status);
void metrics_count_submitted(struct metrics *m, size_t n);
/* A request refused for its credentials (auth_refuse), by reason. */
void metrics_count_auth_refusal(struct metrics *m, int reason);
/* A job seen finishing (bus.c, once per job) in state st: counted, and
 * its run time (started_at to finished_at of job, if both are set and job
 * is not NULL) observed in the duration histogram. */
void metrics_job_finished(struct metrics *m, enum js_state st,
    const json_t *job);
/* A job seen starting (bus.c, once per job): its wait in the queue
 * (created_at to started_at) observed; -1 if job has no started_at yet
 * (nothing observed: the caller tries again at its next event). */
int metrics_job_started(struct metrics *m, const json_t *job);
/* The gauges of one scrape, gathered by routes_metrics.c. */
struct metrics_label {
	char label[JS_LABEL_MAX + 1];	/* "" for jobs without labels */
	unsigned long processors;	/* live processors taking it */
	unsigned long free_slots;	/* and their free slots */
};
struct metrics_gauges {
	unsigned long jobs[JS_NSTATES];	/* jobs by state */
	unsigned long claims;		/* worker claims (leases.c) */
	double oldest_pending_s;	/* age of the oldest pending job, 0: none */
	int have_fs;			/* free_* below are known */
	double free_bytes, free_inodes;	/* of the spool's filesystem */
	const struct metrics_label *labels;	/* none if nlabels is 0 */
	size_t nlabels;
	int have_pause;			/* what follows is known */
	int paused;			/* the whole spool is paused */
	char (*paused_labels)[JS_LABEL_MAX + 1];	/* lib/pause */
	size_t npaused;
};
/* The whole /metrics text: malloc'ed, its length in *len; NULL/ENOMEM. */
char *metrics_text(struct metrics *m, const struct metrics_gauges *g,
    size_t *len);

/* routes_health.c: GET /healthz; and the live processors by label (""
 * for those that take jobs without labels) for /metrics: a new array in
 * *out (caller frees) of *n; -1 with errno. */
enum MHD_Result route_healthz(struct api *a, struct MHD_Connection *c);
int health_labels(struct api *a, struct metrics_label **out, size_t *n);

/* ui.c: the status page (GET /) and its script and style (/ui/{file}),
 * compiled in from apiserver/ui/. */
enum MHD_Result route_ui_index(struct api *a, struct MHD_Connection *c);
enum MHD_Result route_ui_file(struct api *a, struct MHD_Connection *c,
    struct req *r, const char *file);

/* jobcache.c: GET /api/v1/jobs/{id} (without ?wait) answered from the
 * bytes of the job's file when an earlier answer was made from the same
 * bytes.  jcache_new(sp) is NULL if out of memory.  jcache_get: 1 when it
 * queued the answer (*rc), 0 when route_job_get must answer the ordinary
 * way (not cached, pending, to be marked retrieved, any failure); keep is
 * the request's ?peek. */
struct jcache *jcache_new(struct js_spool *sp);
void jcache_free(struct jcache *jc);
int jcache_get(struct api *a, struct MHD_Connection *c, const struct req *r,
    const char *id, int keep, enum MHD_Result *rc);

/* routes_metrics.c */
enum MHD_Result route_metrics(struct api *a, struct MHD_Connection *c);

#endif
