/*
 * config.h - one configuration mechanism for every jobspool program.
 *
 * A program describes its settings in an array of struct js_opt.  Each
 * setting NAME (e.g. "lease", "read-timeout") is, in increasing precedence:
 *   - its default (js_opt.def),
 *   - a line "NAME = VALUE" in the config file (--config FILE or
 *     JOBSPOOL_CONFIG; '-' and '_' are interchangeable, '#' starts a comment),
 *   - the environment variable JOBSPOOL_NAME (upper case, '-' -> '_'),
 *   - the command-line flag --NAME VALUE / --NAME=VALUE (or its short flag
 *     -X VALUE / -XVALUE; short flags without value may be bundled, -nw;
 *     "--" ends the options), read with getopt_long.
 * A list setting (JS_OPT_LIST, e.g. "token") collects every occurrence from
 * the highest-precedence source that has any; in the environment it is
 * comma-separated.  --help, --version and --config are handled here.
 */
#ifndef JS_CONFIG_H
#define JS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum js_opt_type {
	JS_OPT_STR,		/* any string */
	JS_OPT_INT,		/* integer in [min, max] */
	JS_OPT_DURATION,	/* "90", "90s", "15m", "1h30m", "7d", "1w" -> num in ms */
	JS_OPT_SIZE,		/* "512", "64K", "1M", "1MiB" -> num in bytes */
	JS_OPT_BOOL,		/* flag without argument; "yes/no/1/0/true/false/on/off" elsewhere */
	JS_OPT_LIST,		/* repeatable string */
};

struct js_opt {
	const char *name;	/* long flag, config key, env suffix */
	int short_flag;		/* 0 for none */
	enum js_opt_type type;
	const char *def;	/* default as text, or NULL */
	const char *metavar;	/* shown in --help */
	const char *help;	/* one line for --help */
	long long min, max;	/* bounds for INT, DURATION (ms) and SIZE
				 * (bytes); ignored if both 0 */
	/* Optional further check of a value from any source (default, file,
	 * environment, flag): 0, or -1 with what was expected in why
	 * ("expected local or slurm"); the error names the source. */
	int (*check)(const char *v, char *why, size_t whylen);
	int secret;		/* 1: an error does not repeat the value */
	/* filled by js_config_parse: */
	char *str;		/* the value as text (NULL if unset), owned */
	long long num;		/* INT, DURATION (ms), SIZE (bytes), BOOL (0/1) */
	char **list;		/* JS_OPT_LIST values, owned */
	size_t nlist;
	int given;		/* 0 default, 1 file, 2 environment, 3 flag */
	char *where;		/* "option --lease", "environment JOBSPOOL_LEASE",
				 * "FILE:LINE" (NULL: default), owned */
};

enum { JS_CONFIG_OK = 0, JS_CONFIG_ERROR = -1, JS_CONFIG_HELP = 1,
       JS_CONFIG_VERSION = 2 };

/*
 * Fills opts[0..n-1] from defaults, file, environment and argv, in that
 * order of precedence.  Returns JS_CONFIG_OK, JS_CONFIG_HELP or
 * JS_CONFIG_VERSION (the caller prints), or JS_CONFIG_ERROR with a message
 * naming the bad flag, key or value in err.  Extra positional arguments are
 * an error.  May be called again (SIGHUP reload): previous values are freed.
 * Not thread-safe against readers of opts: reload into a fresh copy.
 */
int js_config_parse(struct js_opt *opts, size_t n, int argc, char *const argv[],
    char *err, size_t errlen);
/* Frees what js_config_parse stored in opts. */
void js_config_free(struct js_opt *opts, size_t n);
/* Looks up an option by name; NULL if none (a programming error). */
struct js_opt *js_config_get(struct js_opt *opts, size_t n, const char *name);
/* Where o's value came from: "option -j", "option --jobs",
 * "environment JOBSPOOL_JOBS", "/etc/jobspool.conf:3" or "default". */
const char *js_config_where(const struct js_opt *o);
/* For a check the table cannot express (a value against another one, a
 * file that must exist): writes "WHERE: bad value 'V' for NAME: WHY" (WHY
 * from fmt) into err and returns -1. */
int js_config_bad(const struct js_opt *o, char *err, size_t errlen,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Checks for js_opt.check: a value that is not empty; "" or an absolute
 * path. */
int js_check_nonempty(const char *v, char *why, size_t whylen);
int js_check_abs_path(const char *v, char *why, size_t whylen);

/* Prints "usage: PROG [options]", the summary and one line per option,
 * including --config, --help and --version. */
void js_config_usage(FILE *fp, const char *prog, const char *summary,
    const struct js_opt *opts, size_t n);

#endif
