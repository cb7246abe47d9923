/* fmt.c - what jobspool(1) prints for people, and the exit status a job
 * gives.  Pure: no spool, no server; the time is passed in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client.h"
#include "job.h"
#include "util.h"

int
cl_job_exit(const json_t *job)
{
	const char *st = js_job_str(job, "status"), *err = js_job_str(job,
	    "error");
	json_t *sig = json_object_get(job, "signal");
	json_t *code = json_object_get(job, "exit_code");

	if (st == NULL)
		return CL_EXIT_ERROR;
	if (strcmp(st, "completed") == 0)
		return 0;
	if (strcmp(st, "cancelled") == 0)
		return CL_EXIT_CANCELLED;
	if (strcmp(st, "pending") == 0 || strcmp(st, "running") == 0)
		return CL_EXIT_PENDING;
	if (strcmp(st, "failed") != 0)
		return CL_EXIT_ERROR;
	if (err != NULL && strncmp(err, "timeout", 7) == 0)
		return CL_EXIT_TIMEOUT;
	if (err != NULL && (strstr(err, "lease expired") != NULL ||
	    strstr(err, "processor was lost") != NULL))
		return CL_EXIT_LOST;
	if (json_is_integer(sig) && json_integer_value(sig) > 0 &&
	    json_integer_value(sig) < 128)
		return 128 + (int)json_integer_value(sig);
	if (json_is_integer(code) && json_integer_value(code) > 0 &&
	    json_integer_value(code) < 256)
		return (int)json_integer_value(code);
	return CL_EXIT_NOCODE;
}

void
cl_ago(int64_t ms, int64_t now_ms, char out[CL_AGO_SIZE])
{
	int64_t s = (now_ms - ms) / 1000;

	if (ms <= 0)
		snprintf(out, CL_AGO_SIZE, "-");
	else if (s < 0)
		snprintf(out, CL_AGO_SIZE, "in %lld s", (long long)-s);
	else if (s < 60)
		snprintf(out, CL_AGO_SIZE, "%lld s ago", (long long)s);
	else if (s < 3600)
		snprintf(out, CL_AGO_SIZE, "%lld min ago", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, CL_AGO_SIZE, "%lld h ago", (long long)(s / 3600));
	else
		snprintf(out, CL_AGO_SIZE, "%lld d ago", (long long)(s / 86400));
}

/* A time field in ms (0 if unset or not a time). */
static int64_t
time_ms(const json_t *job, const char *field)
{
	const char *v = js_job_str(job, field);
	int64_t ms;

	return v != NULL && js_time_parse(v, &ms) == 0 ? ms : 0;
}

void
cl_job_duration(const json_t *job, int64_t now_ms, char out[32])
{
	int64_t start = time_ms(job, "started_at"), end = time_ms(job,
	    "finished_at");

	if (start <= 0) {
		snprintf(out, 32, "-");
		return;
	}
	if (end <= 0)
		end = now_ms;
	js_duration_format(end > start ? end - start : 0, out);
}

/* A word as a shell would need it quoted ('...' unless it is plain). */
static void
quote_word(struct js_buf *b, const char *w)
{
	const char *p;

	if (*w != '\0' && strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN"
	    "OPQRSTUVWXYZ0123456789_./=:,@%+-") == strlen(w)) {
		js_buf_puts(b, w);
		return;
	}
	js_buf_puts(b, "'");
	for (p = w; *p; p++) {
		if (*p == '\'')
			js_buf_puts(b, "'\\''");
		else
			js_buf_add(b, p, 1);
	}
	js_buf_puts(b, "'");
}

char *
cl_job_what(const json_t *job)
{
	struct js_buf b = JS_BUF_INIT;
	json_t *cmd = json_object_get(job, "command"), *w;
	json_t *ct = json_object_get(job, "container");
	size_t i;

	if (json_is_object(ct)) {
		js_buf_printf(&b, "[%s] ", js_job_str(ct, "image") ?
		    js_job_str(ct, "image") : "?");
		cmd = json_object_get(ct, "command");
	}
	if (js_job_str(job, "shell") != NULL) {
		js_buf_puts(&b, "sh -c ");
		quote_word(&b, js_job_str(job, "shell"));
	}
	json_array_foreach(cmd, i, w) {
		if (i > 0)
			js_buf_puts(&b, " ");
		quote_word(&b, json_is_string(w) ? json_string_value(w) : "?");
	}
	if (js_job_str(job, "builtin") != NULL)
		js_buf_printf(&b, "builtin %s", js_job_str(job, "builtin"));
	js_buf_puts(&b, "");
	return js_buf_take(&b, NULL);
}

size_t
cl_short_len(const json_t *jobs)
{
	size_t n = 8, i, j, k;
	const char *a, *b;

	for (i = 0; i < json_array_size(jobs); i++)
		for (j = i + 1; j < json_array_size(jobs); j++) {
			a = js_job_str(json_array_get(jobs, i), "id");
			b = js_job_str(json_array_get(jobs, j), "id");
			if (a == NULL || b == NULL)
				continue;
			for (k = 0; a[k] && a[k] == b[k]; k++)
				;
			if (k + 1 > n && k < JS_ID_LEN)
				n = k + 1;
		}
	return n;
}

