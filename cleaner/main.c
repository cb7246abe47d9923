/*
 * jobspool-cleaner - one cleaning pass over a spool, then exit (for cron).
 * See man 8 jobspool-cleaner.  Exit status: 0 done (or another cleaner
 * holds the lock), 1 run-time failure, 2 bad usage or configuration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clean.h"
#include "cleaner.h"
#include "config.h"
#include "log.h"
#include "spool.h"

#define PROG "jobspool-cleaner"

static struct js_opt opts[] = {
	{ .name = "spool", .short_flag = 's', .type = JS_OPT_STR, .def = "./spool",
	  .metavar = "DIR", .help = "spool directory",
	  .check = js_check_nonempty },
	{ .name = "retrieved-age", .type = JS_OPT_DURATION, .def = "1h",
	  .metavar = "AGE", .help = "remove retrieved jobs older than AGE" },
	{ .name = "max-age", .type = JS_OPT_DURATION, .def = "7d",
	  .metavar = "AGE",
	  .help = "remove final jobs never retrieved, and orphan logs, older than AGE" },
	{ .name = "tmp-age", .type = JS_OPT_DURATION, .def = "1h",
	  .metavar = "AGE", .help = "remove files in tmp/ older than AGE" },
	{ .name = "idem-age", .type = JS_OPT_DURATION, .def = "24h",
	  .metavar = "AGE",
	  .help = "remove Idempotency-Key records (idem/) older than AGE" },
	{ .name = "max-rate", .type = JS_OPT_INT, .def = "0", .metavar = "N",
	  .help = "remove at most N jobs per second (0: no limit)",
	  .min = 0, .max = 1000000000 },
	{ .name = "dry-run", .short_flag = 'n', .type = JS_OPT_BOOL, .def = "no",
	  .help = "list what would be removed; remove nothing" },
	{ .name = "wait", .short_flag = 'w', .type = JS_OPT_BOOL, .def = "no",
	  .help = "wait for a running cleaner to finish instead of exiting" },
	{ .name = "log-level", .type = JS_OPT_STR, .def = "info",
	  .metavar = "LEVEL", .help = "error, warning, info or debug",
	  .check = js_log_level_check },
	{ .name = "syslog", .type = JS_OPT_BOOL, .def = "no",
	  .help = "log to syslog (daemon facility) instead of stderr" },
};
#define NOPTS (sizeof opts / sizeof opts[0])

static struct js_opt *
opt(const char *name)
{
	return js_config_get(opts, NOPTS, name);
}

int
main(int argc, char *argv[])
{
	struct cleaner_opts co;
	struct cleaner_stats st;
	struct js_spool *sp = NULL;
	char err[512], summary[512];
	const char *netfs;
	int rc, level, lockfd = -1, status = 1;

	rc = js_config_parse(opts, NOPTS, argc, argv, err, sizeof err);
	if (rc == JS_CONFIG_HELP) {
		js_config_usage(stdout, PROG, "remove retrieved and expired jobs "
		    "from a jobspool spool: one pass, then exit", opts, NOPTS);
		js_config_free(opts, NOPTS);
		return 0;
	}
	if (rc == JS_CONFIG_VERSION) {
		printf("%s %s\n", PROG, JS_VERSION);
		js_config_free(opts, NOPTS);
		return 0;
	}
	if (rc != JS_CONFIG_OK) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		js_config_free(opts, NOPTS);
		return 2;
	}
	level = js_log_level_parse(opt("log-level")->str);	/* checked */
	js_log_open(PROG, (enum js_log_level)level, (int)opt("syslog")->num);

	memset(&co, 0, sizeof co);
	co.retrieved_age_ms = opt("retrieved-age")->num;
	co.max_age_ms = opt("max-age")->num;
	co.tmp_age_ms = opt("tmp-age")->num;
	co.idem_age_ms = opt("idem-age")->num;
	co.max_rate = opt("max-rate")->num;
	co.dry_run = (int)opt("dry-run")->num;
	co.out = stdout;

	sp = js_spool_open(opt("spool")->str, 0, err, sizeof err);
	if (sp == NULL) {
		js_err("%s", err);
		goto out;
	}
	if ((netfs = js_netfs_name(js_spool_fd(sp))) != NULL)
		js_warn("%s is on a network filesystem (%s): a spool's locks, leases "
		    "and renames are only safe on a local filesystem of one host; see "
		    "jobspool(5), CAVEATS", js_spool_path(sp), netfs);
	lockfd = js_clean_lock(sp, (int)opt("wait")->num);
	if (lockfd < 0) {
		if (errno == EWOULDBLOCK) {
			js_warn("another cleaner is running on %s (it holds "
			    "%s/%s); nothing done", js_spool_path(sp),
			    js_spool_path(sp), JS_CLEANER_LOCK);
			status = 0;
		} else
			js_err("cannot lock %s/%s: %s", js_spool_path(sp),
			    JS_CLEANER_LOCK, strerror(errno));
		goto out;
	}
	if (cleaner_pass(sp, &co, &st) < 0)
		goto out;
	cleaner_summary(summary, sizeof summary, &st, co.dry_run);
	printf("%s: %s\n", PROG, summary);
	if (opt("syslog")->num)
		js_info("%s", summary);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		js_err("cannot write to standard output: %s", strerror(errno));
		goto out;
	}
	status = st.errors ? 1 : 0;
out:
	if (lockfd >= 0)
		close(lockfd);
	js_spool_close(sp);
	js_config_free(opts, NOPTS);
	return status;
}
