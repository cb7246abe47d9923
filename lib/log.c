/* log.c - see log.h */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "jobspool";
static atomic_int log_level = JS_LOG_INFO;
static int log_syslog;
static int log_stamped;		/* stderr lines start with the time */

static const char *const level_names[] = { "error", "warning", "info", "debug" };

void
js_log_open(const char *prog, enum js_log_level level, int use_syslog)
{
	log_prog = prog;
	atomic_store(&log_level, (int)level);
	log_syslog = use_syslog;
	log_stamped = !use_syslog && !js_log_under_journal();
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
	if (log_syslog) {
		syslog(prio[level], "%s", buf);
	} else if (log_stamped) {
		char ts[JS_STAMP_SIZE];
		/* one fprintf per line so concurrent threads do not interleave */
		fprintf(stderr, "%s %s: %s: %s\n", js_log_stamp(ts), log_prog,
		    level_names[level], buf);
	} else {
		fprintf(stderr, "%s: %s: %s\n", log_prog, level_names[level], buf);
	}
}

const char *
js_log_stamp(char out[JS_STAMP_SIZE])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL) {
		snprintf(out, JS_STAMP_SIZE, "-");
		return out;
	}
	n = strftime(out, JS_STAMP_SIZE - 8, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, JS_STAMP_SIZE - n, ".%03uZ",
	    (unsigned)(ts.tv_nsec / 1000000) % 1000u);
	return out;
}

int
js_log_under_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	return fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

const char *
js_log_clean(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c > 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= size)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= size)
				break;
			snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	out[o] = '\0';
	return out;
}
