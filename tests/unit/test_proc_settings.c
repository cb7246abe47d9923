/* Unit tests for processor/settings.c: the combinations of settings the
 * processor refuses (each with the message it gives), what it derives from
 * the ones it takes (labels, trailing slashes, defaults), and a SIGHUP
 * reload (proc_reload): what applies, what is kept, a bad one changing
 * nothing. */
#include <errno.h>
#include <pwd.h>

#include "testutil.h"
#include "config.h"
#include "../../processor/proc.h"

static char err[512];
static struct proc_config cfg;

/* No JOBSPOOL_* variable of the caller may change what is read. */
static int
clean_env(void **state)
{
	extern char **environ;
	char name[256];
	size_t i;

	(void)state;
	for (i = 0; environ[i] != NULL;) {
		size_t len = strcspn(environ[i], "=");
		if (strncmp(environ[i], "JOBSPOOL_", 9) != 0 ||
		    len >= sizeof name) {
			i++;
			continue;
		}
		memcpy(name, environ[i], len);
		name[len] = '\0';
		unsetenv(name);		/* environ shifts: same i again */
	}
	return 0;
}

/* Loads argv (NULL-terminated; argv[0] is the program); the JS_CONFIG_*
 * code.  On success cfg holds the settings (free with proc_config_free). */
static int
load(char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	err[0] = '\0';
	return proc_config_load(&cfg, argc, argv, err, sizeof err);
}

/* argv must be refused with a message holding want. */
static void
refused(char **argv, const char *want)
{
	assert_int_equal(load(argv), JS_CONFIG_ERROR);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
}

/* Writes text into the file dir/name, whose path goes into path. */
static void
put(char *path, size_t len, const char *dir, const char *name,
    const char *text)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_defaults(void **state)
{
	char *argv[] = { "p", NULL };

	(void)state;
	assert_int_equal(load(argv), JS_CONFIG_OK);
	assert_string_equal(cfg.spool, "./spool");
	assert_true(cfg.jobs >= 1);		/* -j 0: one per CPU */
	assert_int_equal(cfg.lease_ms, 60000);
	assert_int_equal(cfg.notify_on, JS_FINAL_MASK);
	assert_int_equal(cfg.executor, PROC_EXEC_LOCAL);
	assert_null(cfg.server);
	assert_null(cfg.notify_command);
	assert_int_equal(cfg.nall_labels, 0);
	assert_non_null(cfg.user);
	assert_non_null(cfg.home);
	if (geteuid() == 0) {		/* jobs run as nobody */
		assert_int_equal(cfg.run_as, 1);
		assert_string_equal(cfg.user, "nobody");
	} else {
		assert_int_equal(cfg.run_as, 0);
	}
	proc_config_free(&cfg);
	assert_null(cfg.spool);		/* cleared */
}

static void
test_user(void **state)
{
	char *root[] = { "p", "--user", "root", NULL };
	char *none[] = { "p", "--user", "no-such-user-jobspool", NULL };
	struct passwd *pw = getpwuid(geteuid());

	(void)state;
	assert_int_equal(load(root), JS_CONFIG_OK);
	/* --user root, or not root at all: the processor's own user */
	assert_int_equal(cfg.run_as, 0);
	assert_non_null(pw);
	assert_string_equal(cfg.user, pw->pw_name);
	assert_string_equal(cfg.home, pw->pw_dir);
	proc_config_free(&cfg);
	if (geteuid() != 0) {
		/* --user is ignored when the processor is not root */
		assert_int_equal(load(none), JS_CONFIG_OK);
		assert_int_equal(cfg.run_as, 0);
		proc_config_free(&cfg);
		skip();
	}
	refused(none, "no such user");
	refused(none, "user");
}

