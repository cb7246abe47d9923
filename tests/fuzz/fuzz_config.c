/* libFuzzer harness: the configuration file parser and argv parser.  The
 * input is split at the first NUL: before it a config file, after it argv
 * words separated by newlines. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct js_opt template[] = {
	{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR, .def = "./spool", .help = "" },
	{ .name = "jobs", .short_flag = 'j', .type = JS_OPT_INT, .def = "2", .min = 1, .max = 64, .help = "" },
	{ .name = "lease", .type = JS_OPT_DURATION, .def = "60s", .help = "" },
	{ .name = "max-body", .type = JS_OPT_SIZE, .def = "1M", .help = "" },
	{ .name = "dry-run", .type = JS_OPT_BOOL, .def = "no", .help = "" },
	{ .name = "token", .type = JS_OPT_LIST, .help = "" },
};
#define N (sizeof template / sizeof template[0])

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct js_opt opts[N];
	char path[] = "/tmp/jobspool-fuzz-conf.XXXXXX", err[512];
	char *copy, *argv[34], *p, *save = NULL;
	const uint8_t *nul = memchr(data, 0, size);
	size_t flen = nul ? (size_t)(nul - data) : size;
	int fd, argc = 0;

	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (write(fd, data, flen) != (ssize_t)flen) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	copy = calloc(1, size - flen + 1);
	if (copy == NULL) {
		unlink(path);
		return 0;
	}
	if (nul)
		memcpy(copy, nul + 1, size - flen - 1);
	argv[argc++] = "prog";
	argv[argc++] = "--config";
	argv[argc++] = path;
	for (p = strtok_r(copy, "\n", &save); p && argc < 33;
	    p = strtok_r(NULL, "\n", &save))
		argv[argc++] = p;
	argv[argc] = NULL;
	memcpy(opts, template, sizeof opts);
	(void)js_config_parse(opts, N, argc, argv, err, sizeof err);
	js_config_free(opts, N);
	free(copy);
	unlink(path);
	return 0;
}
