/*
 * registry.h - who processes the spool: the processor registry
 * (jobspool(5), PROCESSORS).
 *
 * SPOOL/processors/<host>:<pid>.json   one file per running local processor
 *
 *   {"id": "<host>:<pid>", "host": ..., "pid": N, "pid_start": N,
 *    "labels": [...], "exclusive": false, "slots": N (-j), "running": N,
 *    "started_at": RFC 3339, "updated_at": RFC 3339, "lease_ms": N}
 *
 * A processor writes its file atomically (tmp/, rename) when it starts,
 * again every lease/3 like a job's heartbeat, and removes it when it stops
 * cleanly.  A reader takes a processor for dead when its file was not
 * refreshed (mtime) within its lease_ms, or when it is of this host and
 * its pid is gone (or now names another process: pid_start differs).
 * Dead entries are listed as such (alive false), and a starting processor
 * removes the dead entries of its own host.
 *
 * Remote workers (processors in remote mode) claim through an apiserver;
 * it keeps them in memory in a js_workers table, refreshed by each of
 * their claims and heartbeats, alive while seen within its --lease.
 * js_registry_all lists both kinds.
 */
#ifndef JS_REGISTRY_H
#define JS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "job.h"
#include "spool.h"

#define JS_REGISTRY_DIR "processors"
#define JS_PROC_ID_SIZE 320
#define JS_LABEL_SIZE (JS_LABEL_MAX + 1)

/* One processor, local or remote. */
struct js_proc_info {
	char id[JS_PROC_ID_SIZE];	/* "host:pid", or a remote worker's name */
	char host[256];			/* "" if unknown (remote) */
	long pid;			/* 0 if unknown (remote) */
	unsigned long long pid_start;	/* js_proc_start_time; 0 unknown */
	char labels[JS_LABELS_MAX][JS_LABEL_SIZE];
	size_t nlabels;
	int exclusive;			/* --exclusive */
	int slots;			/* -j; -1 if unknown */
	int running;			/* jobs running now; -1 if unknown */
	int64_t started_ms;		/* 0 if unknown */
	int64_t seen_ms;		/* last refresh (file mtime, claim) */
	int64_t lease_ms;		/* dead when not seen for this long */
	int remote;			/* a remote worker (apiserver memory) */
	int alive;			/* set by the listing functions */
};

/* Fills p for this process: id "host:pid", host, pid, pid_start, started
 * and seen now.  labels (n of them, NULL-terminated or not) are copied;
 * more than JS_LABELS_MAX or invalid ones are left out. */
void js_proc_info_self(struct js_proc_info *p, char *const *labels,
    size_t n, int exclusive, int slots, int64_t lease_ms);

/* Writes p into SPOOL/processors/<id>.json atomically (creating the
 * directory, 0770, if missing).  0, or -1 with errno (EINVAL: an id that
 * cannot be a file name). */
int js_registry_write(struct js_spool *sp, const struct js_proc_info *p);
/* Removes SPOOL/processors/<id>.json; 0 also if there was none. */
int js_registry_remove(struct js_spool *sp, const char *id);
/* Whether p is alive at now_ms by the rule above; host is this machine's
 * name (js_hostname), for the pid check of local entries. */
int js_proc_info_alive(const struct js_proc_info *p, const char *host,
    int64_t now_ms);
/* Lists the local processors of the spool (files that cannot be read as
 * one are skipped), alive set: a new array in *out (caller frees) of *n,
 * sorted by id.  No directory yet: 0 with none.  -1 with errno. */
int js_registry_list(struct js_spool *sp, int64_t now_ms,
    struct js_proc_info **out, size_t *n);
/* Removes the entries of this host whose pid is gone (a processor killed
 * with -9); returns how many, or -1. */
int js_registry_prune(struct js_spool *sp, int64_t now_ms);

/* The table of remote workers an apiserver keeps (thread-safe). */
struct js_workers;
struct js_workers *js_workers_new(void);	/* NULL/ENOMEM */
void js_workers_free(struct js_workers *w);	/* NULL: nothing */
/* A worker was seen at p->seen_ms: adds or refreshes the entry of p->id
 * (a slots, running or started_ms of -1/0 keeps the one known).  Entries
 * not seen for 10 of their leases are dropped.  0, or -1/ENOMEM. */
int js_workers_seen(struct js_workers *w, const struct js_proc_info *p);
/* Refreshes the entry of worker id if there is one (a heartbeat). */
void js_workers_touch(struct js_workers *w, const char *id, int64_t now_ms);
/* Copies the table, alive set, as js_registry_list does. */
int js_workers_list(struct js_workers *w, int64_t now_ms,
    struct js_proc_info **out, size_t *n);

/* The local processors of sp and (w not NULL) the remote workers of w,
 * local ones first; as js_registry_list.  If only_alive, the dead ones
 * are left out. */
int js_registry_all(struct js_spool *sp, struct js_workers *w,
    int64_t now_ms, int only_alive, struct js_proc_info **out, size_t *n);

/* p as JSON (the file's shape plus "alive", "remote" and "last_seen");
 * NULL/ENOMEM. */
json_t *js_proc_info_json(const struct js_proc_info *p);

#endif