static void
test_remote(void **state)
{
	char *dir = tu_tempdir(), tf[300], blank[300], empty[300], cert[300];
	char *tok_only[] = { "p", "--token", "s3cret", NULL };
	char *both[] = { "p", "--server", "http://h", "--token", "a",
	    "--token-file", tf, NULL };
	char *nofile[] = { "p", "--server", "http://h", "--token-file",
	    "/nonexistent/jobspool-token", NULL };
	char *emptyf[] = { "p", "--server", "http://h", "--token-file", empty,
	    NULL };
	char *blankf[] = { "p", "--server", "http://h", "--token-file", blank,
	    NULL };
	char *good[] = { "p", "--server", "https://h:8080///", "--token-file",
	    tf, "--claim-wait", "5s", NULL };
	char *nokey[] = { "p", "--server", "http://h", "--tls-cert", cert, NULL };
	char *noca[] = { "p", "--server", "http://h", "--tls-ca",
	    "/nonexistent/ca.pem", NULL };
	char *tls[] = { "p", "--server", "http://h", "--tls-ca", cert,
	    "--tls-cert", cert, "--tls-key", cert, NULL };

	(void)state;
	put(tf, sizeof tf, dir, "token", "tok-123\nsecond line ignored\n");
	put(blank, sizeof blank, dir, "blank", "tok 123\n");
	put(empty, sizeof empty, dir, "empty", "\nsecond\n");
	put(cert, sizeof cert, dir, "cert.pem", "not checked here\n");

	refused(tok_only, "--token and --token-file need --server");
	refused(both, "give --token or --token-file, not both");
	refused(nofile, "No such file or directory");
	refused(nofile, "token-file");
	refused(emptyf, "its first line is empty");
	refused(blankf, "its first line has blanks");
	refused(nokey, "--tls-cert and --tls-key go together");
	refused(noca, "tls-ca");
	refused(noca, "No such file or directory");

	assert_int_equal(load(good), JS_CONFIG_OK);
	assert_string_equal(cfg.server, "https://h:8080");	/* no '/' */
	assert_string_equal(cfg.token, "tok-123");		/* first line */
	assert_int_equal(cfg.claim_wait_ms, 5000);
	proc_config_free(&cfg);
	assert_int_equal(load(tls), JS_CONFIG_OK);
	assert_string_equal(cfg.tls_ca, cert);
	assert_string_equal(cfg.tls_cert, cert);
	assert_string_equal(cfg.tls_key, cert);
	proc_config_free(&cfg);
	tu_rm_tree(dir);
}

static void
test_notify(void **state)
{
	char *dir = tu_tempdir(), tf[300], bad[300], empty[300];
	char *chat_only[] = { "p", "--notify-telegram", "42", NULL };
	char *file_only[] = { "p", "--notify-telegram-token-file", tf, NULL };
	char *badtok[] = { "p", "--notify-telegram", "@my_chan",
	    "--notify-telegram-token-file", bad, NULL };
	char *emptytok[] = { "p", "--notify-telegram", "-100123",
	    "--notify-telegram-token-file", empty, NULL };
	char *noapi[] = { "p", "--notify-telegram", "-100123",
	    "--notify-telegram-token-file", tf, "--notify-telegram-api", "",
	    NULL };
	char *good[] = { "p", "--notify-telegram", "@Chan_1",
	    "--notify-telegram-token-file", tf, "--notify-url",
	    "http://hook.example/x//", "--status-url", "https://st.example/",
	    "--notify-on", "failed,cancelled", NULL };
	char *emptyon[] = { "p", "--notify-on", "", NULL };
	char *chats[][2] = { { "-", "" }, { "@", "" }, { "12a", "" },
	    { "@a-b", "" }, { "--5", "" } };
	char *ons[] = { "completed,,failed", "completed,", ",failed",
	    "completedcompleted", "pending", "wip" };
	char *argv[4] = { "p", NULL, NULL, NULL };
	size_t i;

	(void)state;
	put(tf, sizeof tf, dir, "bot", "123:abc\n");
	put(bad, sizeof bad, dir, "bad", "123/abc\n");
	put(empty, sizeof empty, dir, "empty", "");

	refused(chat_only, "--notify-telegram and "
	    "--notify-telegram-token-file go together");
	refused(file_only, "go together");
	refused(badtok, "its first line is no bot token");
	refused(emptytok, "its first line is empty");
	refused(noapi, "--notify-telegram needs --notify-telegram-api");
	for (i = 0; i < sizeof chats / sizeof chats[0]; i++) {
		argv[1] = "--notify-telegram";
		argv[2] = chats[i][0];
		refused(argv, "expected a chat id");
	}
	for (i = 0; i < sizeof ons / sizeof ons[0]; i++) {
		argv[1] = "--notify-on";
		argv[2] = ons[i];
		refused(argv, "expected a comma list of completed, failed, "
		    "cancelled");
	}

	assert_int_equal(load(good), JS_CONFIG_OK);
	assert_string_equal(cfg.notify_chat, "@Chan_1");
	assert_string_equal(cfg.notify_bot_token, "123:abc");
	assert_string_equal(cfg.notify_url, "http://hook.example/x");
	assert_string_equal(cfg.status_url, "https://st.example");
	assert_string_equal(cfg.notify_api, "https://api.telegram.org");
	assert_int_equal(cfg.notify_on, JS_STATE_BIT(JS_FAILED) |
	    JS_STATE_BIT(JS_CANCELLED));
	proc_config_free(&cfg);
	/* an empty list: every outcome, as by default */
	assert_int_equal(load(emptyon), JS_CONFIG_OK);
	assert_int_equal(cfg.notify_on, JS_FINAL_MASK);
	proc_config_free(&cfg);
	tu_rm_tree(dir);
}

