/*
 * slurm.h - the Slurm executor of jobspool-processor.
 *
 * The processor's claim, lease, fencing, cancel, retry and result code is
 * the same for every executor: what it spawns for a job is a process whose
 * exit status is the job's, whose stdout and stderr are the job's log, and
 * which stops the job when it gets SIGTERM.  For the local executor that
 * process is the job itself.  For Slurm it is a small watcher, this same
 * program run as "jobspool-processor --slurm-watch ...", which submits the
 * job with sbatch (or re-attaches to the Slurm job recorded in <id>.wip),
 * copies Slurm's output file into the log as it grows, follows the job with
 * scontrol (sacct -c once Slurm has forgotten it), records Slurm's job id,
 * state and reason in <id>.wip (js_spool_annotate), cancels with scancel on
 * SIGTERM, and exits as the Slurm job did.  A further executor (Kubernetes
 * Jobs, say) would be one more such watcher.
 */
#ifndef JS_SLURM_H
#define JS_SLURM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#define SLURM_WATCH_FLAG "--slurm-watch"

/* What the watcher needs to know besides the job (all strings borrowed). */
struct slurm_conf {
	const char *bindir;		/* where sbatch etc. are; "" or NULL: PATH */
	const char *outdir;		/* where Slurm writes the output file */
	const char *conf;		/* SLURM_CONF for the commands, or NULL */
	int64_t poll_ms;		/* how often to ask Slurm */
	int drop;			/* submit with --uid/--gid */
	uid_t uid;
	gid_t gid;
	char *const *labels;		/* "LABEL=sbatch args" words, or NULL */
};

/* argv of the watcher for job id under claim generation gen (owned; free
 * with proc_free_words).  self: path of this program.  NULL on ENOMEM. */
char **slurm_watch_argv(const char *self, const char *spool, const char *id,
    long long gen, const struct slurm_conf *sc);

/* main() of the watcher: argv[1] is SLURM_WATCH_FLAG.  Returns the exit
 * status (it may instead end by the signal that ended the Slurm job). */
int slurm_watch_main(int argc, char *argv[]);

/* The "error" a finished job gets from its "slurm" record, or NULL when
 * Slurm says it completed; written into buf. */
const char *slurm_error(const json_t *slurm, char *buf, size_t len);

/* Checks "LABEL=args" words (for the settings); -1 with err if bad. */
int slurm_labels_ok(char *const *labels, char *err, size_t errlen);

#endif
