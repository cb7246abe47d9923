/* job.c - see job.h */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "job.h"
#include "util.h"

static const char *const state_ext[JS_NSTATES] = {
	"pending", "wip", "completed", "failed", "cancelled", "retrieved"
};
static const char *const state_status[JS_NSTATES] = {
	"pending", "running", "completed", "failed", "cancelled", NULL
};

const char *
js_state_ext(enum js_state s)
{
	return (unsigned)s < JS_NSTATES ? state_ext[s] : NULL;
}

const char *
js_state_status(enum js_state s)
{
	return (unsigned)s < JS_NSTATES ? state_status[s] : NULL;
}

int
js_state_from_ext(const char *ext)
{
	int i;

	for (i = 0; i < JS_NSTATES; i++)
		if (strcmp(ext, state_ext[i]) == 0)
			return i;
	return -1;
}

int
js_state_from_status(const char *status)
{
	static const struct { const char *name; enum js_state st; } names[] = {
		{ "pending", JS_PENDING }, { "enqueued", JS_PENDING },
		{ "queued", JS_PENDING }, { "running", JS_WIP },
		{ "wip", JS_WIP }, { "completed", JS_COMPLETED },
		{ "finished", JS_COMPLETED }, { "failed", JS_FAILED },
		{ "cancelled", JS_CANCELLED }, { "canceled", JS_CANCELLED },
		{ "retrieved", JS_RETRIEVED },
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcasecmp(status, names[i].name) == 0)
			return (int)names[i].st;
	return -1;
}

/* Fields a client submits. */
static const char *const submit_fields[] = {
	"name", "description", "command", "shell", "container", "docker",
	"builtin", "args", "env", "cwd", "stdin", "timeout", "max_attempts",
	"retries", "limits", "priority", "metadata", "labels", "run_at",
	"delay", "after", "after_any", NULL
};
/* Fields the server and processor set. */
static const char *const stored_fields[] = {
	"id", "status", "created_at", "updated_at", "started_at",
	"finished_at", "retrieved_at", "attempts", "exit_code", "signal",
	"error", "result", "batch", "owner", "worker", "seq", "generation",
	"not_before", "pid", "pid_start", "duration_ms", "log_size",
	"log_sha256", "log_truncated", "idempotency_key", "slurm", "rerun_of",
	NULL
};

static int
in_list(const char *const *list, const char *key)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

/* A non-empty string without NUL bytes, at most max bytes. */
static int
check_string(const json_t *v, const char *what, size_t max, int allow_empty,
    char *err, size_t errlen)
{
	size_t len;

	if (!json_is_string(v)) {
		js_errf(err, errlen, "%s must be a string", what);
		return -1;
	}
	len = json_string_length(v);
	if (!allow_empty && len == 0) {
		js_errf(err, errlen, "%s must not be empty", what);
		return -1;
	}
	if (memchr(json_string_value(v), '\0', len) != NULL) {
		js_errf(err, errlen, "%s must not contain NUL bytes", what);
		return -1;
	}
	if (max > 0 && len > max) {
		js_errf(err, errlen, "%s is too long (%zu bytes, at most %zu)",
		    what, len, max);
		return -1;
	}
	return 0;
}

static int
check_argv(const json_t *v, const char *what, char *err, size_t errlen)
{
	char elem[96];
	size_t i;
	json_t *a;

	if (!json_is_array(v)) {
		js_errf(err, errlen, "%s must be an array of strings, "
		    "e.g. [\"/bin/echo\", \"hello\"]", what);
		return -1;
	}
	if (json_array_size(v) == 0) {
		js_errf(err, errlen, "%s must not be empty", what);
		return -1;
	}
	if (json_array_size(v) > JS_ARGV_MAX) {
		js_errf(err, errlen, "%s has too many elements (at most %d)",
		    what, JS_ARGV_MAX);
		return -1;
	}
	json_array_foreach(v, i, a) {
		snprintf(elem, sizeof elem, "%s[%zu]", what, i);
		if (check_string(a, elem, 0, i > 0, err, errlen) < 0)
			return -1;
	}
	return 0;
}

