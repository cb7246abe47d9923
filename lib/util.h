/*
 * util.h - small helpers shared by the library and the programs:
 * job ids, timestamps, and parsing of durations, sizes and integers.
 * None of them allocates unless it says so; none prints.
 */
#ifndef JS_UTIL_H
#define JS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A job id is a lowercase RFC 4122 UUID: 36 chars + NUL. */
#define JS_ID_LEN 36
#define JS_ID_SIZE (JS_ID_LEN + 1)

/* Returns 1 if s is exactly a lowercase UUID (8-4-4-4-12 hex digits), else 0.
 * Every path built from an id is built only after this returned 1. */
int js_id_valid(const char *s);
/* Writes a fresh random (version 4) lowercase UUID into out. */
void js_id_new(char out[JS_ID_SIZE]);

/* Wall clock in milliseconds / nanoseconds since the epoch. */
int64_t js_now_ms(void);
int64_t js_now_ns(void);
/* Monotonic clock in milliseconds. */
int64_t js_mono_ms(void);
/* *ts = the monotonic clock ns nanoseconds from now (0 <= ns < 1 s), for
 * pthread_cond_clockwait with CLOCK_MONOTONIC.  0, or -1 with errno. */
struct timespec;
int js_mono_deadline(struct timespec *ts, long ns);

/* RFC 3339 UTC with milliseconds: "2026-11-23T09:13:27.123Z".
 * out must hold JS_TIME_SIZE bytes. */
#define JS_TIME_SIZE 80
void js_time_format(int64_t ms, char out[JS_TIME_SIZE]);
/* Parses what js_time_format writes (milliseconds optional); returns 0 and
 * sets *ms, or -1 if s is not such a timestamp. */
int js_time_parse(const char *s, int64_t *ms);

/* Parses a duration: "90" (seconds), or NUMBER UNIT pairs, largest unit
 * first, with units w, d, h, m, s, ms: "90s", "15m", "1h30m", "7d", "1w",
 * "250ms".  Returns 0 and sets *ms (milliseconds), or -1 on bad syntax,
 * negative or overflowing value. */
int js_parse_duration_ms(const char *s, int64_t *ms);
/* Writes a duration for people, the one format of every program's logs
 * and output: "850ms", "12.3s" (tenths, rounded down), "4m05s", "2h03m",
 * "3d04h" (two units at most; the smaller ones dropped; negative: a "-"
 * before).  One word, so that key=value log lines stay parseable.
 * Returns out. */
#define JS_DURATION_SIZE 32
const char *js_duration_format(int64_t ms, char out[JS_DURATION_SIZE]);
/* Parses a size: "512", "512B", "64K", "512M", "2G", "1T" (powers of 1024;
 * also "64KiB", and "64k").  Ambiguous units are refused: "64KB" (1000 or
 * 1024?), "1Gb" (bits?), "1m" (milli?).  Returns 0 and sets *bytes, or -1. */
int js_parse_size(const char *s, uint64_t *bytes);
/* Parses a whole decimal integer in [min, max]; returns 0 or -1. */
int js_parse_int(const char *s, long long min, long long max, long long *out);

/* Reads /proc/PID/stat's start time (field 22, clock ticks since boot).
 * Returns 0 and sets *start, or -1 with errno set.  Used to recognise a
 * process group left by a dead processor before killing it. */
int js_proc_start_time(int pid, unsigned long long *start);
/* The same for the calling process; async-signal-safe (open, read and
 * close only): what a job's process calls between vfork and exec. */
int js_proc_self_start_time(unsigned long long *start);

/* The name of a network or cluster filesystem type (statfs f_type): "nfs",
 * "cifs", "smb2", "fuse", "ceph"...; NULL for any other (local) type. */
const char *js_netfs_type_name(unsigned long f_type);
/* The same for the filesystem of fd (fstatfs); NULL if local or unknown. */
const char *js_netfs_name(int fd);

/* Host name (never fails: "localhost" as a last resort). */
void js_hostname(char *out, size_t size);

/* Fills a caller's error buffer (err may be NULL, errlen 0): the one way a
 * library function that must not print says why it failed. */
void js_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes all of data to fd, retrying short writes and EINTR.  0, or -1
 * with errno set. */
int js_write_all(int fd, const void *data, size_t len);

/* Reads one pointer from a pipe on which every write is one whole pointer
 * (atomic: less than PIPE_BUF), retrying EINTR: a thread's way of handing
 * an object to an event loop.  The pointer, or NULL with errno: EAGAIN
 * (none waiting, non-blocking), EPIPE (every writer gone), EIO (a short
 * read, which whole writes cannot cause), or read's. */
void *js_read_ptr(int fd);

#endif
