/*
 * container.c - container jobs through the runtime's CLI (jobspool-processor(8)):
 *
 *   RUNTIME [global args] run --rm --name jobspool-<id> [--container-args]
 *       -e K=V ... IMAGE [CMD...]
 *
 * The CLI runs as the processor's user, in the job's own process group,
 * with its output in the job's log.  Stopping a container goes through the
 * runtime too ("stop", then "kill"), since the container's processes are
 * not children of the CLI.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

/* Whether name is an executable file in the directories of PATH. */
static int
in_path(const char *name)
{
	static const char *const dirs[] = {
		"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
		"/sbin", "/bin",
	};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return 1;
	}
	return 0;
}

const char *
container_default_runtime(void)
{
	if (in_path("podman"))
		return "podman";
	if (in_path("docker"))
		return "docker";
	return "podman";
}

int
container_runtime_ok(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	if (strcmp(base, "podman") != 0 && strcmp(base, "docker") != 0)
		return 0;
	return base == name || name[0] == '/';
}

/* Appends a copy of s to the NULL-terminated array *v of *n words. */
static int
push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof **v);

	if (nv == NULL)
		return -1;
	*v = nv;
	if ((nv[*n] = strdup(s)) == NULL)
		return -1;
	nv[++*n] = NULL;
	return 0;
}

char **
container_argv(const struct proc_config *cfg, const char *id,
    const json_t *container, char *err, size_t errlen)
{
	json_t *env = json_object_get(container, "environment"), *cmd, *v;
	const char *image = js_job_str(container, "image"), *k;
	char **argv = NULL, name[64], *kv;
	size_t n = 0, i;
	int bad = 0;

	if (image == NULL) {
		snprintf(err, errlen, "container.image is missing");
		return NULL;
	}
	if (env == NULL)
		env = json_object_get(container, "env");
	snprintf(name, sizeof name, "jobspool-%s", id);
	bad |= push(&argv, &n, cfg->runtime);
	for (i = 0; cfg->runtime_global && cfg->runtime_global[i]; i++)
		bad |= push(&argv, &n, cfg->runtime_global[i]);
	bad |= push(&argv, &n, "run");
	for (i = 0; cfg->container_args && cfg->container_args[i]; i++)
		bad |= push(&argv, &n, cfg->container_args[i]);
	bad |= push(&argv, &n, "--rm");
	bad |= push(&argv, &n, "--name");
	bad |= push(&argv, &n, name);
	json_object_foreach(env, k, v) {
		if (!json_is_string(v))
			continue;
		if (asprintf(&kv, "%s=%s", k, json_string_value(v)) < 0) {
			bad = 1;
			break;
		}
		bad |= push(&argv, &n, "-e");
		bad |= push(&argv, &n, kv);
		free(kv);
	}
	bad |= push(&argv, &n, image);
	cmd = json_object_get(container, "command");
	if (json_is_string(cmd)) {
		/* a string is a shell line, as in the seed API */
		bad |= push(&argv, &n, "sh");
		bad |= push(&argv, &n, "-c");
		bad |= push(&argv, &n, json_string_value(cmd));
	} else {
		json_array_foreach(cmd, i, v)
			bad |= push(&argv, &n, json_is_string(v) ?
			    json_string_value(v) : "");
	}
	if (bad || argv == NULL) {
		proc_free_words(argv);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return argv;
}

pid_t
container_signal(const struct proc_config *cfg, const char *id, int hard,
    int64_t grace_ms)
{
	char **argv = NULL, name[64], secs[32];
	size_t n = 0, i;
	int bad = 0;
	pid_t pid;

	snprintf(name, sizeof name, "jobspool-%s", id);
	bad |= push(&argv, &n, cfg->runtime);
	for (i = 0; cfg->runtime_global && cfg->runtime_global[i]; i++)
		bad |= push(&argv, &n, cfg->runtime_global[i]);
	bad |= push(&argv, &n, hard ? "kill" : "stop");
	if (!hard) {
		/* the runtime's own TERM -> KILL grace, like ours */
		snprintf(secs, sizeof secs, "%lld",
		    (long long)((grace_ms + 999) / 1000));
		bad |= push(&argv, &n, "-t");
		bad |= push(&argv, &n, secs);
	}
	bad |= push(&argv, &n, name);
	if (bad || argv == NULL) {
		proc_free_words(argv);
		errno = ENOMEM;
		return -1;
	}
	pid = run_helper_argv(argv);
	if (pid < 0)
		js_warn("cannot run %s %s %s: %s", cfg->runtime,
		    hard ? "kill" : "stop", name, strerror(errno));
	proc_free_words(argv);
	return pid;
}