static int
check_env(const json_t *v, const char *what, char *err, size_t errlen)
{
	const char *k;
	json_t *val;
	char elem[160];

	if (!json_is_object(v)) {
		js_errf(err, errlen, "%s must be an object of strings, "
		    "e.g. {\"LANG\": \"C\"}", what);
		return -1;
	}
	if (json_object_size(v) > JS_ENV_MAX) {
		js_errf(err, errlen, "%s has too many variables (at most %d)",
		    what, JS_ENV_MAX);
		return -1;
	}
	json_object_foreach((json_t *)v, k, val) {
		size_t i;
		if (k[0] == '\0' || strlen(k) > 255) {
			js_errf(err, errlen, "%s: variable names must be 1 to 255 "
			    "bytes", what);
			return -1;
		}
		for (i = 0; k[i] != '\0'; i++) {
			if (k[i] == '=' || isspace((unsigned char)k[i]) ||
			    (unsigned char)k[i] < 0x20) {
				js_errf(err, errlen, "%s: bad variable name '%.64s' "
				    "(no '=', spaces or control characters)", what, k);
				return -1;
			}
		}
		snprintf(elem, sizeof elem, "%s.%.64s", what, k);
		if (check_string(val, elem, 0, 1, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Integer field in [min, max]. */
static int
check_int(const json_t *v, const char *what, long long min, long long max,
    char *err, size_t errlen)
{
	long long n;

	/* a JSON number with a fraction or an exponent (1e3, 3.0) is a real:
	 * refused, as it would be stored as one (1000.0) and no integer
	 * reader takes it */
	if (json_is_real(v)) {
		js_errf(err, errlen, "%s must be an integer from %lld to %lld, "
		    "written without a fraction or exponent (got %g)", what,
		    min, max, json_real_value(v));
		return -1;
	}
	if (!json_is_integer(v)) {
		js_errf(err, errlen, "%s must be an integer from %lld to %lld",
		    what, min, max);
		return -1;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		js_errf(err, errlen, "%s must be an integer from %lld to %lld "
		    "(got %lld)", what, min, max, n);
		return -1;
	}
	return 0;
}

/* Normalises a size (integer bytes or "512M") into an integer. */
static json_t *
norm_size(const json_t *v, const char *what, char *err, size_t errlen)
{
	uint64_t bytes;

	if (json_is_integer(v)) {
		if (json_integer_value(v) <= 0) {
			js_errf(err, errlen, "%s must be a positive size", what);
			return NULL;
		}
		return json_integer(json_integer_value(v));
	}
	if (json_is_string(v) && js_parse_size(json_string_value(v), &bytes) == 0 &&
	    bytes > 0 && bytes <= (uint64_t)LLONG_MAX)
		return json_integer((json_int_t)bytes);
	js_errf(err, errlen, "%s must be a size in bytes, e.g. 536870912 or \"512M\"",
	    what);
	return NULL;
}

static json_t *
norm_limits(const json_t *v, char *err, size_t errlen)
{
	static const char *const counts[] = { "cpu", "nofile", "nproc" };
	static const char *const sizes[] = { "memory", "fsize" };
	json_t *out, *val, *n;
	const char *k;
	char what[64];
	size_t i;

	if (!json_is_object(v)) {
		js_errf(err, errlen, "limits must be an object, e.g. "
		    "{\"cpu\": 60, \"memory\": \"512M\", \"nofile\": 256}");
		return NULL;
	}
	out = json_object();
	if (out == NULL)
		goto nomem;
	json_object_foreach((json_t *)v, k, val) {
		int known = 0;
		snprintf(what, sizeof what, "limits.%.32s", k);
		for (i = 0; i < 3; i++) {
			if (strcmp(k, counts[i]) != 0)
				continue;
			known = 1;
			if (check_int(val, what, 1, 1LL << 40, err, errlen) < 0)
				goto fail;
			n = json_integer((json_int_t)(json_is_real(val) ?
			    json_real_value(val) : json_integer_value(val)));
			if (n == NULL || json_object_set_new(out, k, n) < 0)
				goto nomem;
		}
		for (i = 0; i < 2; i++) {
			if (strcmp(k, sizes[i]) != 0)
				continue;
			known = 1;
			n = norm_size(val, what, err, errlen);
			if (n == NULL)
				goto fail;
			if (json_object_set_new(out, k, n) < 0)
				goto nomem;
		}
		if (!known) {
			js_errf(err, errlen, "unknown limit '%.64s' (known: cpu, "
			    "memory, nofile, nproc, fsize)", k);
			goto fail;
		}
	}
	return out;
nomem:
	js_errf(err, errlen, "out of memory");
fail:
	json_decref(out);
	return NULL;
}

static json_t *
norm_container(const json_t *v, const char *what, char *err, size_t errlen)
{
	json_t *val;
	const char *k;
	char field[64];

	if (!json_is_object(v)) {
		js_errf(err, errlen, "%s must be an object, e.g. {\"image\": "
		    "\"localhost/busybox:latest\", \"command\": [\"echo\", \"hi\"]}",
		    what);
		return NULL;
	}
	json_object_foreach((json_t *)v, k, val) {
		snprintf(field, sizeof field, "%s.%.32s", what, k);
		if (strcmp(k, "image") == 0) {
			if (check_string(val, field, 1024, 0, err, errlen) < 0)
				return NULL;
			if (json_string_value(val)[0] == '-') {
				js_errf(err, errlen, "%s must not start with '-'", field);
				return NULL;
			}
		} else if (strcmp(k, "command") == 0) {
			if (json_is_string(val)) {
				if (check_string(val, field, 0, 0, err, errlen) < 0)
					return NULL;
			} else if (check_argv(val, field, err, errlen) < 0) {
				return NULL;
			}
		} else if (strcmp(k, "environment") == 0 || strcmp(k, "env") == 0) {
			if (check_env(val, field, err, errlen) < 0)
				return NULL;
		} else {
			js_errf(err, errlen, "unknown field '%s' (known: image, "
			    "command, environment)", field);
			return NULL;
		}
	}
	if (json_object_get(v, "image") == NULL) {
		js_errf(err, errlen, "%s.image is required", what);
		return NULL;
	}
	return js_json_deep_copy(v);
}

int
js_label_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > JS_LABEL_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' &&
		    s[i] != '.')
			return 0;
	return 1;
}

/* labels: what a job needs of the machine that runs it ("gpu"): an array of
 * at most JS_LABELS_MAX distinct words (js_label_valid). */
static int
check_labels(const json_t *v, char *err, size_t errlen)
{
	size_t i, j, n;
	const char *s;

	if (!json_is_array(v) || json_array_size(v) > JS_LABELS_MAX) {
		js_errf(err, errlen, "labels must be an array of at most %d words",
		    JS_LABELS_MAX);
		return -1;
	}
	n = json_array_size(v);
	for (i = 0; i < n; i++) {
		s = json_string_value(json_array_get(v, i));
		if (s == NULL || *s == '\0' || strlen(s) > JS_LABEL_MAX) {
			js_errf(err, errlen, "labels[%zu] must be a word of 1 to %d "
			    "characters", i, JS_LABEL_MAX);
			return -1;
		}
		if (!js_label_valid(s)) {
			js_errf(err, errlen, "labels[%zu] may hold only letters, "
			    "digits, '-', '_' and '.'", i);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_array_get(v, j))) == 0) {
				js_errf(err, errlen, "labels[%zu] repeats '%s'", i, s);
				return -1;
			}
	}
	return 0;
}

