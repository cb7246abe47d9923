/* Unit tests for lib/registry.c: the processor registry in the spool and
 * the remote workers' table. */
#include "testutil.h"
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <utime.h>

#include "registry.h"

static struct js_spool *
open_spool(char **dir)
{
	char err[256];
	struct js_spool *sp;

	*dir = tu_tempdir();
	sp = js_spool_open(*dir, 0, err, sizeof err);
	assert_non_null(sp);
	return sp;
}

static void
test_self(void **state)
{
	char *labels[] = { "gpu", "bad label", "gpu", "big", NULL };
	struct js_proc_info p;
	char host[256], id[300];

	(void)state;
	js_proc_info_self(&p, labels, 4, 1, 3, 6000);
	js_hostname(host, sizeof host);
	snprintf(id, sizeof id, "%s:%d", host, (int)getpid());
	assert_string_equal(p.id, id);
	assert_int_equal(p.pid, getpid());
	assert_true(p.pid_start > 0);
	/* invalid and repeated labels are left out */
	assert_int_equal(p.nlabels, 2);
	assert_string_equal(p.labels[0], "gpu");
	assert_string_equal(p.labels[1], "big");
	assert_int_equal(p.exclusive, 1);
	assert_int_equal(p.slots, 3);
	assert_int_equal(p.running, 0);
	assert_int_equal(p.lease_ms, 6000);
	assert_false(p.remote);
}

