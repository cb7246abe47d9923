/*
 * libFuzzer harness: whole HTTP requests, in short sequences, through the
 * real apiserver in process - libmicrohttpd, routing, the auth check and
 * every handler - against a temporary spool.  The daemon is started once
 * per process as main.c starts it (apiserver/server.c), but without a
 * listening socket: each connection is one end of a socketpair handed to
 * MHD_add_connection.  The processor is not run; instead the input can
 * move jobs between states with the same lib/spool calls a processor
 * makes.
 *
 * The input is up to MAX_STEPS records separated by a line "%%":
 *
 *   HTTP record:   WHO[FLAGS] METHOD TARGET
 *                  Header: value        (any number, then an empty line)
 *                  BODY                 (the rest of the record)
 *   spool record:  !VERB ARGS           (the rest of the record is data)
 *
 * WHO picks the token sent: a = alice, b = bob (users), r = root (admin),
 * w = wrk (worker role), x = a wrong secret, anything else none (an
 * "Authorization" header of the record replaces it).  FLAGS: c = chunked
 * request body, 0 = HTTP/1.0, k = a new connection, W = after a 101
 * (WebSocket) send the body as raw bytes on the upgraded socket instead,
 * d = deferred: sent on a connection of its own, its reply read only after
 * the next record (dd: the next two, and so on; a follow that sees its job
 * end, a claim that a submission wakes, two requests in flight).
 * The harness sets Host, Content-Length or Transfer-Encoding itself and
 * drops such headers of the record, and percent-encodes target bytes that
 * cannot stand in a request line, so that every request is one the server
 * must answer.  In records, "@0".."@9" become the ids of jobs seen so far
 * (submitted, listed or made by spool records), "@t" the lease token of
 * the last claim, "@c" the last batch's correlation id, "@z" an id that
 * names no job.
 *
 * Spool verbs (K is a digit: the K-th job seen): new WHO (a pending job
 * owned by WHO; the data, if a valid job, is its submission), claim K (as
 * a local processor), rclaim K (as a remote worker: sets @t), finish K
 * c|f|x (completed, failed, cancelled; claims first if need be), requeue
 * K, cancel K, retrieve K, rm K, log K (appends the data to its log),
 * expire K (its lease ran out: recovered), write K|n EXT (the data as the
 * file <id>.EXT, n: a new id - an admin's hand-written file), conf
 * open|small|default (no tokens; 64-byte body limit; back).
 *
 * Checked after every request (abort on violation, so libFuzzer reports
 * it): a complete HTTP reply came; no 3xx and no 5xx but 503 and 507; an
 * error (4xx, 5xx) is a JSON object with a string "error"; a JSON reply
 * parses; tmp/ is empty; a refused request (4xx) and any HEAD request
 * left the spool unchanged; a user (not admin) is shown only its own jobs;
 * after a WebSocket upgrade only well-formed server frames arrive.
 * A request the server holds open (a log follow, a claim's long poll, a
 * WebSocket) is ended after LEVER_MS the way SIGTERM ends it (the stopping
 * flag), so every input ends in bounded time; a reply still missing
 * REPLY_MS later is a violation.  Between inputs the spool is emptied, so
 * each input starts alike.  FUZZ_API_TRACE=1 prints each step and its
 * answer on stderr; the spool lives under FUZZ_API_DIR (default /dev/shm).
 * Seeds: tests/fuzz/gen_api_seeds.py; dictionary: tests/fuzz/api.dict.
 *
 * fuzz-make: yes
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../../apiserver/api.h"
#include "../../apiserver/server.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 16
#define MAX_KNOWN 16
#define LEVER_MS 150		/* then blocking waits are ended (stopping) */
#define REPLY_MS 15000		/* a reply must be complete by then */
#define ABSENT_ID "0f0e0d0c-0b0a-4909-8807-060504030201"

static const struct {
	char who;
	const char *spec, *secret;
} tokens[] = {
	{ 'a', "alice:alice-secret", "alice-secret" },
	{ 'b', "bob:bob-secret", "bob-secret" },
	{ 'r', "root:root-secret:admin", "root-secret" },
	{ 'w', "wrk:wrk-secret:worker", "wrk-secret" },
};
#define NTOKENS (sizeof tokens / sizeof tokens[0])

static struct api A;
static char topdir[256], spooldir[300];
static int ready;
static int trace;		/* FUZZ_API_TRACE=1: each step on stderr */

/* What one input has learnt so far. */
static struct {
	char ids[MAX_KNOWN][JS_ID_SIZE];
	size_t n;
	long long token;		/* last lease token */
	char cid[128];			/* last batch correlation id */
	struct js_claim claims[MAX_KNOWN];	/* the harness's own claims */
	size_t nclaims;
	int open;			/* no tokens configured */
} st;

/* The request in progress, for the report of a violation. */
static const char *cur_req;
static size_t cur_req_len;

static void __attribute__((noreturn, format(printf, 1, 2)))
violation(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_api: VIOLATION: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfuzz_api: request was:\n%.*s\n",
	    (int)(cur_req_len > 4000 ? 4000 : cur_req_len),
	    cur_req != NULL ? cur_req : "");
	abort();
}

static void __attribute__((noreturn))
fatal(const char *what)
{
	fprintf(stderr, "fuzz_api: %s: %s\n", what, strerror(errno));
	abort();
}

/* ---- growing byte buffers ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *np;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			fatal("realloc");
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_fmt(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		fatal("buf_fmt");
	buf_add(b, tmp, (size_t)n);
}

/* ---- settings ---- */