/* after, after_any (lib/deps): an array of at most JS_AFTER_MAX distinct
 * job ids.  A batch's "#N" was replaced by an id before (js_deps_batch_refs):
 * one left here is outside a batch. */
static int
check_after(const char *k, const json_t *v, char *err, size_t errlen)
{
	size_t i, j, n;
	const char *s;

	if (!json_is_array(v) || json_array_size(v) > JS_AFTER_MAX) {
		js_errf(err, errlen, "%s must be an array of at most %d job ids",
		    k, JS_AFTER_MAX);
		return -1;
	}
	n = json_array_size(v);
	for (i = 0; i < n; i++) {
		s = json_string_value(json_array_get(v, i));
		if (s != NULL && s[0] == '#') {
			js_errf(err, errlen, "%s[%zu]: \"#N\" names a job of the "
			    "same batch, only in POST /api/v1/batches", k, i);
			return -1;
		}
		if (s == NULL || !js_id_valid(s)) {
			js_errf(err, errlen, "%s[%zu] must be a job id (a "
			    "lowercase UUID)", k, i);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_array_get(v, j))) == 0) {
				js_errf(err, errlen, "%s[%zu] repeats %s", k, i, s);
				return -1;
			}
	}
	return 0;
}

/* n decimal digits at *p into *v; -1 if not digits. */
static int
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -1;
		*v = *v * 10 + (**p - '0');
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
js_rfc3339_parse(const char *s, int64_t *ms)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, milli = 0, n, sign = 0;
	const char *p = s;
	int64_t t;

	if (s == NULL || digits(&p, 4, &y) < 0 || *p++ != '-' ||
	    digits(&p, 2, &mo) < 0 || *p++ != '-' || digits(&p, 2, &d) < 0 ||
	    (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0 ||
	    *p++ != ':' || digits(&p, 2, &sec) < 0)
		return -1;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (n = 0; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				milli = milli * 10 + (*p - '0');
		for (; n < 3; n++)
			milli *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) < 0 || *p++ != ':' ||
		    digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] || (mo == 2 && d == 29 && (y % 4 != 0 ||
	    (y % 100 == 0 && y % 400 != 0))) || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (sec == 60)
		sec = 59;	/* a leap second: the last of the minute */
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -1;
	*ms = t * 1000 + milli;
	return 0;
}

