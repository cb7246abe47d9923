/* util.c - see util.h */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "util.h"

int
js_id_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < JS_ID_LEN; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return s[JS_ID_LEN] == '\0';
}

void
js_id_new(char out[JS_ID_SIZE])
{
	uuid_t u;

	/* one getrandom(2) call: libuuid's uuid_generate_random also asks
	 * getpid, getppid, getuid and gettid each time (5 syscalls per id,
	 * two ids per submission); it remains the fallback */
	if (getrandom(u, sizeof u, 0) == (ssize_t)sizeof u) {
		u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);	/* version 4 */
		u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);	/* RFC 4122 */
	} else {
		uuid_generate_random(u);
	}
	uuid_unparse_lower(u, out);
}

int64_t
js_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
js_now_ms(void)
{
	return js_now_ns() / 1000000;
}

int64_t
js_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
js_mono_deadline(struct timespec *ts, long ns)
{
	if (clock_gettime(CLOCK_MONOTONIC, ts) < 0)
		return -1;
	ts->tv_nsec += ns;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
	return 0;
}

void
js_time_format(int64_t ms, char out[JS_TIME_SIZE])
{
	time_t sec = (time_t)(ms / 1000);
	int milli = (int)(ms % 1000);
	struct tm tm;

	if (milli < 0) {
		milli += 1000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	snprintf(out, JS_TIME_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, milli);
}

int
js_time_parse(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *p;
	int milli = 0, n;

	memset(&tm, 0, sizeof tm);
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		p++;
		for (n = 0; n < 3; n++) {
			if (!isdigit((unsigned char)*p))
				return -1;
			milli = milli * 10 + (*p++ - '0');
		}
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000 + milli;
	return 0;
}

int
js_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parses leading decimal digits into *v without overflow; returns the
 * position after them, or NULL if none or too large. */
static const char *
parse_digits(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
		p++;
	}
	if (p == s)
		return NULL;
	*v = n;
	return p;
}

int
js_parse_duration_ms(const char *s, int64_t *ms)
{
	static const struct { const char *u; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "w", 604800000ULL }, { "d", 86400000ULL },
		{ "h", 3600000ULL }, { "m", 60000ULL }, { "s", 1000ULL },
	};
	uint64_t v, total = 0, last = UINT64_MAX;
	const char *p;
	size_t i, ul;

	if (s == NULL || (p = parse_digits(s, &v)) == NULL)
		return -1;
	if (*p == '\0') {	/* a bare number: seconds */
		if (v > (uint64_t)INT64_MAX / 1000)
			return -1;
		*ms = (int64_t)(v * 1000);
		return 0;
	}
	/* one or more NUMBER UNIT, largest unit first: "1h30m", "1m30s" */
	for (;;) {
		for (i = 0; i < sizeof units / sizeof units[0]; i++) {
			ul = strlen(units[i].u);
			if (strncmp(p, units[i].u, ul) == 0)
				break;
		}
		if (i == sizeof units / sizeof units[0] || units[i].ms >= last)
			return -1;
		last = units[i].ms;
		if (v > ((uint64_t)INT64_MAX - total) / units[i].ms)
			return -1;
		total += v * units[i].ms;
		p += ul;
		if (*p == '\0')
			break;
		if ((p = parse_digits(p, &v)) == NULL)
			return -1;
	}
	*ms = (int64_t)total;
	return 0;
}

const char *
js_duration_format(int64_t ms, char out[JS_DURATION_SIZE])
{
	const char *sign = ms < 0 ? "-" : "";
	unsigned long long v = ms < 0 ? -(uint64_t)ms : (uint64_t)ms;
	unsigned long long s = v / 1000;

	if (v < 1000)
		snprintf(out, JS_DURATION_SIZE, "%s%llums", sign, v);
	else if (v < 60000)	/* tenths, rounded down: 59.96 s is "59.9s" */
		snprintf(out, JS_DURATION_SIZE, "%s%llu.%llus", sign, s,
		    v % 1000 / 100);
	else if (s < 3600)
		snprintf(out, JS_DURATION_SIZE, "%s%llum%02llus", sign, s / 60,
		    s % 60);
	else if (s < 86400)
		snprintf(out, JS_DURATION_SIZE, "%s%lluh%02llum", sign, s / 3600,
		    s % 3600 / 60);
	else
		snprintf(out, JS_DURATION_SIZE, "%s%llud%02lluh", sign, s / 86400,
		    s % 86400 / 3600);
	return out;
}

