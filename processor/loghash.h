/*
 * loghash.h - the SHA-256 of a finished job's log, computed off the event
 * loop (loop.c).
 *
 * Hashing a log of hundreds of megabytes takes a noticeable fraction of a
 * second; inside the loop it would hold every other job (their output,
 * exits, heartbeats, timeouts, cancels).  So each hashing runs in a short-
 * lived thread of its own that only reads the log's descriptor and hashes
 * (lib/digest: no allocation, no locks, no jansson, no logging; so the
 * loop may fork a job's process meanwhile, the child finding no lock
 * held), then writes the address of its struct loghash into a pipe the
 * loop watches.
 * The loop reads it back (loghash_read), which joins the thread, and only
 * then touches the result.  Every thread blocks all signals, so the loop's
 * signalfd keeps receiving them.
 */
#ifndef JS_LOGHASH_H
#define JS_LOGHASH_H

#include <stdint.h>

#include "digest.h"

struct loghash;

/* Starts hashing everything readable from fd (from its offset), in a
 * thread.  fd is then the hashing's (closed by loghash_free).  When done
 * the thread writes the struct's address (sizeof (struct loghash *) bytes,
 * one write, so atomic on a pipe) to notify_fd, a pipe's write end.
 * Returns the hashing, or NULL with errno (ENOMEM, or EAGAIN when no
 * thread can be made now; fd is then still the caller's). */
struct loghash *loghash_start(int fd, int notify_fd);

/* Reads the next finished hashing from readfd, the pipe's non-blocking
 * read end, and joins its thread.  Returns it, or NULL when none is
 * waiting (errno EAGAIN) or on a read error (errno). */
struct loghash *loghash_read(int readfd);

/* The outcome of a finished hashing: 0 with the hex digest and the number
 * of bytes hashed, or -1 with errno as the log's read failed. */
int loghash_result(const struct loghash *h, char hex[JS_SHA256_HEX_SIZE],
    uint64_t *size);

/* Frees a hashing and closes its descriptor; one never read back is
 * waited for first (its address then stays in the pipe: do that only when
 * the pipe is closed next).  NULL is allowed. */
void loghash_free(struct loghash *h);

#endif
