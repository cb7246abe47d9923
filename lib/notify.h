/*
 * notify.h - the spool's queue of notifications (jobspool(5), "notify/"):
 * one record per job outcome and sink, written when the job's final state
 * is, removed once the sink has taken it.
 *
 * SPOOL/notify/<id>.<outcome>.<sink>.json   one compact JSON line:
 *   {"id":..., "status": outcome, "sink": "url"|"telegram",
 *    "queued_at": ms since the epoch, "job": the final job}
 * A record is written like every spool file (under tmp/, synced, renamed)
 * and the directory is synced, so it survives a crash or a power loss.
 * A sender takes a record with an OFD write lock on it (released by the
 * kernel if the sender dies) and checks it is still linked, so that two
 * processors sharing the spool never send the same record at once, and a
 * record removed after a success is never sent again.  No secret (a bot
 * token, a webhook URL) is written into a record: the sender adds them.
 */
#ifndef JS_NOTIFY_H
#define JS_NOTIFY_H

#include <dirent.h>
#include <stdint.h>
#include <jansson.h>

#include "spool.h"

#define JS_NOTIFY_DIR "notify"
#define JS_NOTIFY_SINK_SIZE 16
#define JS_NOTIFY_NAME_SIZE (JS_ID_SIZE + 16 + JS_NOTIFY_SINK_SIZE + 8)

/* Queues a record for the final job (its "id" and "status", a final one)
 * and sink (a word of lowercase letters): creates notify/ if missing,
 * writes <id>.<status>.<sink>.json (replacing one of the same name) and
 * syncs the directory.  0, or -1 with errno (EINVAL: no valid id, not a
 * final status, or a bad sink). */
int js_notify_put(struct js_spool *sp, const json_t *job, const char *sink);

/* Opens notify/ for a sender (creating it if missing): 0 with *d set
 * (close with closedir; dirfd(*d) for the calls below), or -1 with errno. */
int js_notify_open(struct js_spool *sp, DIR **d);

/* Whether a directory entry of notify/ is a record: 1 with its sink
 * copied into sink, else 0 (temporary or foreign names). */
int js_notify_parse_name(const char *name, char sink[JS_NOTIFY_SINK_SIZE]);

/* Takes record name of directory dfd for sending: opens it, locks it
 * without waiting and checks it is still linked.  1 with the record in
 * *rec and the locked descriptor in *fd (give it back with
 * js_notify_release or js_notify_remove); 0 when another sender holds it
 * or it is gone; -1 with errno (EBADMSG: not a regular file holding a
 * JSON object): *fd is then -1, or, for a file that is no JSON object,
 * still held, for js_notify_remove. */
int js_notify_take(int dfd, const char *name, json_t **rec, int *fd);
/* Releases a taken record left for a later try (closes fd). */
void js_notify_release(int fd);
/* Removes a taken record (it was sent, or given up) and closes fd.  0, or
 * -1 with errno (the record then stays, to be sent again). */
int js_notify_remove(int dfd, const char *name, int fd);

#endif
