/* config.c - see config.h */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"

enum { SRC_DEFAULT = 0, SRC_FILE = 1, SRC_ENV = 2, SRC_FLAG = 3 };

/* Compares option names treating '-' and '_' alike; len bytes of key. */
static int
name_eq(const char *name, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char a = name[i], b = key[i];
		if (a == '\0')
			return 0;
		if (a == '_')
			a = '-';
		if (b == '_')
			b = '-';
		if (tolower((unsigned char)a) != tolower((unsigned char)b))
			return 0;
	}
	return name[len] == '\0';
}

static struct js_opt *
find_opt(struct js_opt *opts, size_t n, const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (name_eq(opts[i].name, key, len))
			return &opts[i];
	return NULL;
}

struct js_opt *
js_config_get(struct js_opt *opts, size_t n, const char *name)
{
	return find_opt(opts, n, name, strlen(name));
}

static void
clear_list(struct js_opt *o)
{
	size_t i;

	for (i = 0; i < o->nlist; i++)
		free(o->list[i]);
	free(o->list);
	o->list = NULL;
	o->nlist = 0;
}

void
js_config_free(struct js_opt *opts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(opts[i].str);
		opts[i].str = NULL;
		free(opts[i].where);
		opts[i].where = NULL;
		clear_list(&opts[i]);
		opts[i].num = 0;
		opts[i].given = SRC_DEFAULT;
	}
}

static int
parse_bool(const char *v, long long *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* "1s", "250ms", "1d" for a bound in milliseconds (accepted as input). */
static void
fmt_bound_ms(long long ms, char *out, size_t len)
{
	static const struct { const char *u; long long ms; } units[] = {
		{ "w", 604800000LL }, { "d", 86400000LL }, { "h", 3600000LL },
		{ "m", 60000LL }, { "s", 1000LL },
	};
	size_t i;

	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(out, len, "%lld%s", ms / units[i].ms, units[i].u);
			return;
		}
	snprintf(out, len, ms == 0 ? "0s" : "%lldms", ms);
}

/* "4K", "1M" for a bound in bytes (accepted as input). */
static void
fmt_bound_bytes(long long b, char *out, size_t len)
{
	static const char units[] = "TGMK";
	int i;

	for (i = 0; i < 4; i++) {
		long long m = 1LL << (10 * (4 - i));
		if (b != 0 && b % m == 0) {
			snprintf(out, len, "%lld%c", b / m, units[i]);
			return;
		}
	}
	snprintf(out, len, "%lld", b);
}

/* Writes "WHERE: bad value 'V' for NAME: WHY". */
static int
bad_value(const struct js_opt *o, const char *v, const char *where,
    char *err, size_t errlen, const char *why)
{
	if (o->secret)
		js_errf(err, errlen, "%s: bad value for %s: %s", where, o->name,
		    why);
	else
		js_errf(err, errlen, "%s: bad value '%s' for %s: %s", where, v,
		    o->name, why);
	return -1;
}

/* Checks num against o's bounds (if any); 0, or -1 with why. */
static int
check_bounds(const struct js_opt *o, long long num, char *why, size_t len)
{
	char lo[32], hi[32];

	if (!(o->min || o->max) || (num >= o->min && num <= o->max))
		return 0;
	if (o->type == JS_OPT_DURATION) {
		fmt_bound_ms(o->min, lo, sizeof lo);
		fmt_bound_ms(o->max, hi, sizeof hi);
		snprintf(why, len, "expected a duration from %s to %s", lo, hi);
	} else {
		fmt_bound_bytes(o->min, lo, sizeof lo);
		fmt_bound_bytes(o->max, hi, sizeof hi);
		snprintf(why, len, "expected a size from %s to %s", lo, hi);
	}
	return -1;
}

/* Parses v as o's type into *num (0 for strings and lists) and runs o's
 * check; on error fills err (naming where) and returns -1. */
