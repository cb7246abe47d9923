/* Unit tests for lib/registry.c: the entries a listing must skip, the
 * alive rule's branches, pruning, remote workers refreshed and forgotten
 * (issue 15, coverage). */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "registry.h"
#include "util.h"

static void
put(struct tu_spool *f, const char *name, const char *text, int age_s)
{
	char path[700];
	struct timespec ts[2];
	int fd;

	snprintf(path, sizeof path, "%s/" JS_REGISTRY_DIR "/%s", f->dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd), 0);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age_s;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static const struct js_proc_info *
find(const struct js_proc_info *v, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

/* A pid that is surely gone: a child that has exited and been reaped. */
static long
dead_pid(void)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0)
		_exit(0);
	assert_int_equal(waitpid(p, NULL, 0), p);
	return (long)p;
}

static void
test_list_skips_and_alive(void **state)
{
	struct tu_spool *f = *state;
	struct js_proc_info *v, self;
	char host[256], path[700], text[1024], big[70000];
	size_t n;
	long gone = dead_pid();
	int64_t now = js_now_ms();

	js_hostname(host, sizeof host);
	snprintf(path, sizeof path, "%s/" JS_REGISTRY_DIR, f->dir);
	/* no directory yet: none */
	assert_int_equal(js_registry_list(f->sp, now, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(mkdir(path, 0750), 0);

	/* not entries: skipped */
	put(f, ".hidden.json", "{}", 0);
	put(f, "noext", "{}", 0);
	put(f, "bad.json", "not json", 0);
	put(f, "empty.json", "", 0);	/* its data lost to a power loss */
	put(f, "noid.json", "{\"lease_ms\":1000}", 0);
	put(f, "badid.json", "{\"id\":\"a b\",\"lease_ms\":1000}", 0);
	put(f, "nolease.json", "{\"id\":\"nolease\",\"lease_ms\":0}", 0);
	memset(big, ' ', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	put(f, "big.json", big, 0);
	snprintf(path, sizeof path, "%s/" JS_REGISTRY_DIR "/dir.json", f->dir);
	assert_int_equal(mkdir(path, 0750), 0);
	/* entries */
	put(f, "remote.json", "{\"id\":\"remote\",\"host\":\"elsewhere.example\","
	    "\"pid\":1,\"lease_ms\":60000,\"labels\":[\"gpu\",\"gpu\",\"bad label\","
	    "7],\"started_at\":\"not a time\",\"exclusive\":true,\"slots\":4}", 0);
	put(f, "stale.json", "{\"id\":\"stale\",\"lease_ms\":1000}", 3600);
	snprintf(text, sizeof text, "{\"id\":\"gone\",\"host\":\"%s\",\"pid\":%ld,"
	    "\"lease_ms\":60000}", host, gone);
	put(f, "gone.json", text, 0);
	snprintf(text, sizeof text, "{\"id\":\"reused\",\"host\":\"%s\",\"pid\":%ld,"
	    "\"pid_start\":1,\"lease_ms\":60000}", host, (long)getpid());
	put(f, "reused.json", text, 0);
	js_proc_info_self(&self, NULL, 0, 0, 2, 60000);
	assert_int_equal(js_registry_write(f->sp, &self), 0);

	assert_int_equal(js_registry_list(f->sp, now, &v, &n), 0);
	assert_int_equal(n, 5);
	assert_string_equal(v[0].id, "gone");	/* sorted by id */
	assert_true(find(v, n, "remote")->alive);	/* another host: by time */
	assert_int_equal(find(v, n, "remote")->nlabels, 1);
	assert_string_equal(find(v, n, "remote")->labels[0], "gpu");
	assert_int_equal(find(v, n, "remote")->started_ms, 0);
	assert_true(find(v, n, "remote")->exclusive);
	assert_int_equal(find(v, n, "remote")->slots, 4);
	assert_false(find(v, n, "stale")->alive);	/* not refreshed */
	assert_false(find(v, n, "gone")->alive);	/* pid gone */
	assert_false(find(v, n, "reused")->alive);	/* pid reused */
	assert_true(find(v, n, self.id)->alive);
	free(v);

	/* pruning removes this host's dead pids only, not the late ones */
	assert_int_equal(js_registry_prune(f->sp, now), 2);
	assert_int_equal(js_registry_list(f->sp, now, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_null(find(v, n, "gone"));
	assert_null(find(v, n, "reused"));
	assert_non_null(find(v, n, "stale"));
	free(v);

	/* bad ids are refused for writing and removing */
	snprintf(self.id, sizeof self.id, "../x");
	errno = 0;
	assert_int_equal(js_registry_write(f->sp, &self), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(js_registry_remove(f->sp, ".hidden"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_registry_remove(f->sp, "never-there"), 0);
}

static void
test_workers_table(void **state)
{
	struct tu_spool *f = *state;
	struct js_workers *w = js_workers_new();
	struct js_proc_info p, *v;
	const struct js_proc_info *e;
	size_t n;
	json_t *j;
	int64_t t = 1000000;

	assert_non_null(w);
	memset(&p, 0, sizeof p);
	snprintf(p.id, sizeof p.id, "w1");
	p.slots = 3;
	p.running = 1;
	p.lease_ms = 1000;
	p.seen_ms = t;
	assert_int_equal(js_workers_seen(w, &p), 0);
	/* seen again without slots, running, start: those are kept */
	p.slots = -1;
	p.running = -1;
	p.seen_ms = t + 500;
	assert_int_equal(js_workers_seen(w, &p), 0);
	snprintf(p.id, sizeof p.id, "w0");
	p.slots = 1;
	p.started_ms = 42;
	assert_int_equal(js_workers_seen(w, &p), 0);
	js_workers_touch(w, "w1", t + 900);
	js_workers_touch(w, "w1", t + 100);	/* never backwards */
	js_workers_touch(w, "nobody", t + 900);
	assert_int_equal(js_workers_list(w, t + 1800, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].id, "w0");
	assert_false(v[0].alive);		/* last seen t+500 */
	assert_int_equal(v[0].started_ms, 42);
	e = find(v, n, "w1");
	assert_true(e->alive);			/* touched at t+900 */
	assert_true(e->remote);
	assert_int_equal(e->slots, 3);
	assert_int_equal(e->running, 1);
	assert_int_equal(e->started_ms, t);	/* first seen */
	j = js_proc_info_json(e);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(j, "remote")));
	/* a remote worker's host and pid are not known */
	assert_true(json_is_null(json_object_get(j, "host")));
	assert_true(json_is_null(json_object_get(j, "pid")));
	assert_int_equal(json_integer_value(json_object_get(j, "slots")), 3);
	json_decref(j);
	free(v);
	/* with the local registry: only the live ones if asked */
	assert_int_equal(js_registry_all(f->sp, w, t + 1800, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, "w1");
	free(v);
	assert_int_equal(js_registry_all(f->sp, w, t + 1800, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);
	/* forgotten after 10 leases unseen */
	assert_int_equal(js_workers_list(w, t + 20000, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	js_workers_free(w);
	js_workers_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		TU_SPOOL_TEST(test_list_skips_and_alive),
		TU_SPOOL_TEST(test_workers_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
