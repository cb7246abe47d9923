/* Unit tests for lib/pause.c: what a hand-made paused.d/ may hold, many
 * labels, and a pause that cannot be written leaving the spool as it was
 * (a full tmpfs, as root) (issue 15, coverage). */
#include <errno.h>
#include <sys/mount.h>

#include "testutil.h"
#include "pause.h"

static void
touch_at(const char *dir, const char *name)
{
	char path[700];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
}

static void
test_read_hand_made(void **state)
{
	struct tu_spool *f = *state;
	struct js_pause p;
	char dir[600], name[32], path[700];
	json_t *j;
	int i;

	/* "paused" as a directory pauses nothing */
	snprintf(path, sizeof path, "%s/" JS_PAUSE_FILE, f->dir);
	assert_int_equal(mkdir(path, 0750), 0);
	snprintf(dir, sizeof dir, "%s/" JS_PAUSE_DIR, f->dir);
	assert_int_equal(mkdir(dir, 0750), 0);
	/* 12 labels written out of order: read sorted */
	for (i = 11; i >= 0; i--) {
		snprintf(name, sizeof name, "l%02d", i);
		touch_at(dir, name);
	}
	/* not labels: a name that is no label word, a hidden file, a
	 * directory */
	touch_at(dir, "not a label");
	touch_at(dir, ".hidden");
	snprintf(path, sizeof path, "%s/sub", dir);
	assert_int_equal(mkdir(path, 0750), 0);
	assert_int_equal(js_pause_read(f->sp, &p), 0);
	assert_false(p.all);
	assert_int_equal(p.nlabels, 12);
	assert_string_equal(p.labels[0], "l00");
	assert_string_equal(p.labels[11], "l11");
	assert_true(js_pause_any(&p));
	assert_true(js_pause_has(&p, "l07"));
	assert_false(js_pause_has(&p, "sub"));
	assert_false(js_pause_has(&p, NULL));
	j = js_pause_json(&p);
	assert_non_null(j);
	assert_false(json_is_true(json_object_get(j, "spool")));
	assert_int_equal(json_array_size(json_object_get(j, "labels")), 12);
	json_decref(j);
	js_pause_free(&p);
	assert_int_equal(p.nlabels, 0);
	assert_false(js_pause_any(&p));
	assert_false(js_pause_has(&p, "l07"));
	/* resuming the spool: the directory is no pause, nothing removed */
	assert_int_equal(js_pause_set(f->sp, NULL, 0, NULL), 0);
	snprintf(path, sizeof path, "%s/" JS_PAUSE_FILE, f->dir);
	assert_int_equal(access(path, F_OK), 0);
}

static void
test_set_full_disk(void **state)
{
	struct tu_spool *f = *state;
	char path[600], fill[700], err[512];
	struct js_spool *sp;
	struct js_pause p;
	int rc, e, made;

	snprintf(path, sizeof path, "%s/full", f->dir);
	assert_int_equal(mkdir(path, 0750), 0);
	if (mount("tmpfs", path, "tmpfs", 0, "size=64k,mode=0750") < 0)
		skip();
	sp = js_spool_open(path, 0, err, sizeof err);
	assert_non_null(sp);
	tu_fill(path);
	errno = 0;
	rc = js_pause_set(sp, "gpu", 1, "admin");
	e = errno;
	snprintf(fill, sizeof fill, "%s/" JS_PAUSE_DIR, path);
	made = access(fill, F_OK) == 0;
	assert_int_equal(js_pause_read(sp, &p), 0);
	js_spool_close(sp);
	assert_int_equal(umount(path), 0);
	/* refused, and paused.d/ made for it removed again */
	assert_int_equal(rc, -1);
	assert_int_equal(e, ENOSPC);
	assert_false(made);
	assert_false(js_pause_any(&p));
	js_pause_free(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_read_hand_made),
		TU_SPOOL_TEST(test_set_full_disk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