/* The cells of one row of the ls table. */
enum { C_ID, C_STATE, C_EXIT, C_CREATED, C_TIME, C_NAME, C_WHAT, NCOLS };

static void
row_cells(const json_t *job, size_t idlen, int64_t now_ms,
    char cells[NCOLS][64], char **what)
{
	const char *id = js_job_str(job, "id"), *st = js_job_str(job,
	    "status"), *name = js_job_str(job, "name");
	json_t *code = json_object_get(job, "exit_code");
	json_t *sig = json_object_get(job, "signal");

	snprintf(cells[C_ID], 64, "%.*s", (int)idlen, id ? id : "?");
	snprintf(cells[C_STATE], 64, "%s%s", st ? st : "?",
	    js_job_str(job, "retrieved_at") ? "*" : "");
	if (json_is_integer(sig) && json_integer_value(sig) > 0)
		snprintf(cells[C_EXIT], 64, "sig %lld",
		    (long long)json_integer_value(sig));
	else if (json_is_integer(code))
		snprintf(cells[C_EXIT], 64, "%lld",
		    (long long)json_integer_value(code));
	else
		snprintf(cells[C_EXIT], 64, "-");
	cl_ago(time_ms(job, "created_at"), now_ms, cells[C_CREATED]);
	cl_job_duration(job, now_ms, cells[C_TIME]);
	snprintf(cells[C_NAME], 64, "%.40s", name ? name : "-");
	*what = cl_job_what(job);
}

void
cl_print_table(FILE *fp, const json_t *jobs, int64_t now_ms)
{
	static const char *const head[NCOLS] = { "ID", "STATE", "EXIT",
	    "CREATED", "TIME", "NAME", "COMMAND" };
	size_t w[NCOLS], i, k, n = json_array_size(jobs), idlen;
	char (*cells)[NCOLS][64] = calloc(n ? n : 1, sizeof *cells);
	char **what = calloc(n ? n : 1, sizeof *what);

	if (cells == NULL || what == NULL) {
		free(cells);
		free(what);
		return;
	}
	idlen = cl_short_len(jobs);
	for (k = 0; k < NCOLS; k++)
		w[k] = strlen(head[k]);
	for (i = 0; i < n; i++) {
		row_cells(json_array_get(jobs, i), idlen, now_ms, cells[i],
		    &what[i]);
		for (k = 0; k < C_WHAT; k++)
			if (strlen(cells[i][k]) > w[k])
				w[k] = strlen(cells[i][k]);
	}
	for (k = 0; k < C_WHAT; k++)
		fprintf(fp, "%-*s  ", (int)w[k], head[k]);
	fprintf(fp, "%s\n", head[C_WHAT]);
	for (i = 0; i < n; i++) {
		for (k = 0; k < C_WHAT; k++)
			fprintf(fp, "%-*s  ", (int)w[k], cells[i][k]);
		fprintf(fp, "%.70s\n", what[i] ? what[i] : "?");
		free(what[i]);
	}
	free(cells);
	free(what);
}

void
cl_print_outcome(FILE *fp, const json_t *job, int64_t now_ms)
{
	const char *st = js_job_str(job, "status"), *err = js_job_str(job,
	    "error");
	json_t *code = json_object_get(job, "exit_code");
	json_t *sig = json_object_get(job, "signal");
	char d[32];

	cl_job_duration(job, now_ms, d);
	fprintf(fp, "%s %s", js_job_str(job, "id"), st ? st : "?");
	if (json_is_integer(sig) && json_integer_value(sig) > 0)
		fprintf(fp, ", signal %lld", (long long)json_integer_value(sig));
	else if (json_is_integer(code))
		fprintf(fp, ", exit %lld", (long long)json_integer_value(code));
	if (strcmp(d, "-") != 0)
		fprintf(fp, ", %s", d);
	if (err != NULL && st != NULL && strcmp(st, "completed") != 0)
		fprintf(fp, ": %s", err);
	fputc('\n', fp);
}

void
cl_print_job(FILE *fp, const json_t *job, int64_t now_ms)
{
	static const char *const fields[] = { "id", "name", "status",
	    "exit_code", "signal", "error", "created_at", "started_at",
	    "finished_at", "retrieved_at", "attempts", "priority", "batch",
	    "owner", "worker", "run_at", "rerun_of" };
	char *what = cl_job_what(job), d[32];
	size_t i;

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		json_t *v = json_object_get(job, fields[i]);
		char *s;
		if (v == NULL || json_is_null(v))
			continue;
		s = json_is_string(v) ? NULL : js_json_dumps(v, JSON_ENCODE_ANY |
		    JSON_COMPACT, NULL, NULL);
		fprintf(fp, "%-13s %s\n", fields[i], s ? s :
		    json_is_string(v) ? json_string_value(v) : "?");
		free(s);
	}
	cl_job_duration(job, now_ms, d);
	fprintf(fp, "%-13s %s\n%-13s %s\n", "duration", d, "runs",
	    what ? what : "?");
	free(what);
}