static void
test_write_list_remove(void **state)
{
	struct js_proc_info p, *v;
	char *dir, path[600];
	struct js_spool *sp = open_spool(&dir);
	char *labels[] = { "cpu", NULL };
	size_t n;
	json_t *j;

	(void)state;
	/* no registry directory yet: an empty list */
	assert_int_equal(js_registry_list(sp, js_now_ms(), &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	js_proc_info_self(&p, labels, 1, 0, 2, 60000);
	p.running = 1;
	assert_int_equal(js_registry_write(sp, &p), 0);
	snprintf(path, sizeof path, "%s/processors/%s.json", dir, p.id);
	j = json_load_file(path, 0, NULL);
	assert_non_null(j);
	assert_string_equal(js_job_str(j, "id"), p.id);
	assert_int_equal(js_job_int(j, "pid", 0), getpid());
	assert_int_equal(js_job_int(j, "slots", 0), 2);
	assert_int_equal(js_job_int(j, "running", 0), 1);
	assert_int_equal(js_job_int(j, "lease_ms", 0), 60000);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(j, "labels"), 0)), "cpu");
	assert_null(json_object_get(j, "alive"));	/* only in listings */
	json_decref(j);
	/* nothing left in tmp/ */
	snprintf(path, sizeof path, "%s/tmp", dir);
	assert_int_equal(tu_count(path, NULL), 0);
	/* junk beside it is skipped */
	snprintf(path, sizeof path, "%s/processors/junk.json", dir);
	j = json_pack("{s:s}", "id", "junk");
	assert_int_equal(json_dump_file(j, path, 0), 0);
	json_decref(j);
	snprintf(path, sizeof path, "%s/processors/x.tmp", dir);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(js_registry_list(sp, js_now_ms(), &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, p.id);
	assert_true(v[0].alive);
	assert_int_equal(v[0].running, 1);
	assert_int_equal(v[0].nlabels, 1);
	/* a lease later, not refreshed: dead */
	assert_false(js_proc_info_alive(&v[0], NULL, v[0].seen_ms + 60001));
	assert_true(js_proc_info_alive(&v[0], NULL, v[0].seen_ms + 60000));
	free(v);
	assert_int_equal(js_registry_remove(sp, p.id), 0);
	assert_int_equal(js_registry_remove(sp, p.id), 0);	/* gone: fine */
	assert_int_equal(js_registry_list(sp, js_now_ms(), &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	/* an id that cannot be a file name */
	snprintf(p.id, sizeof p.id, "../evil");
	assert_int_equal(js_registry_write(sp, &p), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(js_registry_remove(sp, "a/b"), -1);
	js_spool_close(sp);
	tu_rm_tree(dir);
}

/* A child's entry: registered, then killed (-9): dead at once on this
 * host, and pruned. */
static void
test_dead_pid(void **state)
{
	struct js_proc_info p, *v;
	char *dir;
	struct js_spool *sp = open_spool(&dir);
	int fds[2], st;
	pid_t pid;
	size_t n;
	char c;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		js_proc_info_self(&p, NULL, 0, 0, 1, 60000);
		_exit(js_registry_write(sp, &p) == 0 &&
		    write(fds[1], "x", 1) == 1 ? (pause(), 0) : 1);
	}
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(js_registry_list(sp, js_now_ms(), &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].pid, pid);
	assert_true(v[0].alive);
	free(v);
	assert_int_equal(js_registry_prune(sp, js_now_ms()), 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(js_registry_list(sp, js_now_ms(), &v, &n), 0);
	assert_int_equal(n, 1);
	assert_false(v[0].alive);	/* refreshed, but its pid is gone */
	free(v);
	assert_int_equal(js_registry_prune(sp, js_now_ms()), 1);
	assert_int_equal(js_registry_list(sp, js_now_ms(), &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	close(fds[0]);
	close(fds[1]);
	js_spool_close(sp);
	tu_rm_tree(dir);
}

static void
test_workers(void **state)
{
	struct js_workers *w = js_workers_new();
	struct js_proc_info p, *v;
	char *dir;
	struct js_spool *sp = open_spool(&dir);
	int64_t t = js_now_ms();
	size_t n;
	json_t *j;

	(void)state;
	assert_non_null(w);
	memset(&p, 0, sizeof p);
	snprintf(p.id, sizeof p.id, "box 7 (any printable name)");
	snprintf(p.labels[0], JS_LABEL_SIZE, "gpu");
	p.nlabels = 1;
	p.slots = 4;
	p.running = -1;
	p.seen_ms = t;
	p.lease_ms = 1000;
	assert_int_equal(js_workers_seen(w, &p), 0);
	/* seen again without slots: the known ones stay */
	p.slots = -1;
	p.seen_ms = t + 10;
	assert_int_equal(js_workers_seen(w, &p), 0);
	assert_int_equal(js_workers_list(w, t + 20, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].slots, 4);
	assert_true(v[0].remote);
	assert_true(v[0].alive);
	assert_int_equal(v[0].started_ms, t);
	free(v);
	/* a heartbeat keeps it alive, silence kills it */
	js_workers_touch(w, p.id, t + 900);
	assert_int_equal(js_workers_list(w, t + 1800, &v, &n), 0);
	assert_true(n == 1 && v[0].alive);
	free(v);
	assert_int_equal(js_workers_list(w, t + 1901, &v, &n), 0);
	assert_true(n == 1 && !v[0].alive);
	j = js_proc_info_json(&v[0]);
	assert_true(json_is_false(json_object_get(j, "alive")));
	assert_true(json_is_true(json_object_get(j, "remote")));
	assert_int_equal(js_job_int(j, "slots", 0), 4);
	assert_true(json_is_null(json_object_get(j, "running")));
	json_decref(j);
	free(v);
	/* js_registry_all: local and remote, only_alive leaves out dead */
	js_proc_info_self(&p, NULL, 0, 0, 1, 60000);
	assert_int_equal(js_registry_write(sp, &p), 0);
	assert_int_equal(js_registry_all(sp, w, t + 1901, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_false(v[0].remote);
	assert_true(v[1].remote);
	free(v);
	assert_int_equal(js_registry_all(sp, w, t + 1901, 1, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_false(v[0].remote);
	free(v);
	/* forgotten after 10 leases */
	assert_int_equal(js_workers_list(w, t + 900 + 10001, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	js_workers_free(w);
	js_workers_free(NULL);
	js_spool_close(sp);
	tu_rm_tree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self),
		cmocka_unit_test(test_write_list_remove),
		cmocka_unit_test(test_dead_pid),
		cmocka_unit_test(test_workers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
