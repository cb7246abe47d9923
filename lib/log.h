/*
 * log.h - levelled logging to stderr or syslog for every jobspool program.
 *
 * Call js_log_open() once in main before starting threads.  The level may
 * be changed later (SIGHUP reload) with js_log_set_level(); it is atomic.
 * Messages look like "jobspool-processor: warning: cannot claim x: reason";
 * on stderr they start with the time (2026-01-02T03:04:05.678Z) unless
 * stderr is the journal (systemd's JOURNAL_STREAM names it), which stamps
 * lines itself, as syslog does.
 */
#ifndef JS_LOG_H
#define JS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum js_log_level { JS_LOG_ERR = 0, JS_LOG_WARN, JS_LOG_INFO, JS_LOG_DEBUG };

/* Set program name (not copied: must outlive the program), level, and
 * whether to log to syslog (daemon facility) instead of stderr. */
void js_log_open(const char *prog, enum js_log_level level, int use_syslog);
void js_log_set_level(enum js_log_level level);
/* Parse "error", "warn(ing)", "info", "debug"; returns -1 if unknown. */
int js_log_level_parse(const char *s);
/* The same as a js_opt check (config.h): 0, or -1 with "expected ...". */
int js_log_level_check(const char *s, char *why, size_t whylen);

void js_log(enum js_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The formatting helpers every program's log lines use (one home). */
/* Durations: js_duration_format (util.h), the only formatter. */
#define JS_STAMP_SIZE 32
/* The wall-clock time now as "2026-01-02T03:04:05.678Z" (UTC); out. */
const char *js_log_stamp(char out[JS_STAMP_SIZE]);
/* Whether stderr is the systemd journal (JOURNAL_STREAM names the device
 * and inode of stderr): its lines then carry no time of their own. */
int js_log_under_journal(void);
/* Copies s into out (size > 0), each byte that is not printable ASCII
 * (and the backslash) written as \xHH, so that a line logged stays one
 * line (a path or a name a client chose); cut to fit; returns out. */
const char *js_log_clean(const char *s, char *out, size_t size);

#define js_err(...)   js_log(JS_LOG_ERR, __VA_ARGS__)
#define js_warn(...)  js_log(JS_LOG_WARN, __VA_ARGS__)
#define js_info(...)  js_log(JS_LOG_INFO, __VA_ARGS__)
#define js_debug(...) js_log(JS_LOG_DEBUG, __VA_ARGS__)

#endif
