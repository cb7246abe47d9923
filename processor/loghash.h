/*
 * loghash.h - the SHA-256 of a finished job's log, computed off the event
 * loop (loop.c).
 *
 * Hashing a log of hundreds of megabytes takes a noticeable fraction of a
 * second; inside the loop it would hold every other job (their output,
 * exits, heartbeats, timeouts, cancels).  So the loop hands each hashing
 * to the hasher: one thread, started once, that takes the hashings in the
 * order queued, only reads the log's descriptor and hashes (lib/digest:
 * no allocation, no jansson, no logging; its one lock is held only around
 * the queue, never across a fork's child: the child only execs), then
 * writes the address of the struct loghash into a pipe the loop watches.
 * One thread for every hashing, not one per log: starting and ending a
 * thread per job cost the loop about as much as hashing an empty log.
 * The loop reads the address back (loghash_read) and only then touches the
 * result.  The thread blocks all signals, so the loop's signalfd keeps
 * receiving them.
 */
#ifndef JS_LOGHASH_H
#define JS_LOGHASH_H

#include <stdint.h>

#include "digest.h"

struct loghasher;
struct loghash;

/* Starts the hasher's thread.  Each finished hashing's address (sizeof
 * (struct loghash *) bytes, one write, so atomic on a pipe) is written to
 * notify_fd, a pipe's write end.  Returns NULL with errno (ENOMEM, or
 * EAGAIN when no thread can be made now). */
struct loghasher *loghasher_new(int notify_fd);

/* Stops the hasher once what is queued is hashed, and frees it.  Every
 * hashing it was given must have been freed first (loghash_free).  NULL is
 * allowed. */
void loghasher_free(struct loghasher *hs);

/* Queues the hashing of everything readable from fd (from its offset).
 * fd is then the hashing's (closed by loghash_free).  Returns the hashing,
 * or NULL with errno ENOMEM (fd is then still the caller's). */
struct loghash *loghash_start(struct loghasher *hs, int fd);

/* Reads the next finished hashing from readfd, the pipe's non-blocking
 * read end.  Returns it, or NULL when none is waiting (errno EAGAIN) or on
 * a read error (errno). */
struct loghash *loghash_read(int readfd);

/* The outcome of a finished hashing: 0 with the hex digest and the number
 * of bytes hashed, or -1 with errno as the log's read failed. */
int loghash_result(const struct loghash *h, char hex[JS_SHA256_HEX_SIZE],
    uint64_t *size);

/* Frees a hashing and closes its descriptor; one not yet done is waited
 * for first (its address then still goes into the pipe: free one never
 * read back only when the pipe is closed next).  NULL is allowed. */
void loghash_free(struct loghash *h);

#endif