int
js_job_delay_ms(const json_t *v, int64_t *ms)
{
	double t;

	if (json_is_string(v))
		return js_parse_duration_ms(json_string_value(v), ms) == 0 &&
		    *ms <= JS_DELAY_MAX_MS ? 0 : -1;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0 ||
		    json_integer_value(v) > JS_DELAY_MAX_MS / 1000)
			return -1;
		*ms = (int64_t)json_integer_value(v) * 1000;
		return 0;
	}
	if (!json_is_real(v) || !isfinite(t = json_real_value(v)) || t < 0 ||
	    t > (double)(JS_DELAY_MAX_MS / 1000))
		return -1;
	*ms = (int64_t)(t * 1000.0);
	return 0;
}

/* "run_at" for a start delay_ms after anchor_ms, or NULL with err. */
static json_t *
run_at_value(int64_t anchor_ms, int64_t delay_ms, char *err, size_t errlen)
{
	char buf[JS_TIME_SIZE];
	json_t *n;

	js_time_format(anchor_ms + delay_ms, buf);
	n = json_string(buf);
	if (n == NULL)
		js_errf(err, errlen, "out of memory");
	return n;
}

/* "delay" (a duration after anchor_ms) as the "run_at" it means. */
static json_t *
delay_value(const json_t *v, int64_t anchor_ms, char *err, size_t errlen)
{
	int64_t ms;

	if (js_job_delay_ms(v, &ms) < 0) {
		js_errf(err, errlen, "delay must be a duration from 0 to 10 "
		    "years: seconds (90), or a string like \"90s\", \"15m\" or "
		    "\"1h30m\"");
		return NULL;
	}
	return run_at_value(anchor_ms, ms, err, errlen);
}

/* The fields that choose what a job runs: exactly one per job. */
static const char *const kind_fields[] = {
	"command", "shell", "container", "docker", "builtin", NULL
};

/* A submitted timeout: seconds (0: none) or a duration string, stored as
 * seconds (an integer when whole). */
static json_t *
timeout_value(const json_t *v, char *err, size_t errlen)
{
	json_t *n;
	double t;
	int64_t ms;

	if (json_is_string(v) &&
	    js_parse_duration_ms(json_string_value(v), &ms) == 0 &&
	    ms / 1000 <= JS_TIMEOUT_MAX) {
		n = ms % 1000 ? json_real((double)ms / 1000.0) :
		    json_integer(ms / 1000);
		if (n == NULL)
			js_errf(err, errlen, "out of memory");
		return n;
	}
	if (!json_is_number(v) || (t = json_number_value(v)) < 0 ||
	    !isfinite(t) || t > (double)JS_TIMEOUT_MAX) {
		js_errf(err, errlen, "timeout must be a number of seconds "
		    "from 0 (none) to %lld, or a duration like \"15m\"",
		    JS_TIMEOUT_MAX);
		return NULL;
	}
	n = js_json_deep_copy(v);
	if (n == NULL)
		js_errf(err, errlen, "out of memory");
	return n;
}

/* A submitted run_at: an RFC 3339 time with a zone, or null (none). */
static json_t *
run_at_field(const json_t *v, char *err, size_t errlen)
{
	int64_t ms;

	if (json_is_null(v))
		return json_null();	/* no delayed start */
	if (!json_is_string(v) ||
	    js_rfc3339_parse(json_string_value(v), &ms) < 0) {
		js_errf(err, errlen, "run_at must be an RFC 3339 time "
		    "with a time zone, e.g. \"2026-12-05T15:00:00Z\" or "
		    "\"2026-12-05T16:00:00+01:00\" (or null: none)");
		return NULL;
	}
	return run_at_value(ms, 0, err, errlen);
}

/*
 * The rule for one submitted field k (one of submit_fields): returns the
 * value to store (a new reference; normalised for container, limits and
 * timeout), or NULL with err.  Submissions and updates (PUT) both go
 * through it, so a field an update writes is one a submission may hold.
 */
