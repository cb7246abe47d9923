/*
 * common.h - small helpers shared by the benchmark tools of tests/bench/
 * (header-only, static functions; these are measuring tools, not part of
 * jobspool).  Every tool prints "tool: message" on stderr and exits 1 on a
 * failure, 2 on bad usage.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((unused)) static const char *bench_prog = "bench";

__attribute__((format(printf, 1, 2), noreturn, unused)) static void
die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "%s: ", bench_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (fmt[0] != '\0' && fmt[strlen(fmt) - 1] == ':')
		fprintf(stderr, " %s", strerror(e));
	fputc('\n', stderr);
	exit(1);
}

__attribute__((noreturn, unused)) static void
usage(const char *u)
{
	fprintf(stderr, "usage: %s %s\n", bench_prog, u);
	exit(2);
}

/* Nanoseconds of clock c. */
__attribute__((unused)) static int64_t
now_ns(clockid_t c)
{
	struct timespec ts;

	if (clock_gettime(c, &ts) != 0)
		die("clock_gettime:");
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Parses a non-negative decimal integer or dies. */
__attribute__((unused)) static long long
num(const char *s, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		die("bad %s: %s", what, s);
	return v;
}

/* Sleeps ns nanoseconds (restarting after signals). */
__attribute__((unused)) static void
sleep_ns(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };

	while (nanosleep(&ts, &ts) != 0)
		if (errno != EINTR)
			die("nanosleep:");
}

#endif