static void
test_labels(void **state)
{
	char *dup[] = { "p", "--label", "gpu", "--label", "big", "--label",
	    "gpu", "--label", "big", NULL };
	char *excl[] = { "p", "--exclusive", NULL };
	char *excl_ok[] = { "p", "--exclusive", "--label", "gpu", NULL };
	char *slurm[] = { "p", "--executor", "slurm", "--label", "gpu",
	    "--slurm-label", "gpu=--gres=gpu:1", "--slurm-label",
	    "big=--mem=1G", NULL };
	char *local[] = { "p", "--label", "gpu", "--slurm-label",
	    "big=--mem=1G", NULL };
	char *badform[] = { "p", "--slurm-label", "gpu", NULL };
	char *badname[] = { "p", "--slurm-label", "g!pu=--mem=1G", NULL };
	char *many[2 * JS_LABELS_MAX + 4], names[JS_LABELS_MAX + 1][16];
	int i, n = 0;

	(void)state;
	assert_int_equal(load(dup), JS_CONFIG_OK);
	assert_int_equal(cfg.nall_labels, 2);	/* each once */
	assert_string_equal(cfg.labels[0], "gpu");
	assert_string_equal(cfg.labels[1], "big");
	assert_null(cfg.labels[2]);
	proc_config_free(&cfg);

	refused(excl, "give --label too");
	assert_int_equal(load(excl_ok), JS_CONFIG_OK);
	assert_int_equal(cfg.exclusive, 1);
	proc_config_free(&cfg);

	/* the Slurm executor adds its mappings' names, each once */
	assert_int_equal(load(slurm), JS_CONFIG_OK);
	assert_int_equal(cfg.executor, PROC_EXEC_SLURM);
	assert_int_equal(cfg.nall_labels, 2);
	assert_string_equal(cfg.all_labels[0], "gpu");
	assert_string_equal(cfg.all_labels[1], "big");
	assert_null(cfg.all_labels[2]);
	assert_string_equal(cfg.slurm_labels[1], "big=--mem=1G");
	proc_config_free(&cfg);
	/* the local executor does not */
	assert_int_equal(load(local), JS_CONFIG_OK);
	assert_int_equal(cfg.nall_labels, 1);
	proc_config_free(&cfg);

	refused(badform, "must be LABEL=SBATCH-ARGS");
	refused(badname, "a label holds only letters");

	/* at most JS_LABELS_MAX distinct labels */
	many[n++] = "p";
	for (i = 0; i <= JS_LABELS_MAX; i++) {
		snprintf(names[i], sizeof names[i], "l%d", i);
		many[n++] = "--label";
		many[n++] = names[i];
	}
	many[n] = NULL;
	refused(many, "at most 32 labels");
	many[n - 2] = NULL;		/* one fewer: taken */
	assert_int_equal(load(many), JS_CONFIG_OK);
	assert_int_equal(cfg.nall_labels, JS_LABELS_MAX);
	proc_config_free(&cfg);
}