static json_t *
field_value(const char *k, const json_t *v, char *err, size_t errlen)
{
	json_t *n;

	if (strcmp(k, "name") == 0) {
		if (check_string(v, "name", JS_NAME_MAX, 1, err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "description") == 0) {
		if (check_string(v, "description", JS_DESCRIPTION_MAX, 1,
		    err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "command") == 0) {
		if (check_argv(v, "command", err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "shell") == 0) {
		if (check_string(v, "shell", 0, 0, err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "container") == 0 || strcmp(k, "docker") == 0) {
		return norm_container(v, k, err, errlen);
	} else if (strcmp(k, "builtin") == 0) {
		if (!json_is_string(v) || strcmp(json_string_value(v), "add") != 0) {
			js_errf(err, errlen, "builtin must be \"add\"");
			return NULL;
		}
	} else if (strcmp(k, "args") == 0) {
		if (!json_is_array(v) || json_array_size(v) != 2 ||
		    !json_is_integer(json_array_get(v, 0)) ||
		    !json_is_integer(json_array_get(v, 1))) {
			js_errf(err, errlen, "args must be an array of two integers");
			return NULL;
		}
	} else if (strcmp(k, "env") == 0) {
		if (check_env(v, "env", err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "cwd") == 0) {
		if (check_string(v, "cwd", 4096, 0, err, errlen) < 0)
			return NULL;
		if (json_string_value(v)[0] != '/') {
			js_errf(err, errlen, "cwd must be an absolute path");
			return NULL;
		}
	} else if (strcmp(k, "stdin") == 0) {
		if (check_string(v, "stdin", 0, 1, err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "timeout") == 0) {
		return timeout_value(v, err, errlen);
	} else if (strcmp(k, "max_attempts") == 0) {
		if (check_int(v, "max_attempts", 1, JS_ATTEMPTS_MAX, err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "retries") == 0) {
		if (check_int(v, "retries", 0, JS_ATTEMPTS_MAX, err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "priority") == 0) {
		if (check_int(v, "priority", -JS_PRIORITY_MAX, JS_PRIORITY_MAX,
		    err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "limits") == 0) {
		return norm_limits(v, err, errlen);
	} else if (strcmp(k, "labels") == 0) {
		if (check_labels(v, err, errlen) < 0)
			return NULL;
	} else if (strcmp(k, "run_at") == 0) {
		return run_at_field(v, err, errlen);
	} else if (strcmp(k, "delay") == 0) {
		return delay_value(v, js_now_ms(), err, errlen);
	} else if (strcmp(k, "after") == 0 || strcmp(k, "after_any") == 0) {
		if (check_after(k, v, err, errlen) < 0)
			return NULL;
	}
	/* "metadata" is any JSON value */
	n = js_json_deep_copy(v);
	if (n == NULL)
		js_errf(err, errlen, "out of memory");
	return n;
}

/* The rules that tie a job's fields together (kinds: how many of
 * kind_fields it holds). */
static int
check_whole(const json_t *obj, int kinds, char *err, size_t errlen)
{
	if (json_object_get(obj, "run_at") && json_object_get(obj, "delay")) {
		js_errf(err, errlen, "give either run_at (a time) or delay (a "
		    "duration), not both");
		return -1;
	}
	if (json_object_get(obj, "container") && json_object_get(obj, "docker")) {
		js_errf(err, errlen, "give either container or docker, not both");
		return -1;
	}
	if (kinds == 0) {
		js_errf(err, errlen, "a job needs one of command (an array of "
		    "strings), shell (a string) or container (an object)");
		return -1;
	}
	if (kinds > 1) {
		js_errf(err, errlen, "a job takes exactly one of command, shell "
		    "and container, not several");
		return -1;
	}
	if (json_object_get(obj, "builtin") != NULL &&
	    json_object_get(obj, "args") == NULL) {
		js_errf(err, errlen, "builtin \"add\" needs args: [a, b]");
		return -1;
	}
	if (json_object_get(obj, "args") != NULL &&
	    json_object_get(obj, "builtin") == NULL) {
		js_errf(err, errlen, "args is only for builtin jobs");
		return -1;
	}
	return 0;
}

/* Validates the submitted fields of obj into out (new object), ignoring
 * stored fields when stored is set, refusing them otherwise. */
static json_t *
validate(const json_t *obj, int stored, char *err, size_t errlen)
{
	json_t *out = NULL, *v, *n;
	const char *k;
	int kinds = 0;

	if (!json_is_object(obj)) {
		js_errf(err, errlen, "a job must be a JSON object");
		return NULL;
	}
	out = json_object();
	if (out == NULL)
		goto nomem;
	json_object_foreach((json_t *)obj, k, v) {
		if (!in_list(submit_fields, k)) {
			if (stored && in_list(stored_fields, k))
				continue;
			if (in_list(stored_fields, k))
				js_errf(err, errlen, "field '%s' is set by the server "
				    "and cannot be submitted", k);
			else if (stored)
				continue;	/* a newer version's field: keep it */
			else
				js_errf(err, errlen, "unknown field '%.64s'", k);
			goto fail;
		}
		if (in_list(kind_fields, k))
			kinds++;
		if (stored && strcmp(k, "delay") == 0) {
			/* a hand-written file: the delay counts from its
			 * created_at (lib/sched: or from when it was written) */
			int64_t anchor;
			if (js_time_parse(js_job_str(obj, "created_at") ?
			    js_job_str(obj, "created_at") : "", &anchor) < 0)
				anchor = js_now_ms();
			n = delay_value(v, anchor, err, errlen);
		} else {
			n = field_value(k, v, err, errlen);
		}
		if (n == NULL)
			goto fail;
		if (json_object_set_new(out, strcmp(k, "docker") == 0 ?
		    "container" : strcmp(k, "delay") == 0 ? "run_at" : k, n) < 0)
			goto nomem;
	}
	if (check_whole(obj, kinds, err, errlen) < 0)
		goto fail;
	return out;
nomem:
	js_errf(err, errlen, "out of memory");
fail:
	json_decref(out);
	return NULL;
}

/* errno after a check that failed: ENOMEM if an allocation failed while
 * it ran (malloc sets ENOMEM; the message may then be anything, e.g. a
 * type error for a value jansson could not copy), else EINVAL. */
static void
failed_errno(void)
{
	if (errno != ENOMEM)
		errno = EINVAL;
}

json_t *
js_job_validate(const json_t *submitted, char *err, size_t errlen)
{
	json_t *v;

	errno = 0;
	js_json_nomem();
	v = validate(submitted, 0, err, errlen);
	if (js_json_nomem()) {		/* even if jansson went on without */
		json_decref(v);
		js_errf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (v == NULL)
		failed_errno();
	return v;
}

/* Fields an update may change. */
static const char *const update_fields[] = {
	"name", "description", "metadata", "priority", "run_at", "delay", NULL
};
/* The ones that may change only while the job is pending. */
static const char *const pending_fields[] = {
	"priority", "run_at", "delay", NULL
};

const char *
js_job_pending_only(const json_t *changes)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)changes, k, v)
		if (in_list(pending_fields, k))
			return k;
	return NULL;
}

/* Checks changes by the submission rule; with job, applies them. */
static int
update(json_t *job, const json_t *changes, char *err, size_t errlen)
{
	const char *k;
	json_t *v, *n;
	int pass;

	if (!json_is_object(changes)) {
		js_errf(err, errlen, "an update must be a JSON object");
		return -1;
	}
	if (json_object_get(changes, "run_at") != NULL &&
	    json_object_get(changes, "delay") != NULL) {
		js_errf(err, errlen, "give either run_at (a time) or delay (a "
		    "duration), not both");
		return -1;
	}
	/* every field is checked before the first is applied */
	for (pass = 0; pass < (job != NULL ? 2 : 1); pass++) {
		json_object_foreach((json_t *)changes, k, v) {
			if (!in_list(update_fields, k)) {
				js_errf(err, errlen, "field '%.64s' cannot be changed "
				    "(only name, description, metadata, status and, "
				    "while the job is pending, priority, run_at and "
				    "delay)", k);
				return -1;
			}
			n = field_value(k, v, err, errlen);
			if (n == NULL)
				return -1;
			if (pass == 0) {
				json_decref(n);
				continue;
			}
			if (strcmp(k, "run_at") == 0 || strcmp(k, "delay") == 0) {
				/* the start time given replaces a retry backoff
				 * and a hand-written file's own delay */
				json_object_del(job, "not_before");
				json_object_del(job, "delay");
			}
			if (json_object_set_new(job, strcmp(k, "delay") == 0 ?
			    "run_at" : k, n) < 0) {
				js_errf(err, errlen, "out of memory");
				return -1;
			}
		}
	}
	if (job != NULL && json_object_get(job, "delay") != NULL) {
		/* a hand-written file's delay would count again from this
		 * write: fix its start time as run_at */
		int64_t anchor;
		if (js_time_parse(js_job_str(job, "created_at") ?
		    js_job_str(job, "created_at") : "", &anchor) < 0)
			anchor = js_now_ms();
		n = delay_value(json_object_get(job, "delay"), anchor, err,
		    errlen);
		if (n == NULL)
			return -1;
		json_object_del(job, "delay");
		if (json_object_set_new(job, "run_at", n) < 0) {
			js_errf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (job != NULL && js_job_set_time(job, "updated_at", 0) < 0) {
		js_errf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int
js_job_check_update(const json_t *changes, char *err, size_t errlen)
{
	errno = 0;
	if (update(NULL, changes, err, errlen) == 0)
		return 0;
	failed_errno();
	return -1;
}

int
js_job_update(json_t *job, const json_t *changes, char *err, size_t errlen)
{
	errno = 0;
	if (update(job, changes, err, errlen) == 0)
		return 0;
	failed_errno();
	return -1;
}

/* Strictly increasing nanosecond sequence within this process. */
static int64_t
next_seq(void)
{
	static _Atomic int64_t last;
	int64_t now = js_now_ns(), prev = atomic_load(&last), next;

	do {
		next = now > prev ? now : prev + 1;
	} while (!atomic_compare_exchange_weak(&last, &prev, next));
	return next;
}

int
js_job_set_time(json_t *job, const char *field, int64_t ms)
{
	char buf[JS_TIME_SIZE];

	js_time_format(ms ? ms : js_now_ms(), buf);
	return json_object_set_new(job, field, json_string(buf));
}

json_t *
js_job_new(const json_t *validated, const char *id, const char *owner,
    const char *batch)
{
	static const char *const nulls[] = {
		"started_at", "finished_at", "retrieved_at", "exit_code",
		"signal", "error", "result", "worker", NULL
	};
	char newid[JS_ID_SIZE];
	json_t *job;
	int64_t now = js_now_ms();
	size_t i;
	int bad = 0;

	job = js_json_deep_copy(validated);
	if (job == NULL)
		return NULL;
	if (id == NULL) {
		js_id_new(newid);
		id = newid;
	}
	bad |= json_object_set_new(job, "id", json_string(id));
	bad |= json_object_set_new(job, "status", json_string("pending"));
	bad |= js_job_set_time(job, "created_at", now);
	bad |= js_job_set_time(job, "updated_at", now);
	for (i = 0; nulls[i] != NULL; i++)
		bad |= json_object_set_new(job, nulls[i], json_null());
	bad |= json_object_set_new(job, "attempts", json_integer(0));
	if (json_object_get(job, "max_attempts") == NULL)
		bad |= json_object_set_new(job, "max_attempts", json_integer(3));
	if (json_object_get(job, "retries") == NULL)
		bad |= json_object_set_new(job, "retries", json_integer(0));
	if (json_object_get(job, "priority") == NULL)
		bad |= json_object_set_new(job, "priority", json_integer(0));
	bad |= json_object_set_new(job, "batch", batch ? json_string(batch) : json_null());
	bad |= json_object_set_new(job, "owner", owner ? json_string(owner) : json_null());
	bad |= json_object_set_new(job, "seq", json_integer(next_seq()));
	bad |= json_object_set_new(job, "generation", json_integer(0));
	if (bad) {
		json_decref(job);
		return NULL;
	}
	return job;
}

json_t *
js_job_rerun(const json_t *old, char *err, size_t errlen)
{
	json_t *spec, *valid, *job;
	const char *k, *id = js_job_str(old, "id");
	json_t *v;

	if (id == NULL || !js_id_valid(id)) {
		js_errf(err, errlen, "the job has no valid id");
		errno = EINVAL;
		return NULL;
	}
	spec = json_object();
	if (spec == NULL) {
		js_errf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	json_object_foreach((json_t *)old, k, v)
		if (in_list(submit_fields, k) && strcmp(k, "delay") != 0 &&
		    json_object_set(spec, k, v) < 0) {
			json_decref(spec);
			js_errf(err, errlen, "out of memory");
			errno = ENOMEM;
			return NULL;
		}
	errno = 0;
	valid = validate(spec, 0, err, errlen);
	json_decref(spec);
	if (valid == NULL) {
		failed_errno();
		return NULL;
	}
	job = js_job_new(valid, NULL, js_job_str(old, "owner"), NULL);
	json_decref(valid);
	if (job == NULL || json_object_set_new(job, "rerun_of",
	    json_string(id)) < 0) {
		json_decref(job);
		js_errf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	return job;
}

/* Type of each stored field: 's' string or null, 'i' integer or null,
 * 'c' a counter a claim adds one to, 0 to JS_COUNTER_MAX, or null (never
 * negative: runs beyond "retries"; never near overflow), 'n' number or
 * null, 't' timestamp or null. */
static const struct { const char *name; char type; } stored_types[] = {
	{ "status", 's' }, { "created_at", 't' }, { "updated_at", 't' },
	{ "started_at", 't' }, { "finished_at", 't' }, { "retrieved_at", 't' },
	{ "attempts", 'c' }, { "exit_code", 'i' }, { "signal", 'i' },
	{ "error", 's' }, { "batch", 's' }, { "owner", 's' }, { "worker", 's' },
	{ "seq", 'i' }, { "generation", 'c' }, { "not_before", 'i' },
	{ "pid", 'i' }, { "pid_start", 'i' }, { "rerun_of", 's' },
};

json_t *
js_job_normalize(const json_t *stored, const char *id, char *err, size_t errlen)
{
	json_t *valid, *job, *v;
	const char *k;
	int64_t ms;
	size_t i;

	valid = validate(stored, 1, err, errlen);
	if (valid == NULL)
		return NULL;
	v = json_object_get(stored, "id");
	if (v != NULL && (!json_is_string(v) || strcmp(json_string_value(v), id) != 0)) {
		js_errf(err, errlen, "field 'id' does not match the file name %s", id);
		json_decref(valid);
		return NULL;
	}
	for (i = 0; i < sizeof stored_types / sizeof stored_types[0]; i++) {
		v = json_object_get(stored, stored_types[i].name);
		if (v == NULL || json_is_null(v))
			continue;
		switch (stored_types[i].type) {
		case 's':
			if (json_is_string(v))
				continue;
			break;
		case 'i':
			if (json_is_integer(v))
				continue;
			break;
		case 'c':
			if (!json_is_integer(v))
				break;
			if (json_integer_value(v) < 0 ||
			    json_integer_value(v) > JS_COUNTER_MAX) {
				js_errf(err, errlen, "stored field '%s' must be "
				    "from 0 to %lld", stored_types[i].name,
				    (long long)JS_COUNTER_MAX);
				json_decref(valid);
				return NULL;
			}
			continue;
		case 't':
			if (json_is_string(v) &&
			    js_time_parse(json_string_value(v), &ms) == 0)
				continue;
			break;
		}
		js_errf(err, errlen, "stored field '%s' has the wrong type",
		    stored_types[i].name);
		json_decref(valid);
		return NULL;
	}
	/* defaults for what a hand-written file leaves out */
	job = js_job_new(valid, id, NULL, NULL);
	json_decref(valid);
	if (job == NULL) {
		js_errf(err, errlen, "out of memory");
		return NULL;
	}
	/* keep every stored value the file had */
	json_object_foreach((json_t *)stored, k, v) {
		if (json_object_get(job, k) != NULL && in_list(submit_fields, k))
			continue;	/* normalised copy already there */
		if (strcmp(k, "docker") == 0 || strcmp(k, "delay") == 0)
			continue;	/* stored as container, run_at */
		if (json_object_set(job, k, v) < 0) {
			js_errf(err, errlen, "out of memory");
			json_decref(job);
			return NULL;
		}
	}
	return job;
}

const char *
js_job_str(const json_t *job, const char *field)
{
	return json_string_value(json_object_get(job, field));
}

long long
js_job_int(const json_t *job, const char *field, long long dflt)
{
	json_t *v = json_object_get(job, field);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* json_dump_callback's sink for js_json_dumps: a js_buf, whose first
 * failed append fails every later one, so that the dump as a whole fails. */
static int
dump_add(const char *data, size_t n, void *arg)
{
	return js_buf_add(arg, data, n);
}

/* jansson 2.14 does not report every allocation of its own that fails: a
 * string token that cannot grow loses a character and the text still
 * parses, json_copy leaves a member out, and errno cannot tell (its number
 * parsing clears it).  So its allocations go through json_malloc, which
 * notes a failure for the calling thread only (js_json_nomem). */
static _Thread_local int json_failed;

static void *
json_malloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		json_failed = 1;
	return p;
}

/* Before main, while one thread runs: jansson's allocator becomes
 * json_malloc (malloc underneath, so blocks from before stay valid). */
__attribute__((constructor)) static void
json_watch_allocs(void)
{
	json_set_alloc_funcs(json_malloc, free);
}

int
js_json_nomem(void)
{
	int f = json_failed;

	json_failed = 0;
	return f;
}

json_t *
js_json_deep_copy(const json_t *v)
{
	json_t *n;

	js_json_nomem();
	n = json_deep_copy(v);
	if (js_json_nomem()) {
		json_decref(n);
		errno = ENOMEM;
		return NULL;
	}
	if (n == NULL)
		errno = ENOMEM;
	return n;
}

char *
js_json_dumps(const json_t *j, size_t flags, const char *end, size_t *len)
{
	struct js_buf b = JS_BUF_INIT;

	if (json_dump_callback(j, dump_add, &b, flags) < 0 ||
	    (end != NULL && js_buf_puts(&b, end) < 0)) {
		js_buf_free(&b);
		errno = ENOMEM;
		return NULL;
	}
	return js_buf_take(&b, len);
}

char *
js_job_dump(const json_t *job, size_t *len)
{
	return js_json_dumps(job, JSON_COMPACT | JSON_PRESERVE_ORDER, "\n", len);
}

json_t *
js_job_parse(const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t e;
	json_t *j;

	js_json_nomem();
	errno = 0;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (js_json_nomem() || errno == ENOMEM || (j == NULL &&
	    ((e.line == -1 && e.text[0] == '\0') ||
	    json_error_code(&e) == json_error_out_of_memory))) {
		/* (jansson 2.14 reports a failed allocation inside a string
		 * token as a syntax error, or even drops one character of the
		 * string and succeeds: json_malloc noted it, or, under another
		 * allocator set with json_set_alloc_funcs, the ENOMEM it left
		 * when no number came after it) */
		json_decref(j);
		js_errf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	if (j == NULL) {
		js_errf(err, errlen, "malformed JSON at line %d, column %d: %s",
		    e.line, e.column, e.text);
		errno = EBADMSG;
		return NULL;
	}
	if (!json_is_object(j)) {
		js_errf(err, errlen, "a job must be a JSON object");
		json_decref(j);
		errno = EBADMSG;
		return NULL;
	}
	return j;
}
