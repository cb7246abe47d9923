/*
 * notifier.h - the processor's built-in notifiers (jobspool-processor(8),
 * "Notifications"): a webhook (--notify-url) and a Telegram chat
 * (--notify-telegram) told when a job ends.
 *
 * The loop queues a record per sink in the spool (lib/notify.h) right
 * after the job's final state is written; a sender thread of the notifier
 * sends the records with libcurl (remote_http.h), retries with backoff,
 * removes a record once it is sent or given up, and at start sends what an
 * earlier run left queued.  The loop never waits for the network.  The
 * thread shares with the loop only the spool and a wake-up (a condition
 * variable); it owns a copy of the settings it was started with.
 */
#ifndef JS_NOTIFIER_H
#define JS_NOTIFIER_H

#include <jansson.h>

#include "proc.h"

struct notifier;

/* Whether the job's outcome (its "status") is one of cfg's --notify-on. */
int notifier_wanted(const struct proc_config *cfg, const json_t *job);

/* Starts the sender thread when cfg has a webhook or a Telegram chat:
 * 0 with *out set, or with *out NULL when there is nothing to send to;
 * -1 with a message in err. */
int notifier_start(struct js_spool *sp, const struct proc_config *cfg,
    struct notifier **out, char *err, size_t errlen);

/* Queues the final job's notifications (one record per sink, durable)
 * and wakes the sender; a failure is logged (the job's result stands).
 * n NULL: nothing. */
void notifier_queue(struct notifier *n, const json_t *job);

/* Stops the sender (a request under way is abandoned: its record stays
 * for the next start) and frees n; NULL: nothing. */
void notifier_stop(struct notifier *n);

/* The message sent to Telegram for a final job: "job NAME: failed (exit
 * code 3) after 12.3s" and, with a status URL, a line with the link to
 * the job's page (STATUS/#job=ID).  Malloc'ed; NULL when out of memory. */
char *notifier_message(const json_t *job, const char *status_url);

#endif
