/*
 * jobspool-processor - claims pending jobs from the spool, runs them and
 * records their results.  See jobspool-processor(8) and proc.h.
 *
 * main.c: reads the settings (settings.c), opens the spool, runs the loop
 * (with the remote link in remote mode).
 * Exit status: 0 after a clean shutdown, 1 unusable spool or other run-time
 * failure, 2 bad usage or configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"
#include "curlfn.h"
#include "log.h"
#include "proc.h"
#include "remote.h"
#include "slurm.h"
#include "spool.h"

/* Makes sure fds 0, 1 and 2 are open, so that no file we open later
 * becomes a job's stdin or stdout by accident. */
static int
std_fds(void)
{
	int fd;

	for (;;) {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return -1;
		if (fd > 2)
			return close(fd);
	}
}

/* Remote mode: --spool is our work directory; the link process talks to
 * the server (remote.h), with libcurl.  0, or -1 having said why. */
static int
start_remote(struct proc_config *cfg, struct js_spool *sp)
{
	char err[512];

	if (curlfn_load(err, sizeof err) < 0) {
		js_err("remote mode: %s", err);
		return -1;
	}
	if (remote_prepare(sp) < 0)
		js_warn("cannot clean %s: %s", js_spool_path(sp),
		    strerror(errno));
	cfg->link_pid = remote_start(cfg, sp);
	if (cfg->link_pid < 0) {
		js_err("cannot start the remote link: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct proc_config cfg;
	struct js_spool *sp;
	char err[512];
	const char *netfs;
	int rc;

	/* the Slurm executor's watcher of one job (exec_slurm.c) */
	if (argc > 1 && strcmp(argv[1], SLURM_WATCH_FLAG) == 0)
		return slurm_watch_main(argc, argv);
	if (std_fds() < 0) {
		fprintf(stderr, "%s: cannot open /dev/null: %s\n", PROG,
		    strerror(errno));
		return 1;
	}
	rc = proc_config_load(&cfg, argc, argv, err, sizeof err);
	if (rc == JS_CONFIG_HELP)
		return 0;
	if (rc == JS_CONFIG_VERSION) {
		printf("%s %s\n", PROG, JS_VERSION);
		return 0;
	}
	if (rc != JS_CONFIG_OK) {
		fprintf(stderr, "%s: %s\n", PROG, err);
		return 2;
	}
	js_log_open(PROG, (enum js_log_level)cfg.log_level, cfg.use_syslog);
	if (geteuid() == 0 && !cfg.run_as)
		js_warn("running as root with --user root: jobs run as root");
	/* a remote processor's work directory holds copies: its server's
	 * spool is where durability is owed (jobspool-processor(8)) */
	sp = js_spool_open(cfg.spool, JS_SPOOL_CREATE |
	    (cfg.server != NULL ? JS_SPOOL_VOLATILE : 0), err, sizeof err);
	if (sp == NULL) {
		js_err("%s", err);
		proc_config_free(&cfg);
		return 1;
	}
	if ((netfs = js_netfs_name(js_spool_fd(sp))) != NULL)
		js_warn("%s is on a network filesystem (%s): a spool's locks, leases "
		    "and renames are only safe on a local filesystem of one host; "
		    "run processors on other hosts with --server instead (see "
		    "jobspool(5), CAVEATS)", js_spool_path(sp), netfs);
	if (js_spool_check(sp, err, sizeof err) < 0) {
		struct statvfs vfs;
		/* a full disk may free up: keep going (jobs stay pending);
		 * read-only, unwritable or vanished spools are fatal */
		if (fstatvfs(js_spool_fd(sp), &vfs) == 0 &&
		    !(vfs.f_flag & ST_RDONLY) && (vfs.f_bavail == 0 ||
		    (vfs.f_files > 0 && vfs.f_favail == 0))) {
			js_warn("%s; starting anyway", err);
		} else {
			js_err("%s", err);
			js_spool_close(sp);
			proc_config_free(&cfg);
			return 1;
		}
	}
	if (cfg.server != NULL && start_remote(&cfg, sp) < 0) {
		js_spool_close(sp);
		proc_config_free(&cfg);
		return 1;
	}
	rc = proc_loop(sp, &cfg);
	if (cfg.link_pid > 0 && remote_stop(cfg.link_pid, 25000) < 0 && rc == 0)
		rc = 1;
	js_spool_close(sp);
	proc_config_free(&cfg);
	return rc;
}
