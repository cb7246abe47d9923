/* testutil.h - shared helpers for the cmocka unit tests. */
#ifndef JS_TESTUTIL_H
#define JS_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

/* A fresh mkdtemp directory (mode 0750) per test; removed by rm_tree. */
static inline char *
tu_tempdir(void)
{
	char *d = strdup("/tmp/jobspool-unit.XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	assert_int_equal(chmod(d, 0750), 0);
	return d;
}

static inline void
tu_rm_tree(char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

/* Number of entries in dir (not counting . and ..) whose name ends with
 * suffix (NULL: all). */
static inline int
tu_count(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = suffix ? strlen(suffix) : 0;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (suffix == NULL || (l >= s && strcmp(de->d_name + l - s, suffix) == 0))
			n++;
	}
	closedir(d);
	return n;
}

/* A fixture: a fresh spool in its own temporary directory
 * (TU_SPOOL_TEST(test) in a test list: cmocka_unit_test_setup_teardown with
 * tu_spool_setup and tu_spool_teardown; a test gets it as *state). */
#define TU_SPOOL_TEST(fn) \
	cmocka_unit_test_setup_teardown(fn, tu_spool_setup, tu_spool_teardown)
struct tu_spool {
	char *dir;
	struct js_spool *sp;
};

/* Number of files in f's tmp/ (a write left behind, or under way). */
static inline int
tu_tmp_files(const struct tu_spool *f)
{
	char p[600];

	snprintf(p, sizeof p, "%s/tmp", f->dir);
	return tu_count(p, NULL);
}

static inline int
tu_spool_setup(void **state)
{
	struct tu_spool *f = calloc(1, sizeof *f);
	char err[512];

	assert_non_null(f);
	f->dir = tu_tempdir();
	f->sp = js_spool_open(f->dir, 0, err, sizeof err);
	if (f->sp == NULL)
		fail_msg("open: %s", err);
	*state = f;
	return 0;
}

static inline int
tu_spool_teardown(void **state)
{
	struct tu_spool *f = *state;

	js_spool_close(f->sp);
	tu_rm_tree(f->dir);
	free(f);
	return 0;
}

/* Submits a job made from JSON text into sp for owner (in batch, NULL:
 * none); its id into id.  A test fails if the text is not a valid job or
 * the submit fails. */
static inline void
tu_submit(struct js_spool *sp, const char *text, const char *owner,
    const char *batch, char id[JS_ID_SIZE])
{
	char err[512];
	json_t *in, *v, *job;

	in = js_job_parse(text, strlen(text), err, sizeof err);
	if (in == NULL)
		fail_msg("parse: %s", err);
	v = js_job_validate(in, err, sizeof err);
	if (v == NULL)
		fail_msg("validate: %s", err);
	job = js_job_new(v, NULL, owner, batch);
	assert_non_null(job);
	assert_int_equal(js_spool_submit(sp, job), 0);
	snprintf(id, JS_ID_SIZE, "%s", js_job_str(job, "id"));
	json_decref(in);
	json_decref(v);
	json_decref(job);
}

/* tu_submit for owner "owner"; returns the id (a static buffer). */
static inline const char *
tu_submit_text(struct js_spool *sp, const char *text)
{
	static char id[JS_ID_SIZE];

	tu_submit(sp, text, "owner", NULL, id);
	return id;
}

/* Fills the filesystem of directory dir (a small tmpfs) with dir/fill
 * until a write fails with ENOSPC. */
static inline void
tu_fill(const char *dir)
{
	char path[700], block[4096];
	int fd;

	snprintf(path, sizeof path, "%s/fill", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	memset(block, 'x', sizeof block);
	while (write(fd, block, sizeof block) > 0)
		;
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(close(fd), 0);
}

/* The JSON text s parsed (a test fails if it is not JSON). */
/* The content of the file at path (a static buffer of 8 KiB; "" if there
 * is none). */
static inline const char *
tu_slurp(const char *path)
{
	static char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	n = read(fd, buf, sizeof buf - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static inline json_t *
tu_json(const char *s)
{
	json_t *j = json_loads(s, 0, NULL);

	assert_non_null(j);
	return j;
}

#endif