int
js_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v, mult = 1;
	const char *p;

	if (s == NULL || (p = parse_digits(s, &v)) == NULL)
		return -1;
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': mult = 1ULL << 10; p++; break;
	case 'M': mult = 1ULL << 20; p++; break;
	case 'G': mult = 1ULL << 30; p++; break;
	case 'T': mult = 1ULL << 40; p++; break;
	case 'B': break;
	default: return -1;	/* "m" (milli?), "g", "t": not a size */
	}
	/* "KiB" is binary, as is a bare "K"; "KB" (kilo or kibi?) and "Kb"
	 * (bits) are ambiguous and refused */
	if (mult > 1 && p[0] == 'i' && p[1] == 'B')
		p += 2;
	else if (mult == 1 && *p == 'B')
		p++;
	if (*p != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*bytes = v * mult;
	return 0;
}

/* Reads the start time out of a /proc/<pid>/stat at path: only open,
 * read and close, no allocation and no locale (js_proc_self_start_time
 * runs between vfork and exec). */
static int
stat_start_time(const char *path, unsigned long long *start)
{
	char buf[1024];
	unsigned long long v;
	ssize_t n, i;
	int fd, field, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, sizeof buf);
	while (n < 0 && errno == EINTR);
	rc = close(fd);
	if (n < 0 || rc < 0)
		return -1;
	/* the command name may contain spaces and ')': after the last ')'
	 * come " " and field 3 (state); start time is field 22 */
	for (i = n - 1; i >= 0 && buf[i] != ')'; i--)
		;
	if (i < 0) {
		errno = n == 0 ? EIO : EINVAL;
		return -1;
	}
	for (field = 2; field < 22 && i < n; i++)
		if (buf[i] == ' ')
			field++;
	if (field < 22 || i >= n || buf[i] < '0' || buf[i] > '9') {
		errno = EINVAL;
		return -1;
	}
	for (v = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (unsigned long long)(buf[i] - '0');
	*start = v;
	return 0;
}

int
js_proc_start_time(int pid, unsigned long long *start)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	return stat_start_time(path, start);
}

int
js_proc_self_start_time(unsigned long long *start)
{
	return stat_start_time("/proc/self/stat", start);
}

const char *
js_netfs_type_name(unsigned long f_type)
{
	/* linux/magic.h and the filesystems' own sources */
	static const struct { unsigned long magic; const char *name; } nets[] = {
		{ 0x6969UL, "nfs" }, { 0x517BUL, "smb" },
		{ 0xFF534D42UL, "cifs" }, { 0xFE534D42UL, "smb2" },
		{ 0x65735546UL, "fuse" }, { 0x5346414FUL, "afs" },
		{ 0x6B414653UL, "afs" }, { 0x00C36400UL, "ceph" },
		{ 0x01021997UL, "9p" }, { 0x01161970UL, "gfs2" },
		{ 0x7461636FUL, "ocfs2" }, { 0x0BD00BD0UL, "lustre" },
		{ 0x73757245UL, "coda" }, { 0x564CUL, "ncp" },
		{ 0x47504653UL, "gpfs" }, { 0xAAD7AAEAUL, "panfs" },
		{ 0x013111A8UL, "ibrix" },
	};
	size_t i;

	for (i = 0; i < sizeof nets / sizeof nets[0]; i++)
		if ((f_type & 0xFFFFFFFFUL) == nets[i].magic)
			return nets[i].name;
	return NULL;
}

const char *
js_netfs_name(int fd)
{
	struct statfs st;

	if (fstatfs(fd, &st) < 0)
		return NULL;
	return js_netfs_type_name((unsigned long)st.f_type);
}

void
js_hostname(char *out, size_t size)
{
	if (gethostname(out, size) < 0 || out[0] == '\0')
		snprintf(out, size, "localhost");
	out[size - 1] = '\0';
}

int
js_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void *
js_read_ptr(int fd)
{
	void *ptr;
	ssize_t n;

	do
		n = read(fd, &ptr, sizeof ptr);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof ptr)
		return ptr;
	if (n >= 0)
		errno = n == 0 ? EPIPE : EIO;
	return NULL;
}

void
js_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
