/*
 * follow.c - live logs.  Each follow stream, blocked in its MHD content
 * callback, wakes when the change bus (bus.c) moves, reads what is new
 * with pread from its own offset, and sleeps again.  No polling: the only
 * timeout (1 s) is a safety net for spools on filesystems without inotify
 * events (NFS).  A stream ends when its job is final (or gone) and its log
 * has been read to the end.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "buf.h"
#include "sched.h"
#include "log.h"

#define SAFETY_MS 1000
/* libmicrohttpd's buffer for one follow stream's reads: a follower holds it
 * for as long as it follows, and log lines are short */
#define FOLLOW_BLOCK 4096

/* A follow stream has no libmicrohttpd timeout (it may wait for hours for
 * a job to start); it checks its client is still there each time it would
 * sleep instead: a closed or reset socket ends it. */
static int
peer_gone(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLRDHUP };

	if (sock < 0 || poll(&p, 1, 0) <= 0)
		return 0;
	return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

int
follow_peer_gone(int sock)
{
	return peer_gone(sock);
}

int
follow_job_final(struct api *a, const char *id)
{
	enum js_state st;

	if (js_spool_find(a->sp, id, &st) < 0)
		return 1;	/* gone (removed): nothing more will come */
	return js_sched_final(st);
}

/* ---- one job's log, chunked ---- */

struct jfollow {
	struct api *a;
	int sock;		/* the client's socket, -1 if unknown */
	char id[JS_ID_SIZE];
	int fd;
	uint64_t off;
	int final;
	int outcome;		/* ?outcome=1: end with the outcome line */
	char *tail;		/* that line, once made */
	size_t tlen, tsent;
};

/* Makes the line that ends a follow asked with ?outcome=1 (man 8
 * jobspool-apiserver): "jobspool-outcome: " and one JSON object (id,
 * status, exit_code, signal, error, log_size), after a newline if the log
 * does not end with one.  0, or -1 if out of memory. */
static int
jfollow_outcome(struct jfollow *f)
{
	json_t *job = js_spool_read_current(f->a->sp, f->id, NULL), *o, *gone;
	struct js_buf b = JS_BUF_INIT;
	char last = '\n', *text;

	if (f->off > 0 && (f->fd < 0 ||
	    pread(f->fd, &last, 1, (off_t)f->off - 1) != 1))
		last = '\n';
	gone = job == NULL ? json_string("the job was removed") : NULL;
	o = json_pack("{s:s,s:O?,s:O?,s:O?,s:O?,s:I}", "id", f->id,
	    "status", job != NULL ? json_object_get(job, "status") : NULL,
	    "exit_code", job != NULL ? json_object_get(job, "exit_code") : NULL,
	    "signal", job != NULL ? json_object_get(job, "signal") : NULL,
	    "error", job != NULL ? json_object_get(job, "error") : gone,
	    "log_size", (json_int_t)f->off);
	json_decref(gone);
	json_decref(job);
	text = o != NULL ? js_json_dumps(o, JSON_COMPACT, NULL, NULL) : NULL;
	json_decref(o);
	if (text == NULL)
		return -1;
	js_buf_printf(&b, "%sjobspool-outcome: %s\n", last != '\n' ? "\n" : "",
	    text);
	free(text);
	f->tail = js_buf_take(&b, &f->tlen);
	return f->tail != NULL ? 0 : -1;
}

/* Sends what is left of the outcome line; the end of the stream after. */
static ssize_t
jfollow_tail(struct jfollow *f, char *buf, size_t max)
{
	size_t n = f->tlen - f->tsent;

	if (n == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n > max)
		n = max;
	memcpy(buf, f->tail + f->tsent, n);
	f->tsent += n;
	return (ssize_t)n;
}

