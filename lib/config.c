/* config.c - see config.h */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "util.h"

enum { SRC_DEFAULT = 0, SRC_FILE = 1, SRC_ENV = 2, SRC_FLAG = 3 };

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

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

/* Validates v for o and stores it, if src is at least o's current source.
 * where describes the source for error messages. */
static int
set_value(struct js_opt *o, const char *v, int src, const char *where,
    char *err, size_t errlen)
{
	long long num = 0;
	int64_t ms;
	uint64_t bytes;
	char *copy;

	switch (o->type) {
	case JS_OPT_INT:
		if (js_parse_int(v, (o->min || o->max) ? o->min : LLONG_MIN,
		    (o->min || o->max) ? o->max : LLONG_MAX, &num) < 0) {
			if (o->min || o->max)
				seterr(err, errlen, "%s: bad value '%s' for %s: "
				    "expected an integer from %lld to %lld",
				    where, v, o->name, o->min, o->max);
			else
				seterr(err, errlen, "%s: bad value '%s' for %s: "
				    "expected an integer", where, v, o->name);
			return -1;
		}
		break;
	case JS_OPT_DURATION:
		if (js_parse_duration_ms(v, &ms) < 0) {
			seterr(err, errlen, "%s: bad value '%s' for %s: expected "
			    "a duration such as 90, 90s, 15m, 1h or 7d",
			    where, v, o->name);
			return -1;
		}
		num = ms;
		break;
	case JS_OPT_SIZE:
		if (js_parse_size(v, &bytes) < 0 || bytes > (uint64_t)LLONG_MAX) {
			seterr(err, errlen, "%s: bad value '%s' for %s: expected "
			    "a size such as 1048576, 64K, 1M or 2G",
			    where, v, o->name);
			return -1;
		}
		num = (long long)bytes;
		break;
	case JS_OPT_BOOL:
		if (parse_bool(v, &num) < 0) {
			seterr(err, errlen, "%s: bad value '%s' for %s: expected "
			    "yes or no", where, v, o->name);
			return -1;
		}
		break;
	case JS_OPT_STR:
	case JS_OPT_LIST:
		break;
	}
	if (src < o->given)
		return 0;
	copy = strdup(v);
	if (copy == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (o->type == JS_OPT_LIST) {
		char **nl;
		if (src > o->given)
			clear_list(o);
		nl = realloc(o->list, (o->nlist + 1) * sizeof *nl);
		if (nl == NULL) {
			free(copy);
			seterr(err, errlen, "out of memory");
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
		seterr(err, errlen, "cannot open config file %s: %s", path,
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
			seterr(err, errlen, "%s: expected 'key = value'", where);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		o = find_opt(opts, n, key, strlen(key));
		if (o == NULL) {
			seterr(err, errlen, "%s: unknown setting '%s'", where, key);
			rc = -1;
			break;
		}
		if (set_value(o, val, SRC_FILE, where, err, errlen) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(fp)) {
		seterr(err, errlen, "cannot read config file %s", path);
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
				seterr(err, errlen, "out of memory");
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

/* Finds --config in argv (flags beat the environment). */
static const char *
find_config_path(int argc, char *const argv[])
{
	const char *path = getenv("JOBSPOOL_CONFIG");
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	return path;
}

static int
load_flags(struct js_opt *opts, size_t n, int argc, char *const argv[],
    char *err, size_t errlen)
{
	char where[160];
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *key;
		struct js_opt *o = NULL;
		size_t klen;
		size_t k;

		if (strcmp(a, "--") == 0) {
			if (i + 1 < argc) {
				seterr(err, errlen, "unexpected argument '%s'",
				    argv[i + 1]);
				return -1;
			}
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return JS_CONFIG_HELP;
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)
			return JS_CONFIG_VERSION;
		if (strncmp(a, "--", 2) == 0) {
			const char *eq;
			key = a + 2;
			eq = strchr(key, '=');
			klen = eq ? (size_t)(eq - key) : strlen(key);
			if (eq)
				val = eq + 1;
			if (name_eq("config", key, klen)) {
				if (val == NULL)
					i++;	/* already read by find_config_path */
				if (i >= argc) {
					seterr(err, errlen, "option --config needs a value");
					return -1;
				}
				continue;
			}
			o = find_opt(opts, n, key, klen);
			if (o == NULL || strchr(key, '_') != NULL) {
				seterr(err, errlen, "unknown option '%.*s' (see --help)",
				    (int)(klen + 2), a);
				return -1;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			for (k = 0; k < n; k++)
				if (opts[k].short_flag == a[1])
					o = &opts[k];
			if (o == NULL) {
				seterr(err, errlen, "unknown option '-%c' (see --help)", a[1]);
				return -1;
			}
			if (a[2] != '\0') {
				if (o->type == JS_OPT_BOOL) {
					seterr(err, errlen, "option -%c takes no value", a[1]);
					return -1;
				}
				val = a + 2;
			}
		} else {
			seterr(err, errlen, "unexpected argument '%s' (see --help)", a);
			return -1;
		}
		snprintf(where, sizeof where, "option --%s", o->name);
		if (o->type == JS_OPT_BOOL) {
			if (val == NULL)
				val = "yes";
		} else if (val == NULL) {
			if (i + 1 >= argc) {
				seterr(err, errlen, "option --%s needs a value", o->name);
				return -1;
			}
			val = argv[++i];
		}
		if (set_value(o, val, SRC_FLAG, where, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int
js_config_parse(struct js_opt *opts, size_t n, int argc, char *const argv[],
    char *err, size_t errlen)
{
	const char *path;
	size_t i;
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
	/* --help and --version win over any other problem */
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return JS_CONFIG_HELP;
		if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0)
			return JS_CONFIG_VERSION;
	}
	path = find_config_path(argc, argv);
	if (path != NULL && *path != '\0' &&
	    load_file(opts, n, path, err, errlen) < 0)
		return JS_CONFIG_ERROR;
	if (load_env(opts, n, err, errlen) < 0)
		return JS_CONFIG_ERROR;
	rc = load_flags(opts, n, argc, argv, err, errlen);
	if (rc < 0)
		return JS_CONFIG_ERROR;
	return rc;
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