static struct api_conf *
make_conf(int with_tokens, size_t max_body)
{
	struct api_conf *cf = calloc(1, sizeof *cf);
	char err[256];
	size_t i;

	if (cf == NULL)
		fatal("calloc");
	if (with_tokens) {
		cf->tokens = calloc(NTOKENS, sizeof *cf->tokens);
		if (cf->tokens == NULL)
			fatal("calloc");
		for (i = 0; i < NTOKENS; i++) {
			if (auth_parse_token(tokens[i].spec, &cf->tokens[i], err,
			    sizeof err) < 0) {
				fprintf(stderr, "fuzz_api: %s\n", err);
				abort();
			}
			cf->ntokens++;
		}
	}
	cf->max_body = max_body;
	cf->read_timeout_s = 30;
	cf->idle_timeout_s = 60;
	cf->lease_ms = 60000;
	return cf;
}

/* Replaces the settings as a SIGHUP reload does. */
static void
set_conf(struct api_conf *cf)
{
	struct api_conf *old;

	pthread_rwlock_wrlock(&A.lock);
	old = A.conf;
	A.conf = cf;
	pthread_rwlock_unlock(&A.lock);
	api_conf_free(old);
}

/* ---- the spool ---- */

/* Removes every entry of directory fd dfd (recursively). */
static void
empty_dir(int dfd)
{
	DIR *d;
	struct dirent *de;
	int fd2 = dup(dfd);

	if (fd2 < 0 || (d = fdopendir(fd2)) == NULL)
		fatal("fdopendir");
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			continue;
		if (errno == EISDIR || errno == EPERM) {
			int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				fatal("openat");
			empty_dir(sub);
			close(sub);
			if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0)
				fatal("rmdir");
		} else if (errno != ENOENT) {
			fatal("unlinkat");
		}
	}
	closedir(d);
}

/* Back to an empty spool (tmp/ and jobs.lock stay) and a fresh index. */
static void
spool_reset(void)
{
	DIR *d = js_spool_opendir(A.sp);
	struct dirent *de;
	int dfd = js_spool_fd(A.sp);

	if (d == NULL)
		fatal("opendir spool");
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "tmp") == 0 ||
		    strcmp(de->d_name, "jobs.lock") == 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno == EISDIR || errno == EPERM) {
			int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0)
				fatal("openat");
			empty_dir(sub);
			close(sub);
			if (unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0)
				fatal("rmdir");
		} else {
			fatal("unlinkat");
		}
	}
	closedir(d);
	empty_dir(js_spool_tmpfd(A.sp));
	idx_free(A.idx);	/* no request in flight: a fresh index */
	if ((A.idx = idx_new(A.sp)) == NULL)
		fatal("idx_new");
}

static void
check_tmp_empty(void)
{
	int fd = dup(js_spool_tmpfd(A.sp));
	DIR *d;
	struct dirent *de;

	if (fd < 0 || (d = fdopendir(fd)) == NULL)
		fatal("fdopendir tmp");
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			violation("tmp/%s is left after the request", de->d_name);
	closedir(d);
}

/* A listing of the spool (names, sizes, mtimes; idem/ too), sorted. */
static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static void
snap_dir(int dfd, const char *prefix, struct buf *out)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int fd2 = dup(dfd);

	if (fd2 < 0 || (d = fdopendir(fd2)) == NULL)
		fatal("fdopendir");
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		char line[512];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "jobs.lock") == 0 ||
		    strcmp(de->d_name, "tmp") == 0)
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(sb.st_mode) && *prefix == '\0') {
			int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
			char pfx[300];
			if (sub < 0)
				continue;
			snprintf(pfx, sizeof pfx, "%s/", de->d_name);
			snap_dir(sub, pfx, out);
			close(sub);
			continue;
		}
		snprintf(line, sizeof line, "%s%s %lld %lld.%09ld\n", prefix,
		    de->d_name, (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
		    sb.st_mtim.tv_nsec);
		if (n == cap) {
			char **nn;
			cap = cap ? cap * 2 : 32;
			if ((nn = realloc(names, cap * sizeof *names)) == NULL)
				fatal("realloc");
			names = nn;
		}
		if ((names[n++] = strdup(line)) == NULL)
			fatal("strdup");
	}
	closedir(d);
	if (n > 1)
		qsort(names, n, sizeof *names, cmp_str);
	for (i = 0; i < n; i++) {
		buf_str(out, names[i]);
		free(names[i]);
	}
	free(names);
}

static void
snapshot(struct buf *out)
{
	out->len = 0;
	buf_add(out, "", 0);
	snap_dir(js_spool_fd(A.sp), "", out);
}

/* ---- jobs the input knows ---- */

static void
learn_id(const char *id)
{
	size_t i;

	if (id == NULL || !js_id_valid(id))
		return;
	for (i = 0; i < st.n; i++)
		if (strcmp(st.ids[i], id) == 0)
			return;
	if (st.n < MAX_KNOWN)
		memcpy(st.ids[st.n++], id, JS_ID_SIZE);
}

static const char *
known(int k)
{
	if (st.n == 0)
		return NULL;
	return st.ids[(size_t)k % st.n];
}

/* Learns ids, the lease token and the correlation id of a JSON reply. */
static void
learn_reply(const json_t *j)
{
	const json_t *v, *e;
	size_t i;

	if (!json_is_object(j))
		return;
	learn_id(json_string_value(json_object_get(j, "id")));
	v = json_object_get(j, "job");
	if (json_is_object(v))
		learn_id(json_string_value(json_object_get(v, "id")));
	v = json_object_get(json_object_get(j, "lease"), "token");
	if (json_is_integer(v))
		st.token = (long long)json_integer_value(v);
	v = json_object_get(j, "correlation_id");
	if (json_is_string(v) && json_string_length(v) < sizeof st.cid)
		snprintf(st.cid, sizeof st.cid, "%s", json_string_value(v));
	v = json_object_get(j, "jobs");
	json_array_foreach(v, i, e) {
		if (json_is_string(e))
			learn_id(json_string_value(e));
		else if (json_is_object(e))
			learn_id(json_string_value(json_object_get(e, "id")));
	}
}

