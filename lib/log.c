/* log.c - see log.h */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "log.h"

static const char *log_prog = "jobspool";
static atomic_int log_level = JS_LOG_INFO;
static int log_syslog;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
js_log_open(const char *prog, enum js_log_level level, int use_syslog)
{
	log_prog = prog;
	atomic_store(&log_level, (int)level);
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
js_log_set_level(enum js_log_level level)
{
	atomic_store(&log_level, (int)level);
}

int
js_log_level_parse(const char *s)
{
	if (strcasecmp(s, "error") == 0 || strcasecmp(s, "err") == 0)
		return JS_LOG_ERR;
	if (strcasecmp(s, "warning") == 0 || strcasecmp(s, "warn") == 0)
		return JS_LOG_WARN;
	if (strcasecmp(s, "info") == 0)
		return JS_LOG_INFO;
	if (strcasecmp(s, "debug") == 0)
		return JS_LOG_DEBUG;
	return -1;
}

int
js_log_level_check(const char *s, char *why, size_t whylen)
{
	if (js_log_level_parse(s) >= 0)
		return 0;
	snprintf(why, whylen, "expected error, warning, info or debug");
	return -1;
}

void
js_log(enum js_log_level level, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char buf[2048];
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (log_syslog)
		syslog(prio[level], "%s", buf);
	else
		/* one fprintf per line so concurrent threads do not interleave */
		fprintf(stderr, "%s: %s: %s\n", log_prog, level_names[level], buf);
}
