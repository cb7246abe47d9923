/* pause.c - paused claims of the spool or of a label (pause.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pause.h"
#include "util.h"

/* Whether name under dirfd exists and is not a directory: 1, 0, -1. */
static int
present(int dirfd, const char *name)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	return !S_ISDIR(st.st_mode);
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Adds the label files of the open directory d (closed here) to p. */
static int
read_labels(DIR *d, struct js_pause *p)
{
	struct dirent *de;
	size_t cap = 0;
	int saved;

	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (!js_label_valid(de->d_name) || de->d_name[0] == '.' ||
		    present(dirfd(d), de->d_name) != 1) {
			errno = 0;
			continue;
		}
		if (p->nlabels == cap) {
			size_t nc = cap ? cap * 2 : 8;
			void *nv = realloc(p->labels, nc * sizeof *p->labels);
			if (nv == NULL) {
				errno = ENOMEM;
				break;
			}
			p->labels = nv;
			cap = nc;
		}
		/* js_label_valid: at most JS_LABEL_MAX bytes */
		memcpy(p->labels[p->nlabels], de->d_name,
		    strlen(de->d_name) + 1);
		p->nlabels++;
		errno = 0;
	}
	saved = errno;
	closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	if (p->nlabels > 1)
		qsort(p->labels, p->nlabels, sizeof *p->labels, by_name);
	return 0;
}

int
js_pause_read(struct js_spool *sp, struct js_pause *p)
{
	DIR *d;
	int r, saved;

	memset(p, 0, sizeof *p);
	if ((r = present(js_spool_fd(sp), JS_PAUSE_FILE)) < 0)
		return -1;
	p->all = r;
	if ((r = js_spool_opensub(sp, JS_PAUSE_DIR, &d)) <= 0)
		return r;
	if (read_labels(d, p) < 0) {
		saved = errno;
		js_pause_free(p);
		errno = saved;
		return -1;
	}
	return 0;
}

void
js_pause_free(struct js_pause *p)
{
	free(p->labels);
	memset(p, 0, sizeof *p);
}

int
js_pause_any(const struct js_pause *p)
{
	return p->all || p->nlabels > 0;
}

int
js_pause_has(const struct js_pause *p, const char *label)
{
	if (label == NULL)
		return p->all;
	return p->nlabels > 0 && bsearch(label, p->labels, p->nlabels,
	    sizeof *p->labels, by_name) != NULL;
}

int
js_pause_set(struct js_spool *sp, const char *label, int on, const char *by)
{
	char name[sizeof JS_PAUSE_DIR + JS_LABEL_MAX + 2], now[JS_TIME_SIZE];
	int dfd = js_spool_fd(sp), r, made;
	json_t *o;

	if (label != NULL && !js_label_valid(label)) {
		errno = EINVAL;
		return -1;
	}
	if (label != NULL)
		snprintf(name, sizeof name, JS_PAUSE_DIR "/%s", label);
	else
		snprintf(name, sizeof name, JS_PAUSE_FILE);
	if ((r = present(dfd, name)) < 0)
		return -1;
	if (!on) {
		if (r == 0)
			return 0;
		if (unlinkat(dfd, name, 0) < 0)
			return errno == ENOENT ? 0 : -1;
		return fsync(dfd) < 0 ? -1 : 1;
	}
	if (r == 1)
		return 0;
	made = label != NULL && mkdirat(dfd, JS_PAUSE_DIR, 0770) == 0;
	if (label != NULL && !made && errno != EEXIST)
		return -1;
	js_time_format(js_now_ms(), now);
	o = json_pack("{s:s,s:s?}", "paused_at", now, "by", by);
	if (o == NULL)
		errno = ENOMEM;
	r = o != NULL ? js_spool_write_json(sp, name, o, 0) : -1;
	json_decref(o);
	if (r < 0 && made) {	/* a refusal leaves the spool as it was */
		int e = errno;
		(void)unlinkat(dfd, JS_PAUSE_DIR, AT_REMOVEDIR);	/* empty */
		errno = e;
	}
	return r < 0 ? -1 : 1;
}

json_t *
js_pause_json(const struct js_pause *p)
{
	json_t *labels = json_array(), *o;
	size_t i;

	for (i = 0; labels != NULL && i < p->nlabels; i++)
		if (json_array_append_new(labels,
		    json_string(p->labels[i])) < 0) {
			json_decref(labels);
			labels = NULL;
		}
	o = labels != NULL ? json_pack("{s:b,s:o}", "spool", p->all,
	    "labels", labels) : NULL;
	if (o == NULL)
		errno = ENOMEM;
	return o;
}
