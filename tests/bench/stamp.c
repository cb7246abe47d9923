/*
 * stamp - the job used by the latency scenarios: appends "SEQ NS" (its start
 * time, CLOCK_REALTIME nanoseconds) to FILE, then exits.  Linked statically
 * when possible so that process start-up is as short as it gets.
 *
 * usage: stamp FILE SEQ
 */
#include <fcntl.h>
#include <unistd.h>

#include "common.h"

int
main(int argc, char *argv[])
{
	int64_t t = now_ns(CLOCK_REALTIME);
	char line[96];
	int fd, len;

	bench_prog = "stamp";
	if (argc != 3)
		usage("FILE SEQ");
	len = snprintf(line, sizeof line, "%s %lld\n", argv[2], (long long)t);
	if (len < 0 || (size_t)len >= sizeof line)
		die("sequence too long");
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		die("open %s:", argv[1]);
	if (write(fd, line, (size_t)len) != len)
		die("write %s:", argv[1]);
	if (close(fd) != 0)
		die("close %s:", argv[1]);
	return 0;
}
