/*
 * capture.h - running a helper program to its end and keeping what it
 * prints: the Slurm watcher's sbatch, scontrol, sacct, squeue and scancel
 * (slurm.c).  Not for jobs (run.c spawns those).
 *
 * The program gets its own process group (so that a signal meant for the
 * caller's group, such as the SIGTERM a job's watcher is stopped with, does
 * not reach it), SIGTERM, SIGINT and SIGPIPE at their defaults, no signal
 * blocked, the environment given and nothing else open but its stdin,
 * stdout and stderr.  Its stdin is the text given, then end of file; its
 * stdout and stderr are read as they come (so that a program printing more
 * than a pipe holds never blocks) and kept up to the size of the caller's
 * buffers, the rest counted and dropped.  The caller's SIGPIPE disposition
 * does not matter: a program that exits without reading its stdin is not
 * a signal to the caller.
 *
 * Nothing here prints, exits or allocates; errors are returned with errno.
 */
#ifndef JS_CAPTURE_H
#define JS_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* Where one output stream goes: the caller's buffer, NUL-terminated. */
struct capture_buf {
	char *buf;		/* size bytes, the caller's */
	size_t size;		/* >= 1 */
	size_t len;		/* bytes kept: at most size - 1 (set) */
	uint64_t total;		/* bytes the program wrote (set); more than
				 * len if the rest was dropped */
};

struct capture_cmd {
	const char *path;	/* a path (with a '/') or a name looked up
				 * in the caller's PATH */
	char *const *argv;	/* NULL-terminated; argv[0] as the program
				 * sees it */
	char *const *envp;	/* its environment, NULL-terminated; NULL:
				 * an empty one */
	const char *in;		/* its stdin, inlen bytes; NULL: empty */
	size_t inlen;
	int64_t timeout_ms;	/* after this the program's process group
				 * is killed (SIGKILL); <= 0: no limit */
};

/* Runs c's program to its end, out and err receiving its stdout and
 * stderr (either may be NULL: read and dropped).  A signal interrupting
 * the wait does not end it (the caller's handler has run; the program is
 * waited for).  Returns 0 with *status the program's wait status
 * (WIFEXITED, WEXITSTATUS, WIFSIGNALED, WTERMSIG of <sys/wait.h>), or -1
 * with errno:
 *   ENOENT, EACCES, ENOEXEC, ...  the program could not be started (as
 *                 posix_spawn says; nothing ran)
 *   ETIMEDOUT     it ran past timeout_ms and was killed; *status is the
 *                 wait status of that kill
 *   other         a pipe or poll failure (a started program has been
 *                 killed and reaped)
 * In every case out and err hold what was read (at least an empty
 * string) and no descriptor of the call remains open. */
int capture_run(const struct capture_cmd *c, struct capture_buf *out,
    struct capture_buf *err, int *status);

#endif
