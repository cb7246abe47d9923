/* registry.c - the processor registry and the remote workers' table
 * (registry.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"
#include "util.h"

#define FILE_MAX 65536		/* a larger file is no registry entry */
#define SUFFIX ".json"
#define DROP_AFTER_LEASES 10	/* remote entries forgotten after that */

static void
copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src != NULL ? src : "");
}

static void
add_label(struct js_proc_info *p, const char *s)
{
	size_t i;

	if (s == NULL || !js_label_valid(s) || p->nlabels == JS_LABELS_MAX)
		return;
	for (i = 0; i < p->nlabels; i++)
		if (strcmp(p->labels[i], s) == 0)
			return;
	copy_str(p->labels[p->nlabels++], JS_LABEL_SIZE, s);
}

void
js_proc_info_self(struct js_proc_info *p, char *const *labels, size_t n,
    int exclusive, int slots, int64_t lease_ms)
{
	size_t i;

	memset(p, 0, sizeof *p);
	js_hostname(p->host, sizeof p->host);
	p->pid = (long)getpid();
	snprintf(p->id, sizeof p->id, "%.250s:%ld", p->host, p->pid);
	if (js_proc_start_time((int)p->pid, &p->pid_start) < 0)
		p->pid_start = 0;
	for (i = 0; i < n && labels != NULL && labels[i] != NULL; i++)
		add_label(p, labels[i]);
	p->exclusive = exclusive != 0;
	p->slots = slots;
	p->running = 0;
	p->started_ms = p->seen_ms = js_now_ms();
	p->lease_ms = lease_ms;
}

/* Whether id can be a file name of the registry: 1 to 255 bytes of
 * letters, digits, '.', '-', '_', ':' and '@', not starting with '.'. */
static int
id_ok(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > 255 || id[0] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && strchr(".-_:@", c) == NULL)
			return 0;
	}
	return 1;
}

/* p as JSON; with full also what only a listing says. */
static json_t *
info_json(const struct js_proc_info *p, int full)
{
	char started[JS_TIME_SIZE], seen[JS_TIME_SIZE];
	json_t *o, *labels = json_array();
	size_t i;

	for (i = 0; labels != NULL && i < p->nlabels; i++)
		if (json_array_append_new(labels, json_string(p->labels[i])) < 0) {
			json_decref(labels);
			labels = NULL;
		}
	if (labels == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	js_time_format(p->started_ms, started);
	js_time_format(p->seen_ms, seen);
	o = json_pack("{s:s,s:s?,s:o?,s:o,s:b,s:o,s:o,s:s?,s:s,s:I}",
	    "id", p->id, "host", p->host[0] ? p->host : NULL,
	    "pid", p->pid > 0 ? json_integer(p->pid) : NULL,
	    "labels", labels, "exclusive", p->exclusive,
	    "slots", p->slots >= 0 ? json_integer(p->slots) : json_null(),
	    "running", p->running >= 0 ? json_integer(p->running) : json_null(),
	    "started_at", p->started_ms > 0 ? started : NULL,
	    "updated_at", seen, "lease_ms", (json_int_t)p->lease_ms);
	if (o != NULL && p->pid_start > 0 && !full &&
	    json_object_set_new(o, "pid_start",
	    json_integer((json_int_t)p->pid_start)) < 0) {
		json_decref(o);
		o = NULL;
	}
	if (o != NULL && full && (json_object_set_new(o, "remote",
	    json_boolean(p->remote)) < 0 || json_object_set_new(o, "alive",
	    json_boolean(p->alive)) < 0)) {
		json_decref(o);
		o = NULL;
	}
	if (o == NULL)
		errno = ENOMEM;
	return o;
}

json_t *
js_proc_info_json(const struct js_proc_info *p)
{
	return info_json(p, 1);
}

int
js_registry_write(struct js_spool *sp, const struct js_proc_info *p)
{
	char name[JS_PROC_ID_SIZE + 32];
	json_t *o;
	int rc, saved;

	if (!id_ok(p->id)) {
		errno = EINVAL;
		return -1;
	}
	if (mkdirat(js_spool_fd(sp), JS_REGISTRY_DIR, 0770) < 0 &&
	    errno != EEXIST)
		return -1;
	snprintf(name, sizeof name, JS_REGISTRY_DIR "/%s" SUFFIX, p->id);
	if ((o = info_json(p, 0)) == NULL)
		return -1;
	/* not owed to survive a power loss: no processor is alive then */
	rc = js_spool_write_json(sp, name, o, JS_VOLATILE);
	saved = errno;
	json_decref(o);
	errno = saved;
	return rc;
}

int
js_registry_remove(struct js_spool *sp, const char *id)
{
	char name[JS_PROC_ID_SIZE + 32];

	if (!id_ok(id)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(name, sizeof name, JS_REGISTRY_DIR "/%s" SUFFIX, id);
	if (unlinkat(js_spool_fd(sp), name, 0) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int
js_proc_info_alive(const struct js_proc_info *p, const char *host,
    int64_t now_ms)
{
	unsigned long long st;

	if (now_ms - p->seen_ms > p->lease_ms)
		return 0;
	if (p->remote || p->pid <= 0 || host == NULL ||
	    strcmp(p->host, host) != 0)
		return 1;
	if (kill((pid_t)p->pid, 0) < 0 && errno == ESRCH)
		return 0;
	if (p->pid_start != 0 && js_proc_start_time((int)p->pid, &st) == 0 &&
	    st != p->pid_start)
		return 0;
	return 1;
}

/* Fills p from a registry file's JSON; -1 if it is not one. */
static int
info_from_json(struct js_proc_info *p, const json_t *o)
{
	const json_t *v;
	size_t i;

	memset(p, 0, sizeof *p);
	if (js_job_str(o, "id") == NULL || !id_ok(js_job_str(o, "id")))
		return -1;
	copy_str(p->id, sizeof p->id, js_job_str(o, "id"));
	copy_str(p->host, sizeof p->host, js_job_str(o, "host"));
	p->pid = (long)js_job_int(o, "pid", 0);
	v = json_object_get(o, "pid_start");
	p->pid_start = json_is_integer(v) && json_integer_value(v) > 0 ?
	    (unsigned long long)json_integer_value(v) : 0;
	json_array_foreach(json_object_get(o, "labels"), i, v)
		add_label(p, json_string_value(v));
	p->exclusive = json_is_true(json_object_get(o, "exclusive"));
	p->slots = (int)js_job_int(o, "slots", -1);
	p->running = (int)js_job_int(o, "running", -1);
	if (js_job_str(o, "started_at") == NULL ||
	    js_time_parse(js_job_str(o, "started_at"), &p->started_ms) < 0)
		p->started_ms = 0;
	p->lease_ms = js_job_int(o, "lease_ms", 0);
	if (p->lease_ms <= 0)
		return -1;
	return 0;
}

/* Reads the entry name of the open registry directory dfd into p (seen
 * from its mtime).  0, or -1 if it is not one (errno ENOENT if it went). */
static int
read_entry(int dfd, const char *name, struct js_proc_info *p)
{
	char buf[FILE_MAX];
	struct stat st;
	ssize_t n;
	json_t *o;
	int fd, rc;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size >= FILE_MAX) {
		(void)close(fd);	/* read only */
		return -1;
	}
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	(void)close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if ((o = json_loads(buf, 0, NULL)) == NULL)
		return -1;
	rc = info_from_json(p, o);
	json_decref(o);
	p->seen_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
	    st.st_mtim.tv_nsec / 1000000;
	return rc;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct js_proc_info *)a)->id,
	    ((const struct js_proc_info *)b)->id);
}

