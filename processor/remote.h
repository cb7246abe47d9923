/*
 * remote.h - remote mode of jobspool-processor (--server URL): jobs are
 * claimed from an apiserver's worker routes instead of a shared spool.
 *
 * The processor forks one "link" process (remote_link.c; its files are
 * listed in remote_link.h) that mirrors between the server and the
 * processor's local work spool (--spool):
 *   - a claimer thread long-polls POST /api/v1/workers/claim while fewer
 *     than -j jobs run here (one whose local run has ended no longer
 *     counts while its end is delivered) and writes each job into the local spool
 *     as <id>.pending, with a "remote" field holding the lease's fencing
 *     token and the server log's size at the claim; the ordinary event loop
 *     (loop.c) claims and runs it like any other job;
 *   - one thread per job streams the local <id>.log to the server from the
 *     acknowledged offset, heartbeats the lease, forwards cancel requests,
 *     pauses the job (SIGSTOP of its process group) while too many log
 *     bytes are unsent, kills the local copy when the lease is lost, and
 *     posts the final job (then drops the local files);
 *   - unreachable server: exponential backoff with full jitter; the job
 *     keeps running and its log stays in the local file meanwhile.
 * The link uses threads and libcurl; the processor's event loop stays
 * single-threaded and knows the link only by its pid (SIGUSR1: claim no
 * more, sent when the loop starts shutting down; SIGTERM: return the jobs
 * not run to the server and exit).
 */
#ifndef JS_REMOTE_H
#define JS_REMOTE_H

#include <sys/types.h>

#include "proc.h"
#include "spool.h"

/* Before the event loop starts: drops the local jobs an earlier run left
 * unfinished (pending or running: their server leases expire and are
 * recovered there; a leftover process group is killed).  Final ones stay,
 * for the link to deliver.  Returns the number dropped, or -1. */
int remote_prepare(struct js_spool *sp);

/* Forks the link process (PR_SET_PDEATHSIG: it ends with the processor).
 * Returns its pid, or -1 with errno set. */
pid_t remote_start(struct proc_config *cfg, struct js_spool *sp);

/* After the event loop returned: tells the link to hand back what is left
 * and waits for it (at most wait_ms, then SIGKILL).  Returns 0 if it
 * exited 0. */
int remote_stop(pid_t pid, int64_t wait_ms);

#endif