static int
parse_value(const struct js_opt *o, const char *v, const char *where,
    long long *num_out, char *err, size_t errlen)
{
	long long num = 0;
	int64_t ms;
	uint64_t bytes;
	char why[256];

	switch (o->type) {
	case JS_OPT_INT:
		if (js_parse_int(v, (o->min || o->max) ? o->min : LLONG_MIN,
		    (o->min || o->max) ? o->max : LLONG_MAX, &num) < 0) {
			if (o->min || o->max)
				snprintf(why, sizeof why, "expected an integer "
				    "from %lld to %lld", o->min, o->max);
			else
				snprintf(why, sizeof why, "expected an integer");
			return bad_value(o, v, where, err, errlen, why);
		}
		break;
	case JS_OPT_DURATION:
		if (js_parse_duration_ms(v, &ms) < 0)
			return bad_value(o, v, where, err, errlen, "expected a "
			    "duration such as 90, 90s, 15m, 1h30m, 7d or 1w");
		num = ms;
		if (check_bounds(o, num, why, sizeof why) < 0)
			return bad_value(o, v, where, err, errlen, why);
		break;
	case JS_OPT_SIZE:
		if (js_parse_size(v, &bytes) < 0 || bytes > (uint64_t)LLONG_MAX)
			return bad_value(o, v, where, err, errlen, "expected a "
			    "size such as 1048576, 64K, 1M or 2G (powers of "
			    "1024; also 64KiB)");
		num = (long long)bytes;
		if (check_bounds(o, num, why, sizeof why) < 0)
			return bad_value(o, v, where, err, errlen, why);
		break;
	case JS_OPT_BOOL:
		if (parse_bool(v, &num) < 0)
			return bad_value(o, v, where, err, errlen,
			    "expected yes or no");
		break;
	case JS_OPT_STR:
	case JS_OPT_LIST:
		break;
	}
	if (o->check != NULL) {
		why[0] = '\0';
		if (o->check(v, why, sizeof why) < 0)
			return bad_value(o, v, where, err, errlen,
			    why[0] ? why : "not accepted");
	}
	*num_out = num;
	return 0;
}

/* Validates v for o and stores it, if src is at least o's current source.
 * where describes the source for error messages. */
static int
set_value(struct js_opt *o, const char *v, int src, const char *where,
    char *err, size_t errlen)
{
	long long num;
	char *copy, *wcopy;

	if (parse_value(o, v, where, &num, err, errlen) < 0)
		return -1;
	if (src < o->given)
		return 0;
	copy = strdup(v);
	wcopy = strdup(where);
	if (copy == NULL || wcopy == NULL) {
		free(copy);
		free(wcopy);
		js_errf(err, errlen, "out of memory");
		return -1;
	}
	free(o->where);
	o->where = wcopy;
	if (o->type == JS_OPT_LIST) {
		char **nl;
		if (src > o->given)
			clear_list(o);
		nl = realloc(o->list, (o->nlist + 1) * sizeof *nl);
		if (nl == NULL) {
			free(copy);
			js_errf(err, errlen, "out of memory");
			return -1;
		}
		o->list = nl;
		o->list[o->nlist++] = copy;
		o->given = src;
		return 0;
	}
	free(o->str);
	o->str = copy;
	o->num = num;
	o->given = src;
	return 0;
}

const char *
js_config_where(const struct js_opt *o)
{
	return o->where != NULL ? o->where : "default";
}