/* Appends one zeroed slot to *v (*n used, *cap allocated); NULL/ENOMEM. */
static struct js_proc_info *
grow(struct js_proc_info **v, size_t *n, size_t *cap)
{
	struct js_proc_info *nv;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		if ((nv = realloc(*v, nc * sizeof *nv)) == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		*v = nv;
		*cap = nc;
	}
	return &(*v)[(*n)++];
}

/* Reads every entry of the open directory d (closed here) into *out. */
static int
read_dir(DIR *d, int64_t now_ms, struct js_proc_info **out, size_t *n)
{
	char host[256];
	struct dirent *de;
	size_t cap = 0, len;
	struct js_proc_info *p;

	js_hostname(host, sizeof host);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= strlen(SUFFIX) ||
		    strcmp(de->d_name + len - strlen(SUFFIX), SUFFIX) != 0)
			continue;
		if ((p = grow(out, n, &cap)) == NULL)
			break;
		if (read_entry(dirfd(d), de->d_name, p) < 0) {
			(*n)--;
			errno = 0;
			continue;
		}
		p->alive = js_proc_info_alive(p, host, now_ms);
		errno = 0;
	}
	if (errno != 0) {
		int saved = errno;
		closedir(d);
		free(*out);
		*out = NULL;
		*n = 0;
		errno = saved;
		return -1;
	}
	closedir(d);
	if (*n > 1)
		qsort(*out, *n, sizeof **out, by_id);
	return 0;
}

int
js_registry_list(struct js_spool *sp, int64_t now_ms,
    struct js_proc_info **out, size_t *n)
{
	DIR *d;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = js_spool_opensub(sp, JS_REGISTRY_DIR, &d)) <= 0)
		return r;
	return read_dir(d, now_ms, out, n);
}