static ssize_t
jfollow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct jfollow *f = cls;
	ssize_t n;

	(void)pos;
	for (;;) {
		uint64_t g = bus_gen(f->a->bus);
		if (f->tail != NULL)
			return jfollow_tail(f, buf, max);
		if (f->fd < 0)
			f->fd = js_spool_log_open(f->a->sp, f->id, 0);
		if (f->fd >= 0) {
			n = pread(f->fd, buf, max, (off_t)f->off);
			if (n > 0) {
				f->off += (uint64_t)n;
				return n;
			}
			if (n < 0 && errno != EINTR)
				return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (f->final && f->outcome) {
			if (jfollow_outcome(f) < 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			continue;
		}
		if (f->final || atomic_load(&f->a->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (follow_job_final(f->a, f->id)) {
			f->final = 1;	/* read once more: the last lines */
			continue;
		}
		if (peer_gone(f->sock))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		bus_wait(f->a->bus, g, SAFETY_MS);
	}
}

static void
jfollow_free(void *cls)
{
	struct jfollow *f = cls;

	if (f->fd >= 0)
		close(f->fd);
	free(f->tail);
	free(f);
}

struct MHD_Response *
follow_job_response(struct api *a, struct MHD_Connection *c, const char *id,
    uint64_t offset, int outcome)
{
	struct jfollow *f = calloc(1, sizeof *f);

	if (f == NULL)
		return NULL;
	f->a = a;
	f->sock = follow_untimed(c);
	memcpy(f->id, id, JS_ID_SIZE);
	f->fd = -1;
	f->off = offset;
	f->outcome = outcome;
	return reply_stream(c, FOLLOW_BLOCK, jfollow_read, f, jfollow_free);
}

/* ---- a batch's logs merged, each line prefixed with its job id ---- */

#define LINE_MAX_BYTES 65536

struct bjob {
	char id[JS_ID_SIZE];
	int fd;
	uint64_t off;
	char *part;		/* incomplete last line */
	size_t plen;
	int done;
};

struct bfollow {
	struct api *a;
	int sock;		/* the client's socket, -1 if unknown */
	struct bjob *jobs;
	size_t n, ndone;
	int once;		/* not following: what is there now */
	struct js_buf out;	/* formatted lines not yet sent */
	size_t osent;		/* how much of out was sent */
};

static int
out_add(struct bfollow *b, const char *id, const char *line, size_t len)
{
	size_t was = b->out.len;

	if (js_buf_add(&b->out, id, JS_ID_LEN) < 0 ||
	    js_buf_add(&b->out, " ", 1) < 0 ||
	    js_buf_add(&b->out, line, len) < 0 ||
	    js_buf_add(&b->out, "\n", 1) < 0) {
		b->out.len = was;	/* never half a line */
		return -1;
	}
	return 0;
}

/* Reads what is new in one job's log into lines; 1 if anything was read. */
static int
bjob_pump(struct bfollow *b, struct bjob *j)
{
	char buf[16384];
	ssize_t n;
	int got = 0;

	if (j->fd < 0)
		j->fd = js_spool_log_open(b->a->sp, j->id, 0);
	if (j->fd < 0)
		return 0;
	while ((n = pread(j->fd, buf, sizeof buf, (off_t)j->off)) > 0) {
		ssize_t i, start = 0;
		got = 1;
		j->off += (uint64_t)n;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n' && j->plen + (size_t)(i - start) <
			    LINE_MAX_BYTES)
				continue;
			{
				size_t len = (size_t)(i - start);
				char *line = j->part;
				/* join the earlier part of this line */
				if (j->plen > 0) {
					char *nl = realloc(j->part, j->plen + len);
					if (nl == NULL)
						return -1;
					memcpy(nl + j->plen, buf + start, len);
					line = nl;
					len += j->plen;
					j->part = NULL;
					j->plen = 0;
					if (out_add(b, j->id, line, len) < 0) {
						free(line);
						return -1;
					}
					free(line);
				} else if (out_add(b, j->id, buf + start, len) < 0) {
					return -1;
				}
			}
			start = buf[i] == '\n' ? i + 1 : i;
		}
		if (start < n) {
			char *np = realloc(j->part, j->plen + (size_t)(n - start));
			if (np == NULL)
				return -1;
			memcpy(np + j->plen, buf + start, (size_t)(n - start));
			j->part = np;
			j->plen += (size_t)(n - start);
		}
		if (b->out.len > 65536)
			break;
	}
	return got;
}

static ssize_t
bfollow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct bfollow *b = cls;
	size_t i;

	(void)pos;
	for (;;) {
		uint64_t g = bus_gen(b->a->bus);
		if (b->osent < b->out.len) {
			size_t n = b->out.len - b->osent;
			if (n > max)
				n = max;
			memcpy(buf, b->out.p + b->osent, n);
			b->osent += n;
			if (b->osent == b->out.len)
				b->osent = b->out.len = 0;
			return (ssize_t)n;
		}
		if (b->ndone == b->n || atomic_load(&b->a->stopping))
			return MHD_CONTENT_READER_END_OF_STREAM;
		for (i = 0; i < b->n; i++) {
			struct bjob *j = &b->jobs[i];
			int fin;
			if (j->done)
				continue;
			fin = b->once || follow_job_final(b->a, j->id);
			if (bjob_pump(b, j) < 0)
				return MHD_CONTENT_READER_END_WITH_ERROR;
			if (fin) {
				/* final before this read: the log is complete */
				if (j->plen > 0) {
					if (out_add(b, j->id, j->part, j->plen) < 0)
						return MHD_CONTENT_READER_END_WITH_ERROR;
					j->plen = 0;
				}
				j->done = 1;
				b->ndone++;
			}
		}
		if (b->out.len == 0 && b->ndone < b->n) {
			if (peer_gone(b->sock))
				return MHD_CONTENT_READER_END_WITH_ERROR;
			bus_wait(b->a->bus, g, SAFETY_MS);
		}
	}
}

static void
bfollow_free(void *cls)
{
	struct bfollow *b = cls;
	size_t i;

	for (i = 0; i < b->n; i++) {
		if (b->jobs[i].fd >= 0)
			close(b->jobs[i].fd);
		free(b->jobs[i].part);
	}
	free(b->jobs);
	js_buf_free(&b->out);
	free(b);
}

struct MHD_Response *
follow_batch_response(struct api *a, struct MHD_Connection *c,
    char (*ids)[JS_ID_SIZE], size_t n, int follow)
{
	struct bfollow *b = calloc(1, sizeof *b);
	size_t i;

	if (b == NULL)
		return NULL;
	b->a = a;
	b->sock = follow ? follow_untimed(c) : -1;
	b->jobs = calloc(n ? n : 1, sizeof *b->jobs);
	if (b->jobs == NULL) {
		free(b);
		return NULL;
	}
	b->n = n;
	b->once = !follow;
	for (i = 0; i < n; i++) {
		memcpy(b->jobs[i].id, ids[i], JS_ID_SIZE);
		b->jobs[i].fd = -1;
	}
	return reply_stream(c, FOLLOW_BLOCK, bfollow_read, b, bfollow_free);
}

int
follow_untimed(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;

	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci != NULL ? ci->connect_fd : -1;
}
