/*
 * genspool - fills a spool quickly for the scale scenarios: N finished jobs
 * <uuid>.EXT (EXT: completed, failed, cancelled or retrieved), each a
 * realistic stored job of ~600 bytes, with an mtime AGE seconds in the
 * past, and with LOGS=1 a 40-byte <uuid>.log beside each.  No fsync: this
 * is set-up, not a measurement.
 *
 * usage: genspool DIR N EXT [AGE [LOGS]]
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "common.h"

static void
put(int dfd, const char *name, const char *data, size_t len,
    const struct timespec tv[2])
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);

	if (fd < 0)
		die("create %s:", name);
	if (write(fd, data, len) != (ssize_t)len)
		die("write %s:", name);
	if (futimens(fd, tv) != 0)
		die("futimens %s:", name);
	if (close(fd) != 0)
		die("close %s:", name);
}

int
main(int argc, char *argv[])
{
	const char *u = "DIR N EXT [AGE [LOGS]]";
	long long n, age = 0, logs = 0, i;
	const char *ext, *status;
	struct timespec tv[2];
	char id[40], name[64], body[2048];
	int dfd, len;
	time_t t;
	struct tm tm;
	char when[32];

	bench_prog = "genspool";
	if (argc < 4 || argc > 6)
		usage(u);
	n = num(argv[2], "count");
	ext = argv[3];
	if (argc > 4)
		age = num(argv[4], "age");
	if (argc > 5)
		logs = num(argv[5], "logs");
	if (strcmp(ext, "completed") == 0 || strcmp(ext, "retrieved") == 0)
		status = "completed";
	else if (strcmp(ext, "failed") == 0 || strcmp(ext, "cancelled") == 0)
		status = ext;
	else
		usage(u);
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die("open %s:", argv[1]);
	if (clock_gettime(CLOCK_REALTIME, &tv[0]) != 0)
		die("clock_gettime:");
	tv[0].tv_sec -= (time_t)age;
	tv[1] = tv[0];
	t = tv[0].tv_sec;
	if (gmtime_r(&t, &tm) == NULL)
		die("gmtime");
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	for (i = 0; i < n; i++) {
		uuid_t uu;

		uuid_generate_random(uu);
		uuid_unparse_lower(uu, id);
		len = snprintf(body, sizeof body,
		    "{\"command\":[\"/bin/true\"],\"name\":\"bench-%lld\","
		    "\"priority\":0,\"id\":\"%s\",\"status\":\"%s\","
		    "\"created_at\":\"%s\",\"updated_at\":\"%s\","
		    "\"started_at\":\"%s\",\"finished_at\":\"%s\","
		    "\"retrieved_at\":%s%s%s,\"attempts\":1,\"max_attempts\":3,"
		    "\"exit_code\":0,\"signal\":null,\"error\":null,"
		    "\"result\":null,\"batch\":null,\"owner\":\"bench\","
		    "\"worker\":\"bench:1\",\"generation\":1,\"seq\":%lld,"
		    "\"log_size\":40,\"log_sha256\":\"%064d\"}\n",
		    i, id, status, when, when, when, when,
		    strcmp(ext, "retrieved") == 0 ? "\"" : "",
		    strcmp(ext, "retrieved") == 0 ? when : "null",
		    strcmp(ext, "retrieved") == 0 ? "\"" : "",
		    (long long)tv[0].tv_sec * 1000000000LL + i, 0);
		if (len < 0 || (size_t)len >= sizeof body)
			die("job too long");
		snprintf(name, sizeof name, "%s.%s", id, ext);
		put(dfd, name, body, (size_t)len, tv);
		if (logs) {
			snprintf(name, sizeof name, "%s.log", id);
			put(dfd, name, "a line of output from a finished job...\n",
			    40, tv);
		}
	}
	if (close(dfd) != 0)
		die("close:");
	return 0;
}
