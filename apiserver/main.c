/*
 * jobspool-apiserver - takes jobs over HTTP and writes them into the spool
 * (man 8 jobspool-apiserver).  This file: the program, which reads its
 * settings (conf.c) and runs the server (server.c) until SIGTERM.  See
 * api.h for the other pieces.
 */
#include <stdio.h>
#include <stdlib.h>

#include "api.h"
#include "conf.h"
#include "server.h"

/* --mint-token: the token on stdout. */
static int
mint(const struct settings *s)
{
	char err[512], *tok = settings_mint(s, err, sizeof err);

	if (tok == NULL) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return 2;
	}
	printf("%s\n", tok);
	free(tok);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct settings s;
	char err[512];
	int status;

	switch (settings_load(&s, argc, argv, err, sizeof err)) {
	case SETTINGS_HELP:
		settings_usage(stdout, &s);
		status = 0;
		break;
	case SETTINGS_VERSION:
		printf("%s %s\n", PROG, JS_VERSION);
		status = 0;
		break;
	case SETTINGS_BAD:
		fprintf(stderr, "%s: %s\n", PROG, err);
		status = 2;
		break;
	case SETTINGS_MINT:
		status = mint(&s);
		break;
	default:
		status = server_run(&s) < 0 ? 1 : 0;
		break;
	}
	settings_free(&s);
	return status;
}
