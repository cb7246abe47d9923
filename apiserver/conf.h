/*
 * conf.h - the settings of jobspool-apiserver (conf.c): the option table
 * (command line, environment, defaults), what is checked before start-up
 * (the listening address, tokens, TLS files), and the part SIGHUP reloads
 * (struct api_conf in api.h).
 */
#ifndef JS_CONF_H
#define JS_CONF_H

#include <stdio.h>
#include <sys/socket.h>

#include "api.h"
#include "config.h"

struct listen_addr {
	struct sockaddr_storage ss;
	int v6;
	int loopback;
	char host[96];		/* for messages: "127.0.0.1", "[::1]" */
};

struct settings {
	struct js_opt *o;	/* the parsed option table */
	int argc;		/* the command line, read again on reload */
	char **argv;
	const char *spool;
	const char *listen;	/* as given */
	struct listen_addr la;
	unsigned max_connections;
	const char *access_log;	/* --access-log: NULL or "" off, "-" stderr */
	int tls;
	char *cert, *key, *ca;	/* PEM texts (NULL without TLS / client CA) */
	struct api_conf *conf;	/* the reloadable settings; whoever takes
				 * it sets this to NULL */
};

enum { SETTINGS_RUN, SETTINGS_HELP, SETTINGS_VERSION, SETTINGS_BAD,
       SETTINGS_MINT };

/* Reads the settings from argv and the environment into s and opens the
 * log: SETTINGS_RUN; SETTINGS_HELP or SETTINGS_VERSION (asked for);
 * SETTINGS_BAD with the reason in err (a usage error: exit status 2);
 * SETTINGS_MINT: --mint-token was given (settings_mint, nothing listens).
 * In every case settings_free(s) afterwards. */
int settings_load(struct settings *s, int argc, char *argv[], char *err,
    size_t errlen);
void settings_usage(FILE *fp, const struct settings *s);
/* SETTINGS_MINT (--mint-token): the JWT asked for, signed with the first
 * secret of --jwt-secret-file, lifetime --ttl (default --jwt-ttl), a
 * fresh jti: malloc'ed, or NULL with err. */
char *settings_mint(const struct settings *s, char *err, size_t errlen);
void settings_free(struct settings *s);
/* SIGHUP: the command line and environment read again into new reloadable
 * settings, and the log level applied; NULL with err (nothing changed). */
struct api_conf *settings_reload(const struct settings *s, char *err,
    size_t errlen);

#endif