int
js_config_bad(const struct js_opt *o, char *err, size_t errlen,
    const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return bad_value(o, o->str != NULL ? o->str : "", js_config_where(o),
	    err, errlen, why);
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
load_file(struct js_opt *opts, size_t n, const char *path, char *err,
    size_t errlen)
{
	FILE *fp;
	char *line = NULL, where[512];
	size_t cap = 0, lineno = 0;
	int rc = 0;

	fp = fopen(path, "re");
	if (fp == NULL) {
		js_errf(err, errlen, "cannot open config file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, fp) != -1) {
		char *p, *eq, *key, *val;
		struct js_opt *o;

		lineno++;
		p = line;
		if ((eq = strchr(p, '#')) != NULL)
			*eq = '\0';
		p = trim(p);
		if (*p == '\0')
			continue;
		snprintf(where, sizeof where, "%s:%zu", path, lineno);
		eq = strchr(p, '=');
		if (eq == NULL) {
			js_errf(err, errlen, "%s: expected 'key = value'", where);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		o = find_opt(opts, n, key, strlen(key));
		if (o == NULL) {
			js_errf(err, errlen, "%s: unknown setting '%s'", where, key);
			rc = -1;
			break;
		}
		if (set_value(o, val, SRC_FILE, where, err, errlen) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		js_errf(err, errlen, "cannot read config file %s", path);
		rc = -1;
	}
	free(line);
	fclose(fp);
	return rc;
}

static int
load_env(struct js_opt *opts, size_t n, char *err, size_t errlen)
{
	char var[128], where[160];
	size_t i, j;

	for (i = 0; i < n; i++) {
		const char *v;

		snprintf(var, sizeof var, "JOBSPOOL_%s", opts[i].name);
		for (j = 9; var[j] != '\0'; j++)
			var[j] = var[j] == '-' ? '_' : (char)toupper((unsigned char)var[j]);
		/* JOBSPOOL_TOKENS is the documented plural of "token" */
		if (opts[i].type == JS_OPT_LIST && getenv(var) == NULL)
			strncat(var, "S", sizeof var - strlen(var) - 1);
		v = getenv(var);
		if (v == NULL)
			continue;
		snprintf(where, sizeof where, "environment %s", var);
		if (opts[i].type == JS_OPT_LIST) {
			char *copy = strdup(v), *tok, *save = NULL;
			if (copy == NULL) {
				js_errf(err, errlen, "out of memory");
				return -1;
			}
			for (tok = strtok_r(copy, ",", &save); tok != NULL;
			    tok = strtok_r(NULL, ",", &save)) {
				tok = trim(tok);
				if (*tok == '\0')
					continue;
				if (set_value(&opts[i], tok, SRC_ENV, where, err,
				    errlen) < 0) {
					free(copy);
					return -1;
				}
			}
			free(copy);
		} else if (set_value(&opts[i], v, SRC_ENV, where, err, errlen) < 0) {
			return -1;
		}
	}
	return 0;
}

/* One flag from the command line, applied after the file and environment. */
struct flag {
	struct js_opt *o;
	const char *val;
	char spelled[80];	/* "-j" or "--jobs", for messages */
};

enum { VAL_CONFIG = 256, VAL_OPT0 = 512 };

/* The getopt_long tables for opts: *lo (n + 4 entries, the last zero) and
 * *shorts, both malloc'd.  -1 if out of memory. */
static int
getopt_tables(const struct js_opt *opts, size_t n, struct option **lo_out,
    char **shorts_out)
{
	struct option *lo = calloc(n + 4, sizeof *lo);
	char *shorts = malloc(2 * n + 8), *sp;
	size_t i;

	if (lo == NULL || shorts == NULL) {
		free(lo);
		free(shorts);
		return -1;
	}
	/* '+': stop at the first non-option (no argv permutation);
	 * ':': report a missing value as ':' */
	sp = shorts;
	*sp++ = '+';
	*sp++ = ':';
	*sp++ = 'h';
	*sp++ = 'V';
	for (i = 0; i < n; i++) {
		lo[i].name = opts[i].name;
		lo[i].has_arg = opts[i].type == JS_OPT_BOOL ? optional_argument :
		    required_argument;
		lo[i].val = VAL_OPT0 + (int)i;
		if (opts[i].short_flag > 0 && opts[i].short_flag < 128) {
			*sp++ = (char)opts[i].short_flag;
			if (opts[i].type != JS_OPT_BOOL)
				*sp++ = ':';
		}
	}
	*sp = '\0';
	lo[n].name = "config";
	lo[n].has_arg = required_argument;
	lo[n].val = VAL_CONFIG;
	lo[n + 1].name = "help";
	lo[n + 1].val = 'h';
	lo[n + 2].name = "version";
	lo[n + 2].val = 'V';
	*lo_out = lo;
	*shorts_out = shorts;
	return 0;
}

/* The message for getopt_long's '?' (unknown option or a value where none
 * is taken) or ':' (missing value); arg is the argv word being read. */
static void
getopt_error(int c, const struct js_opt *opts, const char *arg, char *err,
    size_t errlen)
{
	if (c == '?') {
		if (optopt == 'h' || optopt == 'V')
			js_errf(err, errlen, "option --%s takes no value",
			    optopt == 'h' ? "help" : "version");
		else if (optopt >= VAL_OPT0)
			js_errf(err, errlen, "option --%s takes no value",
			    opts[optopt - VAL_OPT0].name);
		else if (optopt > 0)
			js_errf(err, errlen, "unknown option '-%c' (see "
			    "--help)", optopt);
		else
			js_errf(err, errlen, "unknown or ambiguous option "
			    "'%.*s' (see --help)",
			    (int)strcspn(arg, "="), arg);
	} else if (optopt == VAL_CONFIG) {
		js_errf(err, errlen, "option --config needs a value");
	} else if (optopt >= VAL_OPT0) {
		js_errf(err, errlen, "option --%s needs a value",
		    opts[optopt - VAL_OPT0].name);
	} else {
		js_errf(err, errlen, "option -%c needs a value", optopt);
	}
}

/* Reads argv with getopt_long (bundled short flags, --name=value, "--"):
 * fills flags[] (one entry per character of argv at most) and *config.
 * Returns JS_CONFIG_OK, JS_CONFIG_HELP, JS_CONFIG_VERSION or
 * JS_CONFIG_ERROR; --help and --version win over any error before or
 * after them. */
static int
scan_flags(struct js_opt *opts, size_t n, int argc, char *const argv[],
    struct flag *flags, size_t *nflags, const char **config, char *err,
    size_t errlen)
{
	struct option *lo;
	char *shorts;
	size_t i;
	int c, idx, rc = JS_CONFIG_OK, special = JS_CONFIG_OK;

	*nflags = 0;
	if (getopt_tables(opts, n, &lo, &shorts) < 0) {
		js_errf(err, errlen, "out of memory");
		return JS_CONFIG_ERROR;
	}
	opterr = 0;
	optind = 0;	/* glibc: a full reset (a reload parses again) */
	while ((c = getopt_long(argc, argv, shorts, lo, &idx)) != -1) {
		struct js_opt *o = NULL;
		const char *arg = optind > 0 && optind <= argc ?
		    argv[optind - 1] : "";

		if (c == 'h' || c == 'V') {
			if (special == JS_CONFIG_OK)
				special = c == 'h' ? JS_CONFIG_HELP :
				    JS_CONFIG_VERSION;
			continue;
		}
		if (rc != JS_CONFIG_OK)
			continue;	/* keep looking for --help only */
		if (c == '?' || c == ':') {
			getopt_error(c, opts, arg, err, errlen);
			rc = JS_CONFIG_ERROR;
			continue;
		}
		if (c == VAL_CONFIG) {
			*config = optarg;
			continue;
		}
		if (c >= VAL_OPT0) {
			o = &opts[c - VAL_OPT0];
			snprintf(flags[*nflags].spelled,
			    sizeof flags[*nflags].spelled, "--%s", o->name);
		} else {
			for (i = 0; i < n && o == NULL; i++)
				if (opts[i].short_flag == c)
					o = &opts[i];
			if (o == NULL) {	/* cannot happen */
				js_errf(err, errlen, "unknown option '-%c'", c);
				rc = JS_CONFIG_ERROR;
				continue;
			}
			snprintf(flags[*nflags].spelled,
			    sizeof flags[*nflags].spelled, "-%c", c);
		}
		flags[*nflags].o = o;
		flags[*nflags].val = optarg != NULL ? optarg :
		    o->type == JS_OPT_BOOL ? "yes" : "";
		(*nflags)++;
	}
	if (rc == JS_CONFIG_OK && special == JS_CONFIG_OK && optind < argc) {
		js_errf(err, errlen, "unexpected argument '%s' (see --help)",
		    argv[optind]);
		rc = JS_CONFIG_ERROR;
	}
	free(lo);
	free(shorts);
	return special != JS_CONFIG_OK ? special : rc;
}

int
js_config_parse(struct js_opt *opts, size_t n, int argc, char *const argv[],
    char *err, size_t errlen)
{
	struct flag *flags;
	const char *path = NULL;
	char where[128];
	size_t i, nflags = 0;
	int rc;

	js_config_free(opts, n);
	err[0] = '\0';
	for (i = 0; i < n; i++) {
		if (opts[i].def == NULL)
			continue;
		if (set_value(&opts[i], opts[i].def, SRC_DEFAULT, "default",
		    err, errlen) < 0)
			return JS_CONFIG_ERROR;
	}
	/* at most one flag per character ("-nw" is two) */
	for (i = 1, nflags = 1; i < (size_t)(argc > 0 ? argc : 0); i++)
		nflags += strlen(argv[i]);
	flags = calloc(nflags, sizeof *flags);
	if (flags == NULL) {
		js_errf(err, errlen, "out of memory");
		return JS_CONFIG_ERROR;
	}
	rc = scan_flags(opts, n, argc, argv, flags, &nflags, &path, err, errlen);
	if (rc != JS_CONFIG_OK)
		goto out;
	if (path == NULL)
		path = getenv("JOBSPOOL_CONFIG");
	rc = JS_CONFIG_ERROR;
	if (path != NULL && *path != '\0' &&
	    load_file(opts, n, path, err, errlen) < 0)
		goto out;
	if (load_env(opts, n, err, errlen) < 0)
		goto out;
	for (i = 0; i < nflags; i++) {
		snprintf(where, sizeof where, "option %s", flags[i].spelled);
		if (set_value(flags[i].o, flags[i].val, SRC_FLAG, where, err,
		    errlen) < 0)
			goto out;
	}
	rc = JS_CONFIG_OK;
out:
	free(flags);
	return rc;
}

int
js_check_nonempty(const char *v, char *why, size_t whylen)
{
	if (v[0] != '\0')
		return 0;
	snprintf(why, whylen, "expected a value, not an empty string");
	return -1;
}

int
js_check_abs_path(const char *v, char *why, size_t whylen)
{
	if (v[0] == '\0' || v[0] == '/')
		return 0;
	snprintf(why, whylen, "an absolute path is needed");
	return -1;
}

void
js_config_usage(FILE *fp, const char *prog, const char *summary,
    const struct js_opt *opts, size_t n)
{
	char left[96], var[96];
	size_t i, j;

	fprintf(fp, "usage: %s [options]\n%s\n\noptions (flag, or JOBSPOOL_* "
	    "environment variable, or 'name = value' in --config FILE):\n",
	    prog, summary);
	for (i = 0; i < n; i++) {
		const struct js_opt *o = &opts[i];
		if (o->short_flag)
			snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_flag,
			    o->name, o->type == JS_OPT_BOOL ? "" : " ",
			    o->type == JS_OPT_BOOL ? "" : (o->metavar ? o->metavar : "VALUE"));
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->name,
			    o->type == JS_OPT_BOOL ? "" : " ",
			    o->type == JS_OPT_BOOL ? "" : (o->metavar ? o->metavar : "VALUE"));
		snprintf(var, sizeof var, "JOBSPOOL_%s%s", o->name,
		    o->type == JS_OPT_LIST ? "S" : "");
		for (j = 9; var[j] != '\0'; j++)
			var[j] = var[j] == '-' ? '_' : (char)toupper((unsigned char)var[j]);
		if (strlen(left) > 30)
			fprintf(fp, "  %s\n  %-30s %s", left, "", o->help);
		else
			fprintf(fp, "  %-30s %s", left, o->help);
		if (o->def != NULL && o->type != JS_OPT_BOOL)
			fprintf(fp, " (default %s)", o->def);
		fprintf(fp, " [%s]\n", var);
	}
	fprintf(fp, "  %-30s %s\n", "    --config FILE",
	    "read settings from FILE [JOBSPOOL_CONFIG]");
	fprintf(fp, "  %-30s %s\n", "-h, --help", "print this help and exit");
	fprintf(fp, "  %-30s %s\n", "-V, --version", "print the version and exit");
}
