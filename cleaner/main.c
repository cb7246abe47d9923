/* jobspool-cleaner - placeholder main: parses its flags (being built). */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "spool.h"

static struct js_opt opts[] = {
	{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR, .def = "./spool",
	  .metavar = "DIR", .help = "spool directory" },
};
#define NOPTS (sizeof opts / sizeof opts[0])

int
main(int argc, char *argv[])
{
	char err[512];
	int rc = js_config_parse(opts, NOPTS, argc, argv, err, sizeof err);

	if (rc == JS_CONFIG_HELP) {
		js_config_usage(stdout, "jobspool-cleaner", "jobspool cleaner", opts, NOPTS);
		return 0;
	}
	if (rc == JS_CONFIG_VERSION) {
		printf("jobspool-cleaner %s\n", JS_VERSION);
		return 0;
	}
	if (rc != JS_CONFIG_OK) {
		fprintf(stderr, "jobspool-cleaner: %s\n", err);
		return 2;
	}
	js_config_free(opts, NOPTS);
	return 0;
}