int
js_registry_prune(struct js_spool *sp, int64_t now_ms)
{
	struct js_proc_info *v;
	char host[256];
	size_t n, i;
	int removed = 0;

	if (js_registry_list(sp, now_ms, &v, &n) < 0)
		return -1;
	js_hostname(host, sizeof host);
	for (i = 0; i < n; i++) {
		if (v[i].alive || strcmp(v[i].host, host) != 0 || v[i].pid <= 0)
			continue;
		/* of this host: dead only if its pid is gone, not if it is
		 * merely late (a stopped processor may resume) */
		v[i].seen_ms = now_ms;
		if (js_proc_info_alive(&v[i], host, now_ms))
			continue;
		if (js_registry_remove(sp, v[i].id) == 0)
			removed++;
	}
	free(v);
	return removed;
}

/* ---- remote workers ---- */

struct js_workers {
	pthread_mutex_t mu;
	struct js_proc_info *v;
	size_t n, cap;
};

struct js_workers *
js_workers_new(void)
{
	struct js_workers *w = calloc(1, sizeof *w);
	int e;

	if (w == NULL)
		return NULL;
	if ((e = pthread_mutex_init(&w->mu, NULL)) != 0) {
		free(w);
		errno = e;
		return NULL;
	}
	return w;
}

void
js_workers_free(struct js_workers *w)
{
	if (w == NULL)
		return;
	pthread_mutex_destroy(&w->mu);
	free(w->v);
	free(w);
}

/* Drops entries not seen for DROP_AFTER_LEASES of their leases. */
static void
drop_old(struct js_workers *w, int64_t now_ms)
{
	size_t i = 0;

	while (i < w->n) {
		if (now_ms - w->v[i].seen_ms >
		    DROP_AFTER_LEASES * w->v[i].lease_ms)
			w->v[i] = w->v[--w->n];
		else
			i++;
	}
}

int
js_workers_seen(struct js_workers *w, const struct js_proc_info *p)
{
	struct js_proc_info *e = NULL;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&w->mu);
	drop_old(w, p->seen_ms);
	for (i = 0; i < w->n && e == NULL; i++)
		if (strcmp(w->v[i].id, p->id) == 0)
			e = &w->v[i];
	if (e == NULL) {
		if ((e = grow(&w->v, &w->n, &w->cap)) == NULL) {
			rc = -1;
			goto out;
		}
		*e = *p;
		if (e->started_ms <= 0)
			e->started_ms = p->seen_ms;
	} else {
		int slots = e->slots, running = e->running;
		int64_t started = e->started_ms;
		*e = *p;
		e->slots = p->slots >= 0 ? p->slots : slots;
		e->running = p->running >= 0 ? p->running : running;
		e->started_ms = p->started_ms > 0 ? p->started_ms : started;
	}
	e->remote = 1;
out:
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void
js_workers_touch(struct js_workers *w, const char *id, int64_t now_ms)
{
	size_t i;

	pthread_mutex_lock(&w->mu);
	for (i = 0; i < w->n; i++)
		if (strcmp(w->v[i].id, id) == 0 && w->v[i].seen_ms < now_ms)
			w->v[i].seen_ms = now_ms;
	pthread_mutex_unlock(&w->mu);
}

int
js_workers_list(struct js_workers *w, int64_t now_ms,
    struct js_proc_info **out, size_t *n)
{
	size_t i;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&w->mu);
	drop_old(w, now_ms);
	if (w->n > 0) {
		*out = malloc(w->n * sizeof **out);
		if (*out == NULL) {
			pthread_mutex_unlock(&w->mu);
			errno = ENOMEM;
			return -1;
		}
		memcpy(*out, w->v, w->n * sizeof **out);
		*n = w->n;
	}
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < *n; i++)
		(*out)[i].alive = js_proc_info_alive(&(*out)[i], NULL, now_ms);
	if (*n > 1)
		qsort(*out, *n, sizeof **out, by_id);
	return 0;
}

/* Appends b[0..nb) to *a (*na), keeping only the live ones if asked;
 * frees b.  -1/ENOMEM (then *a is left as it was). */
static int
join(struct js_proc_info **a, size_t *na, struct js_proc_info *b, size_t nb,
    int only_alive)
{
	struct js_proc_info *v;
	size_t i, k = *na;

	v = realloc(*a, (*na + nb + 1) * sizeof *v);
	if (v == NULL) {
		free(b);
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < nb; i++)
		if (!only_alive || b[i].alive)
			v[k++] = b[i];
	free(b);
	*a = v;
	*na = k;
	return 0;
}

int
js_registry_all(struct js_spool *sp, struct js_workers *w, int64_t now_ms,
    int only_alive, struct js_proc_info **out, size_t *n)
{
	struct js_proc_info *l, *r = NULL;
	size_t nl, nr = 0;

	*out = NULL;
	*n = 0;
	if (js_registry_list(sp, now_ms, &l, &nl) < 0)
		return -1;
	if (w != NULL && js_workers_list(w, now_ms, &r, &nr) < 0) {
		free(l);
		return -1;
	}
	if (join(out, n, l, nl, only_alive) < 0) {
		free(r);
		return -1;
	}
	if (join(out, n, r, nr, only_alive) < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
