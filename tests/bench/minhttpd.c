/*
 * minhttpd - the reference HTTP server of the benchmark: libmicrohttpd with
 * the apiserver's thread model (one thread per connection plus the listening
 * thread), on 127.0.0.1:PORT (0: any free port; the chosen one is printed
 * as "listening on http://127.0.0.1:PORT" on stderr).
 *
 *   get      answers every request with a fixed 200-byte JSON object
 *   write    the same, and for every POST first does one durable write of
 *            the body (DIR/tmp/<uuid>, fsync, rename to DIR/<uuid>.pending,
 *            fsync DIR) and answers 201
 *
 * Runs until SIGTERM or SIGINT.
 * usage: minhttpd PORT get | minhttpd PORT write DIR
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include <microhttpd.h>

#include "common.h"

static char answer[201];
static int dirfd_ = -1, tmpfd = -1;

struct body {
	char *p;
	size_t len, cap;
};

/* One durable write; 0 or -1. */
static int
durable_write(const char *data, size_t len)
{
	uuid_t uu;
	char id[40], name[64];
	int fd;

	uuid_generate_random(uu);
	uuid_unparse_lower(uu, id);
	fd = openat(tmpfd, id, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		unlinkat(tmpfd, id, 0);
		return -1;
	}
	if (close(fd) != 0)
		return -1;
	snprintf(name, sizeof name, "%s.pending", id);
	if (renameat(tmpfd, id, dirfd_, name) != 0)
		return -1;
	return fsync(dirfd_);
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    sizeof answer - 1, answer, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)url;
	(void)version;
	if (strcmp(method, "POST") != 0 || dirfd_ < 0) {
		if (b == NULL) {
			/* answer on the second call, as the apiserver does (an
			 * answer in the first one makes MHD close the
			 * connection); the get server ignores bodies */
			*con_cls = (void *)1;
			return MHD_YES;
		}
		if (*upload_size > 0) {
			*upload_size = 0;
			return MHD_YES;
		}
		return reply(c, MHD_HTTP_OK);
	}
	if (b == NULL) {
		b = calloc(1, sizeof *b);
		if (b == NULL)
			return MHD_NO;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (b->len + *upload_size > b->cap) {
			size_t cap = (b->len + *upload_size) * 2;
			char *p = realloc(b->p, cap);

			if (p == NULL)
				return MHD_NO;
			b->p = p;
			b->cap = cap;
		}
		memcpy(b->p + b->len, upload, *upload_size);
		b->len += *upload_size;
		*upload_size = 0;
		return MHD_YES;
	}
	if (durable_write(b->p != NULL ? b->p : "", b->len) != 0)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR);
	return reply(c, MHD_HTTP_CREATED);
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (b != NULL && b != (void *)1) {
		free(b->p);
		free(b);
	}
	*con_cls = NULL;
}

int
main(int argc, char *argv[])
{
	const char *u = "PORT get | PORT write DIR";
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	int sig;
	uint16_t port;
	size_t i;

	bench_prog = "minhttpd";
	if (argc < 3)
		usage(u);
	port = (uint16_t)num(argv[1], "port");
	if (strcmp(argv[2], "write") == 0) {
		if (argc != 4)
			usage(u);
		dirfd_ = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dirfd_ < 0)
			die("open %s:", argv[3]);
		if (mkdirat(dirfd_, "tmp", 0770) != 0 && errno != EEXIST)
			die("mkdir %s/tmp:", argv[3]);
		tmpfd = openat(dirfd_, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tmpfd < 0)
			die("open %s/tmp:", argv[3]);
	} else if (strcmp(argv[2], "get") != 0 || argc != 3)
		usage(u);
	/* a 200-byte JSON object, like a small job */
	snprintf(answer, sizeof answer, "{\"id\":\"00000000-0000-4000-8000-000000000000\","
	    "\"status\":\"completed\",\"name\":\"bench\",\"pad\":\"");
	for (i = strlen(answer); i < sizeof answer - 3; i++)
		answer[i] = 'x';
	answer[sizeof answer - 3] = '"';
	answer[sizeof answer - 2] = '}';
	answer[sizeof answer - 1] = '\0';

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		die("sigmask");
	struct sockaddr_in sa = { .sin_family = AF_INET };

	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, port,
	    NULL, NULL,
	    handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
	if (d == NULL)
		die("cannot start the server on 127.0.0.1:%u", port);
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "minhttpd: listening on http://127.0.0.1:%u\n",
	    info != NULL ? info->port : port);
	sigdelset(&set, SIGPIPE);
	while (sigwait(&set, &sig) != 0)
		;
	MHD_stop_daemon(d);
	return 0;
}