/* "@0".."@9", "@t", "@c", "@z" in a record. */
static void
expand(const char *in, size_t len, struct buf *out)
{
	size_t i;

	out->len = 0;
	buf_add(out, "", 0);
	for (i = 0; i < len; i++) {
		char c = i + 1 < len ? in[i + 1] : '\0';
		const char *id;

		if (in[i] != '@' || c == '\0') {
			buf_add(out, in + i, 1);
			continue;
		}
		if (c >= '0' && c <= '9') {
			id = known(c - '0');
			buf_str(out, id != NULL ? id : ABSENT_ID);
		} else if (c == 't') {
			buf_fmt(out, "%lld", st.token > 0 ? st.token : 1);
		} else if (c == 'c') {
			buf_str(out, st.cid[0] != '\0' ? st.cid : ABSENT_ID);
		} else if (c == 'z') {
			buf_str(out, ABSENT_ID);
		} else {
			buf_add(out, in + i, 1);
			continue;
		}
		i++;
	}
}

/* ---- spool records: what processors and admins do ---- */

static struct js_claim *
claim_of(const char *id)
{
	size_t i;

	for (i = 0; i < st.nclaims; i++)
		if (strcmp(st.claims[i].id, id) == 0)
			return &st.claims[i];
	return NULL;
}

static void
forget_claim(const char *id)
{
	struct js_claim *c = claim_of(id);

	if (c != NULL)
		*c = st.claims[--st.nclaims];
}

/* Claims id as a local processor (pid set) or a remote worker. */
static struct js_claim *
do_claim(const char *id, int local)
{
	struct js_claim c, *slot;
	json_t *job = NULL;

	if (js_spool_claim(A.sp, id, local ? "fuzz-host" : "wrk@fuzz", &c,
	    &job) < 0) {
		json_decref(job);
		return NULL;
	}
	if (local) {
		json_object_set_new(job, "pid", json_integer(getpid()));
		json_object_set_new(job, "pid_start", json_integer(1));
	}
	if (js_spool_start(A.sp, &c, job) < 0) {
		json_decref(job);
		return NULL;
	}
	json_decref(job);
	forget_claim(id);
	if (st.nclaims == MAX_KNOWN)
		return NULL;
	slot = &st.claims[st.nclaims++];
	*slot = c;
	if (!local)
		st.token = c.generation;
	return slot;
}