/* SIGHUP: proc_reload reads the same argv again (settings.c keeps it). */
static void
test_reload(void **state)
{
	char *argv[] = { "p", "--spool", "/tmp/a", "-j", "2", "--executor",
	    "local", "--notify-url", "http://a.example", "--label", "gpu",
	    "--notify-on", "failed", NULL };
	char *remote[] = { "p", "--spool", "/tmp/a", "--server", "http://s1",
	    "--token", "t", "--label", "gpu", NULL };

	(void)state;
	assert_int_equal(load(argv), JS_CONFIG_OK);
	assert_int_equal(cfg.jobs, 2);

	/* what changes applies, except the spool and the executor */
	argv[2] = "/tmp/b";
	argv[4] = "3";
	argv[6] = "slurm";
	argv[8] = "http://b.example";	/* read at start: warned, taken */
	argv[10] = "cpu";
	argv[12] = "completed";
	assert_int_equal(proc_reload(&cfg, err, sizeof err), 0);
	assert_string_equal(cfg.spool, "/tmp/a");
	assert_int_equal(cfg.jobs, 3);
	assert_int_equal(cfg.executor, PROC_EXEC_LOCAL);
	assert_string_equal(cfg.labels[0], "cpu");
	assert_string_equal(cfg.all_labels[0], "cpu");
	assert_int_equal(cfg.notify_on, JS_STATE_BIT(JS_COMPLETED));

	/* a bad value: nothing changes, the error names it */
	argv[4] = "many";
	assert_int_equal(proc_reload(&cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "jobs"));
	assert_int_equal(cfg.jobs, 3);
	assert_int_equal(cfg.notify_on, JS_STATE_BIT(JS_COMPLETED));
	argv[4] = "3";
	argv[10] = "no labels!";
	assert_int_equal(proc_reload(&cfg, err, sizeof err), -1);
	assert_string_equal(cfg.labels[0], "cpu");
	proc_config_free(&cfg);

	/* remote mode: the link claims with the labels it started with */
	assert_int_equal(load(remote), JS_CONFIG_OK);
	remote[4] = "http://s2";
	remote[8] = "cpu";
	assert_int_equal(proc_reload(&cfg, err, sizeof err), 0);
	assert_string_equal(cfg.labels[0], "gpu");
	assert_string_equal(cfg.all_labels[0], "gpu");
	assert_int_equal(cfg.nall_labels, 1);
	proc_config_free(&cfg);
}

/* Values at the edges of their checks: container words that pass and one
 * that is refused, empty values meaning "unset", token files that cannot
 * be read (a directory, a missing file), named in the message. */
static void
test_edges(void **state)
{
	char *words[] = { "p", "--container-runtime", "docker",
	    "--container-global-args", "--runtime runc",
	    "--container-args", " --network=none  --init ", NULL };
	char *quoted[] = { "p", "--container-args", "--name 'x y'", NULL };
	char *empty[] = { "p", "--container-runtime=", "--notify-telegram=",
	    "--notify-on=", NULL };
	char *tokdir[] = { "p", "--server", "http://s", "--token-file", "/tmp",
	    NULL };
	char *tgmissing[] = { "p", "--notify-telegram", "@chan_1",
	    "--notify-telegram-token-file", "/nonexistent/jobspool-token", NULL };

	(void)state;
	assert_int_equal(load(words), JS_CONFIG_OK);
	assert_string_equal(cfg.runtime, "docker");
	assert_string_equal(cfg.runtime_global[0], "--runtime");
	assert_string_equal(cfg.runtime_global[1], "runc");
	assert_null(cfg.runtime_global[2]);
	assert_string_equal(cfg.container_args[0], "--network=none");
	assert_string_equal(cfg.container_args[1], "--init");
	assert_null(cfg.container_args[2]);
	proc_config_free(&cfg);
	refused(quoted, "quotes and backslashes");

	/* empty: the default runtime, no Telegram, every outcome notifies */
	assert_int_equal(load(empty), JS_CONFIG_OK);
	assert_non_null(cfg.runtime);
	assert_true(container_runtime_ok(cfg.runtime));
	assert_null(cfg.notify_chat);
	assert_null(cfg.notify_bot_token);
	assert_int_equal(cfg.notify_on, JS_FINAL_MASK);
	assert_null(cfg.runtime_global[0]);
	proc_config_free(&cfg);

	refused(tokdir, "token-file");
	assert_non_null(strstr(err, strerror(EISDIR)));
	refused(tgmissing, "notify-telegram-token-file");
	assert_non_null(strstr(err, strerror(ENOENT)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_remote),
		cmocka_unit_test(test_notify),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, clean_env, NULL);
}
