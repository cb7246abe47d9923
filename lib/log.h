/*
 * log.h - levelled logging to stderr or syslog for every jobspool program.
 *
 * Call js_log_open() once in main before starting threads.  The level may
 * be changed later (SIGHUP reload) with js_log_set_level(); it is atomic.
 * Messages look like "jobspool-processor: warning: cannot claim x: reason".
 */
#ifndef JS_LOG_H
#define JS_LOG_H

#include <stddef.h>

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

#define js_err(...)   js_log(JS_LOG_ERR, __VA_ARGS__)
#define js_warn(...)  js_log(JS_LOG_WARN, __VA_ARGS__)
#define js_info(...)  js_log(JS_LOG_INFO, __VA_ARGS__)
#define js_debug(...) js_log(JS_LOG_DEBUG, __VA_ARGS__)

#endif