static void
spool_record(const char *rec, size_t len)
{
	const char *nl = memchr(rec, '\n', len);
	size_t ll = nl != NULL ? (size_t)(nl - rec) : len;
	const char *data = nl != NULL ? nl + 1 : rec + len;
	size_t dlen = len - (size_t)(data - rec);
	char line[128], verb[16] = "", a1[16] = "", a2[16] = "";
	const char *id = NULL;
	struct js_claim *c;
	json_t *job = NULL;

	if (ll >= sizeof line)
		ll = sizeof line - 1;
	memcpy(line, rec, ll);
	line[ll] = '\0';
	if (sscanf(line, "%15s %15s %15s", verb, a1, a2) < 1)
		return;
	if (a1[0] >= '0' && a1[0] <= '9')
		id = known(a1[0] - '0');

	if (strcmp(verb, "new") == 0) {
		char nid[JS_ID_SIZE], err[300];
		const char *owner = NULL;
		json_t *sub = NULL, *v = NULL;
		size_t i;

		for (i = 0; i < NTOKENS; i++)
			if (tokens[i].who == a1[0])
				owner = tokens[i].spec;
		if (dlen > 0 && (sub = js_job_parse(data, dlen, err,
		    sizeof err)) != NULL)
			v = js_job_validate(sub, err, sizeof err);
		json_decref(sub);
		if (v == NULL)
			v = json_pack("{s:s,s:[s,s]}", "name", "fz", "command",
			    "echo", "hello");
		if (v == NULL)
			fatal("json_pack");
		js_id_new(nid);
		if (owner != NULL) {
			/* the token's name: the spec up to its first ':' */
			char name[32];
			snprintf(name, sizeof name, "%.*s",
			    (int)strcspn(owner, ":"), owner);
			job = js_job_new(v, nid, name, NULL);
		} else {
			job = js_job_new(v, nid, NULL, NULL);
		}
		json_decref(v);
		if (job != NULL && js_spool_submit(A.sp, job) == 0)
			learn_id(nid);
		json_decref(job);
	} else if (strcmp(verb, "claim") == 0 && id != NULL) {
		(void)do_claim(id, 1);
	} else if (strcmp(verb, "rclaim") == 0 && id != NULL) {
		(void)do_claim(id, 0);
	} else if (strcmp(verb, "finish") == 0 && id != NULL) {
		enum js_state s = a2[0] == 'f' ? JS_FAILED :
		    a2[0] == 'x' ? JS_CANCELLED : JS_COMPLETED;
		if ((c = claim_of(id)) == NULL)
			c = do_claim(id, 1);
		if (c == NULL)
			return;
		job = js_spool_read_state(A.sp, id, JS_WIP);
		if (job != NULL) {
			json_object_set_new(job, "exit_code",
			    json_integer(s == JS_COMPLETED ? 0 : 1));
			if (s != JS_COMPLETED)
				json_object_set_new(job, "error",
				    json_string("fuzz says so"));
			(void)js_spool_finish(A.sp, c, job, s);
		}
		json_decref(job);
		forget_claim(id);
	} else if (strcmp(verb, "requeue") == 0 && id != NULL) {
		if ((c = claim_of(id)) == NULL)
			return;
		job = js_spool_read_state(A.sp, id, JS_WIP);
		if (job != NULL)
			(void)js_spool_requeue(A.sp, c, job, a2[0] == 'g', 0);
		json_decref(job);
		forget_claim(id);
	} else if (strcmp(verb, "cancel") == 0 && id != NULL) {
		(void)js_spool_cancel(A.sp, id, "fuzz", &job);
		json_decref(job);
	} else if (strcmp(verb, "retrieve") == 0 && id != NULL) {
		json_decref(js_spool_retrieve(A.sp, id));
	} else if (strcmp(verb, "rm") == 0 && id != NULL) {
		(void)js_spool_remove(A.sp, id);
	} else if (strcmp(verb, "log") == 0 && id != NULL) {
		int fd = js_spool_log_open(A.sp, id, 1);
		if (fd >= 0) {
			if (js_write_all(fd, data, dlen) < 0)
				fatal("write log");
			close(fd);
		}
	} else if (strcmp(verb, "expire") == 0 && id != NULL) {
		char wip[JS_NAME_SIZE];
		struct timespec ts[2];
		if (js_spool_name(wip, id, "wip") < 0)
			return;
		clock_gettime(CLOCK_REALTIME, &ts[0]);
		ts[0].tv_sec -= 7200;
		ts[1] = ts[0];
		if (utimensat(js_spool_fd(A.sp), wip, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return;
		(void)js_spool_recover_job(A.sp, id, 60000, NULL, NULL);
		forget_claim(id);
	} else if (strcmp(verb, "write") == 0 && (id != NULL || a1[0] == 'n')) {
		char nid[JS_ID_SIZE], name[JS_NAME_SIZE];
		if (a1[0] == 'n') {
			js_id_new(nid);
			id = nid;
		}
		if (strlen(a2) > 12 || strspn(a2, "abcdefghijklmnopqrstuvwxyz") !=
		    strlen(a2) || js_spool_name(name, id, a2) < 0)
			return;
		if (js_spool_write_file(A.sp, name, data, dlen, 0) == 0 &&
		    id == nid)
			learn_id(nid);
	} else if (strcmp(verb, "conf") == 0) {
		st.open = strcmp(a1, "open") == 0;
		set_conf(make_conf(!st.open, strcmp(a1, "small") == 0 ? 64 :
		    1u << 20));
	}
}

/* ---- HTTP ---- */

struct conn {
	int fd;			/* -1: none open */
	struct buf in;		/* received, not yet parsed */
	int eof;
};

static void
conn_close(struct conn *cn)
{
	if (cn->fd >= 0)
		close(cn->fd);
	cn->fd = -1;
	cn->in.len = 0;
	cn->eof = 0;
}

static void
conn_open(struct conn *cn)
{
	struct sockaddr_un sun;
	int sv[2], tries;

	conn_close(cn);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	for (tries = 0; ; tries++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			fatal("socketpair");
		if (MHD_add_connection(A.daemon, sv[1], (struct sockaddr *)&sun,
		    sizeof sun) == MHD_YES)
			break;
		/* the daemon closed sv[1]: at its connection limit while
		 * closed connections are being cleaned up */
		close(sv[0]);
		if (tries == 500)
			violation("the daemon refuses new connections");
		usleep(10000);
	}
	cn->fd = sv[0];
	if (fcntl(cn->fd, F_SETFL, O_NONBLOCK) < 0)
		fatal("fcntl");
}

/* Writes all of data; 0, or -1 if the server closed the connection. */
static int
send_all(struct conn *cn, const char *data, size_t len)
{
	int64_t deadline = js_mono_ms() + REPLY_MS;

	while (len > 0) {
		struct pollfd pf = { .fd = cn->fd, .events = POLLOUT };
		ssize_t n = send(cn->fd, data, len, MSG_NOSIGNAL);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -1;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fatal("send");
		if (js_mono_ms() > deadline)
			violation("the server stopped reading the request");
		(void)poll(&pf, 1, 100);
	}
	return 0;
}

struct reply {
	int status;
	char ctype[128];
	int close;		/* Connection: close */
	struct buf body;	/* de-chunked */
};

/* Finds header name (case-insensitive) in the head text; its value's
 * start and length, or NULL. */
static const char *
header(const char *head, size_t hlen, const char *name, size_t *vlen)
{
	size_t nl = strlen(name), i = 0;

	while (i < hlen) {
		const char *line = head + i, *end = memchr(line, '\n', hlen - i);
		size_t ll = end != NULL ? (size_t)(end - line) : hlen - i;

		if (ll > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t n = ll - nl - 1;
			while (n > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				n--;
			}
			while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
				n--;
			*vlen = n;
			return v;
		}
		i += ll + 1;
	}
	return NULL;
}

/* A chunked body from b[k..len): the length up to its end (> 0), 0 if
 * more is needed, -1 if malformed; the data into body. */
static long
parse_chunked(const char *b, size_t len, size_t k, struct buf *body)
{
	for (;;) {
		size_t sz = 0, start = k;

		while (k < len && ((b[k] >= '0' && b[k] <= '9') ||
		    (b[k] >= 'a' && b[k] <= 'f') || (b[k] >= 'A' && b[k] <= 'F'))) {
			sz = sz * 16 + (size_t)(b[k] <= '9' ? b[k] - '0' :
			    (b[k] | 0x20) - 'a' + 10);
			if (sz > (1u << 30))
				return -1;
			k++;
		}
		while (k < len && b[k] != '\r' && b[k] != '\n')
			k++;	/* chunk extensions */
		if (k + 1 >= len)
			return 0;
		if (k == start || b[k] != '\r' || b[k + 1] != '\n')
			return -1;
		k += 2;
		if (sz == 0)
			break;
		if (k + sz + 2 > len)
			return 0;
		if (b[k + sz] != '\r' || b[k + sz + 1] != '\n')
			return -1;
		buf_add(body, b + k, sz);
		k += sz + 2;
	}
	for (;;) {	/* trailers, then an empty line */
		const char *e;
		if (k + 1 >= len)
			return 0;
		if (b[k] == '\r' && b[k + 1] == '\n')
			return (long)(k + 2);
		if ((e = memchr(b + k, '\n', len - k)) == NULL)
			return 0;
		k = (size_t)(e - b) + 1;
	}
}

/* One response at the start of b[0..len): its length (> 0), 0 if more is
 * needed, -1 if it is malformed (or cut short by the end of the stream). */
static long
parse_reply(const char *b, size_t len, int head, int eof, struct reply *rp)
{
	const char *end = NULL, *v;
	size_t hl, vl, i;
	long long clen = -1;
	int chunked = 0;
	long n;

	rp->status = 0;
	rp->ctype[0] = '\0';
	rp->close = 0;
	rp->body.len = 0;
	buf_add(&rp->body, "", 0);
	for (i = 0; i + 3 < len; i++)
		if (memcmp(b + i, "\r\n\r\n", 4) == 0) {
			end = b + i;
			break;
		}
	if (end == NULL)
		return eof || len > 65536 ? -1 : 0;
	hl = (size_t)(end - b) + 4;
	if (hl < 13 || memcmp(b, "HTTP/1.", 7) != 0 || b[8] != ' ' ||
	    b[9] < '1' || b[9] > '5' || b[10] < '0' || b[10] > '9' ||
	    b[11] < '0' || b[11] > '9' || (b[12] != ' ' && b[12] != '\r'))
		return -1;
	rp->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	if ((v = header(b, hl, "Content-Type", &vl)) != NULL)
		snprintf(rp->ctype, sizeof rp->ctype, "%.*s", (int)vl, v);
	if ((v = header(b, hl, "Connection", &vl)) != NULL && vl == 5 &&
	    strncasecmp(v, "close", 5) == 0)
		rp->close = 1;
	if ((v = header(b, hl, "Transfer-Encoding", &vl)) != NULL) {
		if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
			return -1;
		chunked = 1;
	}
	if ((v = header(b, hl, "Content-Length", &vl)) != NULL) {
		char num[32];
		if (vl == 0 || vl >= sizeof num || chunked)
			return -1;
		memcpy(num, v, vl);
		num[vl] = '\0';
		if (js_parse_int(num, 0, 1LL << 40, &clen) < 0)
			return -1;
	}
	if (head || rp->status < 200 || rp->status == 204 || rp->status == 304)
		return (long)hl;
	if (chunked) {
		n = parse_chunked(b, len, hl, &rp->body);
		return n == 0 && eof ? -1 : n;
	}
	if (clen >= 0) {
		if (len - hl < (size_t)clen)
			return eof ? -1 : 0;
		buf_add(&rp->body, b + hl, (size_t)clen);
		return (long)(hl + (size_t)clen);
	}
	if (!eof)
		return 0;
	buf_add(&rp->body, b + hl, len - hl);
	return (long)len;
}

/* Reads one final reply (after any 100 Continue) into rp.  Blocking waits
 * of the server (a log follow, a claim's long poll, a WebSocket) are ended
 * after LEVER_MS as SIGTERM ends them, if may_lever. */
static void
read_reply(struct conn *cn, int head, int may_lever, struct reply *rp)
{
	int64_t deadline = js_mono_ms() + (may_lever ? LEVER_MS : REPLY_MS);
	int lever = 0, fresh;

	for (;;) {
		long n = parse_reply(cn->in.p, cn->in.len, head, cn->eof, rp);
		struct pollfd pf = { .fd = cn->fd, .events = POLLIN };
		int64_t left;

		if (n > 0) {
			memmove(cn->in.p, cn->in.p + n, cn->in.len - (size_t)n);
			cn->in.len -= (size_t)n;
			if (rp->status == 100)
				continue;
			break;
		}
		if (n < 0) {
			if (cn->in.len == 0)
				violation("the connection was closed without a reply");
			violation("malformed or incomplete reply (%zu bytes): %.*s",
			    cn->in.len, (int)(cn->in.len > 2000 ? 2000 : cn->in.len),
			    cn->in.p);
		}
		for (fresh = 0;;) {
			char tmp[16384];
			ssize_t got = recv(cn->fd, tmp, sizeof tmp, 0);
			if (got > 0) {
				buf_add(&cn->in, tmp, (size_t)got);
				fresh = 1;
				continue;
			}
			if (got == 0 || (errno == ECONNRESET && cn->in.len > 0)) {
				cn->eof = 1;
				break;
			}
			if (errno == ECONNRESET)
				violation("the connection was reset without a reply");
			if (errno != EAGAIN && errno != EINTR)
				fatal("recv");
			break;
		}
		if (cn->eof || fresh)
			continue;
		left = deadline - js_mono_ms();
		if (left <= 0) {
			if (lever || !may_lever)
				violation("no complete reply within %d ms (%zu bytes "
				    "so far)", REPLY_MS, cn->in.len);
			lever = 1;
			atomic_store(&A.stopping, 1);
			bus_wake_all(A.bus);
			deadline = js_mono_ms() + REPLY_MS;
			continue;
		}
		(void)poll(&pf, 1, (int)(left > 100 ? 100 : left));
	}
	if (lever)
		atomic_store(&A.stopping, 0);
}

/* After a 101: our raw bytes and a close frame, then every byte the
 * server sends until it closes must form whole, well-formed frames. */
static void
ws_session(struct conn *cn, const char *raw, size_t rawlen)
{
	static const char close_frame[] = { (char)0x88, (char)0x82, 0, 0, 0, 0,
	    0x03, (char)0xe8 };	/* masked (key 0) close, code 1000 */
	int64_t deadline = js_mono_ms() + LEVER_MS;
	int lever = 0;
	size_t i;

	if (rawlen == 0 || send_all(cn, raw, rawlen) == 0)
		(void)send_all(cn, close_frame, sizeof close_frame);
	(void)shutdown(cn->fd, SHUT_WR);
	while (!cn->eof) {
		struct pollfd pf = { .fd = cn->fd, .events = POLLIN };
		char tmp[16384];
		ssize_t got = recv(cn->fd, tmp, sizeof tmp, 0);

		if (got > 0) {
			buf_add(&cn->in, tmp, (size_t)got);
			continue;
		}
		if (got == 0 || errno == ECONNRESET) {
			cn->eof = 1;
			break;
		}
		if (errno != EAGAIN && errno != EINTR)
			fatal("recv");
		if (js_mono_ms() > deadline) {
			if (lever)
				violation("the WebSocket was not closed within %d ms",
				    REPLY_MS);
			lever = 1;
			atomic_store(&A.stopping, 1);
			bus_wake_all(A.bus);
			deadline = js_mono_ms() + REPLY_MS;
		}
		(void)poll(&pf, 1, 50);
	}
	if (lever)
		atomic_store(&A.stopping, 0);
	for (i = 0; i < cn->in.len; ) {
		const unsigned char *f = (const unsigned char *)cn->in.p + i;
		size_t left = cn->in.len - i, hl = 2;
		uint64_t plen;
		int op;

		if (left < 2)
			violation("a WebSocket frame is cut short");
		op = f[0] & 0x0f;
		if ((f[0] & 0xf0) != 0x80 || (f[1] & 0x80) ||
		    (op != 1 && op != 2 && op != 8 && op != 9 && op != 10))
			violation("bad WebSocket frame header %02x %02x", f[0], f[1]);
		plen = f[1] & 0x7f;
		if (plen == 126) {
			hl = 4;
			if (left < hl)
				violation("a WebSocket frame is cut short");
			plen = ((uint64_t)f[2] << 8) | f[3];
		} else if (plen == 127) {
			size_t k;
			hl = 10;
			if (left < hl)
				violation("a WebSocket frame is cut short");
			for (plen = 0, k = 2; k < 10; k++)
				plen = plen << 8 | f[k];
		}
		if (plen > left - hl)
			violation("a WebSocket frame is cut short");
		i += hl + (size_t)plen;
	}
	conn_close(cn);
}

static const char *
token_name(char who)
{
	size_t i;

	for (i = 0; i < NTOKENS; i++)
		if (tokens[i].who == who)
			return tokens[i].spec;
	return NULL;
}

static int
is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A user (not admin) must see only its own jobs. */
static void
check_owner(const json_t *j, const char *name)
{
	const json_t *o = json_object_get(j, "owner");

	if (o == NULL)
		return;
	if (!json_is_string(o) || strcmp(json_string_value(o), name) != 0)
		violation("user %s was shown a job of owner %s", name,
		    json_is_string(o) ? json_string_value(o) : "(not a string)");
}

static void
check_reply(const struct reply *rp, int head, const char *user)
{
	json_t *j = NULL;
	json_error_t je;
	int json = strncasecmp(rp->ctype, "application/json", 16) == 0;

	if (rp->status < 200 && rp->status != 101)
		violation("status %d", rp->status);
	if (rp->status >= 300 && rp->status < 400)
		violation("status %d", rp->status);
	if (rp->status >= 500 && rp->status != 503 && rp->status != 507)
		violation("status %d: %.500s", rp->status, rp->body.p);
	if (rp->status >= 400 && !json)
		violation("status %d with Content-Type '%s': %.500s", rp->status,
		    rp->ctype, rp->body.p);
	if (!json || head || rp->body.len == 0) {
		if (rp->status >= 400 && !head)
			violation("status %d without a body", rp->status);
		return;
	}
	j = json_loadb(rp->body.p, rp->body.len, 0, &je);
	if (j == NULL)
		violation("status %d: the JSON body does not parse (%s): %.500s",
		    rp->status, je.text, rp->body.p);
	if (rp->status >= 400 && (!json_is_object(j) ||
	    !json_is_string(json_object_get(j, "error"))))
		violation("status %d: the error is not {\"error\": string}: %.500s",
		    rp->status, rp->body.p);
	if (rp->status < 300) {
		learn_reply(j);
		if (user != NULL && json_is_object(j)) {
			const json_t *e;
			size_t i;
			check_owner(j, user);
			if (json_is_object(json_object_get(j, "job")))
				check_owner(json_object_get(j, "job"), user);
			json_array_foreach(json_object_get(j, "jobs"), i, e)
				if (json_is_object(e))
					check_owner(e, user);
		}
	}
	json_decref(j);
}

/* Whether method on target names a route whose body is streamed raw (a
 * worker's log upload): the server cuts such an upload when it stops, so
 * the lever must not be pulled while one is in flight.  The path is
 * decoded as libmicrohttpd decodes it and routed by the server's own
 * routes_match and request_method. */
static int
raw_route(const char *method, const char *target)
{
	struct req r;
	char *path = malloc(strlen(target) + 1);
	size_t i, n = 0;
	int raw;

	if (path == NULL)
		fatal("malloc");
	for (i = 0; target[i] != '\0' && target[i] != '?'; i++) {
		unsigned hi, lo;
		if (target[i] == '%' && sscanf(target + i + 1, "%1x%1x", &hi,
		    &lo) == 2) {
			path[n++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			path[n++] = target[i];
		}
	}
	path[n] = '\0';
	memset(&r, 0, sizeof r);
	routes_match(&r, path);
	r.method = request_method(r.route, method);
	raw = request_raw(&r);
	free(r.segbuf);
	free(path);
	return raw;
}

/* A request sent with flag d: its reply is read after the next record,
 * so a log follow can see the job write and end, a claim can wait for a
 * submission, two requests can be in flight. */
static struct {
	int on;
	int until;		/* the record after which it is read */
	struct conn cn;
	int head, ws_raw;
	int upload;		/* a raw upload (see raw_route) */
	char user[32];
	struct buf req, raw;
} dfr = { .cn = { .fd = -1 } };
static int cur_step;

static void
finish_deferred(void)
{
	static struct reply rp;

	if (!dfr.on)
		return;
	dfr.on = 0;
	cur_req = dfr.req.p;
	cur_req_len = dfr.req.len;
	read_reply(&dfr.cn, dfr.head, !dfr.upload, &rp);
	if (trace)
		fprintf(stderr, "fuzz_api: (deferred) %.*s -> %d %.200s\n",
		    (int)strcspn(dfr.req.p, "\r"), dfr.req.p, rp.status,
		    rp.body.p);
	check_reply(&rp, dfr.head, dfr.user[0] != '\0' ? dfr.user : NULL);
	check_tmp_empty();
	if (rp.status == 101)
		ws_session(&dfr.cn, dfr.ws_raw ? dfr.raw.p : NULL,
		    dfr.ws_raw ? dfr.raw.len : 0);
	conn_close(&dfr.cn);
	cur_req = NULL;
}

static void
http_record(struct conn *cn, const char *rec, size_t len)
{
	static struct buf req, snap0, snap1;
	static struct reply rp;
	const char *p = rec, *end = rec + len, *nl, *body;
	char who, user[32] = "", method[17];
	const char *flags, *sp1, *sp2, *target, *tend;
	int chunked, http10, ws_raw, defer, raw, has_auth = 0, head, i;
	size_t mlen = 0, blen;

	nl = memchr(p, '\n', len);
	tend = nl != NULL ? nl : end;
	who = len > 0 ? p[0] : 'n';
	flags = p + (len > 0);
	if (flags > tend)
		flags = tend;
	sp1 = memchr(flags, ' ', (size_t)(tend - flags));
	if (sp1 == NULL)
		sp1 = tend;
	chunked = memchr(flags, 'c', (size_t)(sp1 - flags)) != NULL;
	http10 = memchr(flags, '0', (size_t)(sp1 - flags)) != NULL;
	ws_raw = memchr(flags, 'W', (size_t)(sp1 - flags)) != NULL;
	for (defer = 0, p = flags; p < sp1; p++)
		defer += *p == 'd';
	if (memchr(flags, 'k', (size_t)(sp1 - flags)) != NULL)
		conn_close(cn);
	if (http10)
		chunked = 0;
	sp2 = sp1 < tend ? memchr(sp1 + 1, ' ', (size_t)(tend - sp1 - 1)) : NULL;
	if (sp2 == NULL)
		sp2 = tend;
	for (p = sp1 < tend ? sp1 + 1 : tend; p < sp2 && mlen < 16; p++)
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
			method[mlen++] = *p;
	method[mlen] = '\0';
	if (mlen == 0)
		strcpy(method, "GET");
	head = strcmp(method, "HEAD") == 0;
	target = sp2 < tend ? sp2 + 1 : tend;

	req.len = 0;
	buf_fmt(&req, "%s ", method);
	if (target == tend)
		buf_str(&req, "/");
	for (p = target; p < tend; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7f)
			buf_fmt(&req, "%%%02X", c);
		else
			buf_add(&req, p, 1);
	}
	{
		size_t at = strlen(method) + 1;
		char *t = strndup(req.p + at, req.len - at);
		if (t == NULL)
			fatal("strndup");
		raw = raw_route(method, t);
		free(t);
	}
	buf_str(&req, http10 ? " HTTP/1.0\r\nHost: localhost\r\n" :
	    " HTTP/1.1\r\nHost: localhost\r\n");

	/* the record's headers */
	p = nl != NULL ? nl + 1 : end;
	body = end;
	while (p < end) {
		const char *le = memchr(p, '\n', (size_t)(end - p)), *colon, *v;
		size_t ll = le != NULL ? (size_t)(le - p) : (size_t)(end - p), k;
		int ok = 1;

		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0) {
			body = le != NULL ? le + 1 : end;
			break;
		}
		colon = memchr(p, ':', ll);
		if (colon != NULL && colon > p && colon - p <= 64) {
			for (k = 0; p + k < colon; k++)
				ok &= is_token_char((unsigned char)p[k]);
			for (v = colon + 1; v < p + ll; v++)
				if (((unsigned char)*v < 0x20 && *v != '\t') ||
				    *v == 0x7f)
					ok = 0;
			k = (size_t)(colon - p);
			if ((k == 4 && strncasecmp(p, "Host", 4) == 0) ||
			    (k == 14 && strncasecmp(p, "Content-Length", 14) == 0) ||
			    (k == 17 && strncasecmp(p, "Transfer-Encoding",
			    17) == 0))
				ok = 0;
			if (ok && k == 13 && strncasecmp(p, "Authorization", 13) == 0)
				has_auth = 1;
			if (ok) {
				buf_add(&req, p, ll);
				buf_str(&req, "\r\n");
			}
		}
		p = le != NULL ? le + 1 : end;
	}
	blen = (size_t)(end - body);
	if (!has_auth && (who == 'x' || token_name(who) != NULL)) {
		const char *secret = "wrong-secret";
		for (i = 0; i < (int)NTOKENS; i++)
			if (tokens[i].who == who)
				secret = tokens[i].secret;
		buf_fmt(&req, "Authorization: Bearer %s\r\n", secret);
	}
	if (!has_auth && !st.open && (who == 'a' || who == 'b'))
		snprintf(user, sizeof user, "%.*s",
		    (int)strcspn(token_name(who), ":"), token_name(who));
	if (ws_raw) {
		blen = 0;
	} else if (chunked) {
		buf_str(&req, "Transfer-Encoding: chunked\r\n");
	} else if (blen > 0 || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0) {
		buf_fmt(&req, "Content-Length: %zu\r\n", blen);
	}
	buf_str(&req, "\r\n");
	if (chunked) {
		size_t off = 0, step = blen > 0 ?
		    (size_t)((unsigned char)body[0] % 61) + 1 : 1;
		while (off < blen) {
			size_t n = blen - off < step ? blen - off : step;
			buf_fmt(&req, "%zx\r\n", n);
			buf_add(&req, body + off, n);
			buf_str(&req, "\r\n");
			off += n;
		}
		buf_str(&req, "0\r\n\r\n");
	} else {
		buf_add(&req, body, blen);
	}

	if (defer) {
		finish_deferred();	/* one at a time */
		dfr.req.len = 0;
		buf_add(&dfr.req, req.p, req.len);
		dfr.raw.len = 0;
		buf_add(&dfr.raw, body, (size_t)(end - body));
		dfr.head = head;
		dfr.ws_raw = ws_raw;
		memcpy(dfr.user, user, sizeof dfr.user);
		dfr.until = cur_step + defer;
		dfr.upload = raw;
		dfr.on = 1;
		conn_open(&dfr.cn);
		(void)send_all(&dfr.cn, req.p, req.len);
		return;
	}
	cur_req = req.p;
	cur_req_len = req.len;
	snapshot(&snap0);
	if (cn->fd < 0)
		conn_open(cn);
	(void)send_all(cn, req.p, req.len);
	read_reply(cn, head, !raw && !(dfr.on && dfr.upload), &rp);
	if (trace)
		fprintf(stderr, "fuzz_api: %.*s%s -> %d %.200s\n",
		    (int)strcspn(req.p, "\r"), req.p, raw ? " (upload)" : "",
		    rp.status, rp.body.p);
	check_reply(&rp, head, user[0] != '\0' ? user : NULL);
	/* (a deferred request may be writing meanwhile) */
	if (!dfr.on)
		check_tmp_empty();
	if ((rp.status >= 400 || head) && !dfr.on) {
		snapshot(&snap1);
		if (snap0.len != snap1.len || memcmp(snap0.p, snap1.p,
		    snap0.len) != 0)
			violation("status %d %s changed the spool:\nbefore:\n%s"
			    "after:\n%s", rp.status, head ? "(HEAD)" : "(refused)",
			    snap0.p, snap1.p);
	}
	if (rp.status == 101)
		ws_session(cn, ws_raw ? body : NULL, ws_raw ? (size_t)(end -
		    body) : 0);
	else if (rp.close || cn->eof || http10)
		conn_close(cn);
	else if (cn->in.len > 0)
		violation("%zu bytes came after the reply", cn->in.len);
	cur_req = NULL;
}

/* ---- set-up, one input, tear-down ---- */

static void
teardown(void)
{
	int fd;

	if (!ready)
		return;
	api_drain(&A);
	api_close(&A);
	fd = open(topdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		empty_dir(fd);
		close(fd);
	}
	(void)rmdir(topdir);
	ready = 0;
}

/* Removes the spools of harness processes that died (a violation aborts
 * without clean-up): base/jobspool-fuzz-<pid>-* whose pid is gone. */
static void
remove_dead(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		long pid;
		int fd;
		char path[512];

		if (sscanf(de->d_name, "jobspool-fuzz-%ld-", &pid) != 1 ||
		    pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", base, de->d_name);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		empty_dir(fd);
		close(fd);
		(void)rmdir(path);
	}
	closedir(d);
}

static void
setup(void)
{
	struct api_listen l;
	const char *base = getenv("FUZZ_API_DIR");

	trace = getenv("FUZZ_API_TRACE") != NULL;
	signal(SIGPIPE, SIG_IGN);	/* as main.c: a gone peer is EPIPE */
	js_log_open("fuzz_api", JS_LOG_ERR, 0);
	if (base == NULL)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	remove_dead(base);
	snprintf(topdir, sizeof topdir, "%s/jobspool-fuzz-%ld-XXXXXX", base,
	    (long)getpid());
	if (mkdtemp(topdir) == NULL)
		fatal("mkdtemp");
	snprintf(spooldir, sizeof spooldir, "%s/spool", topdir);
	memset(&A, 0, sizeof A);
	A.conf = make_conf(1, 1u << 20);
	if (api_open(&A, spooldir) < 0 || api_start_threads(&A) < 0)
		abort();
	memset(&l, 0, sizeof l);
	l.max_connections = 64;
	A.daemon = api_start_daemon(&A, &l);
	if (A.daemon == NULL)
		fatal("MHD_start_daemon");
	ready = 1;
	atexit(teardown);
}

/* Waits until the connections of the last input are gone. */
static void
wait_idle(void)
{
	int64_t deadline = js_mono_ms() + 10000;

	for (;;) {
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(A.daemon,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		if ((di == NULL || di->num_connections == 0) &&
		    atomic_load(&A.active) == 0 && atomic_load(&A.ws_active) == 0)
			return;
		if (js_mono_ms() > deadline)
			violation("a request still runs 10 s after its client left "
			    "(%d requests, %d WebSockets)", atomic_load(&A.active),
			    atomic_load(&A.ws_active));
		usleep(1000);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conn cn = { .fd = -1 };
	static struct buf rec;
	const char *p = (const char *)data, *end = p + size;
	int steps;

	if (!ready)
		setup();
	if (st.open || A.conf->max_body != (1u << 20))
		set_conf(make_conf(1, 1u << 20));
	memset(&st, 0, sizeof st);
	spool_reset();
	for (steps = 0; steps < MAX_STEPS && p < end; steps++) {
		const char *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4);
		const char *re = sep != NULL ? sep : end;

		cur_step = steps;
		if (re > p && *p == '!') {
			if (trace)
				fprintf(stderr, "fuzz_api: spool %.*s\n",
				    (int)strcspn(p, "\n"), p);
			spool_record(p + 1, (size_t)(re - p - 1));
		} else {
			expand(p, (size_t)(re - p), &rec);
			http_record(&cn, rec.p, rec.len);
		}
		if (dfr.on && steps >= dfr.until)
			finish_deferred();
		p = sep != NULL ? sep + 4 : end;
	}
	finish_deferred();
	conn_close(&cn);
	wait_idle();
	return 0;
}
