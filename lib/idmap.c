/* idmap.c - the id-keyed hash table and js_hash; see idmap.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

#define MIN_CAP 64

uint64_t
js_hash(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static int
is_key(const struct js_idmap_slot *s)
{
	return s->id[0] != '\0' && s->id[0] != '-';
}

void
js_idmap_init(struct js_idmap *m)
{
	memset(m, 0, sizeof *m);
}

void
js_idmap_free(struct js_idmap *m, void (*free_val)(void *))
{
	size_t i;

	if (free_val != NULL)
		for (i = 0; i < m->cap; i++)
			if (is_key(&m->slot[i]))
				free_val(m->slot[i].val);
	free(m->slot);
	js_idmap_init(m);
}

/* Index of id's slot, or of the slot where it would go; m->cap > 0. */
static size_t
find(const struct js_idmap *m, const char *id, int *found)
{
	size_t mask = m->cap - 1, tomb = (size_t)-1;
	size_t i = (size_t)js_hash(JS_HASH_INIT, id, strlen(id)) & mask;

	for (;;) {
		const struct js_idmap_slot *s = &m->slot[i];
		if (s->id[0] == '\0') {
			*found = 0;
			return tomb != (size_t)-1 ? tomb : i;
		}
		if (s->id[0] == '-') {
			if (tomb == (size_t)-1)
				tomb = i;
		} else if (strcmp(s->id, id) == 0) {
			*found = 1;
			return i;
		}
		i = (i + 1) & mask;
	}
}

/* Rehashes into a table of at least twice the keys (dropping deleted
 * slots), so that at most half of it is in use afterwards. */
static int
rehash(struct js_idmap *m)
{
	struct js_idmap n;
	size_t i, cap = MIN_CAP;
	int found;

	while (cap < (m->live + 1) * 4)
		cap *= 2;
	n.slot = calloc(cap, sizeof *n.slot);
	if (n.slot == NULL) {
		errno = ENOMEM;
		return -1;
	}
	n.cap = cap;
	n.used = n.live = 0;
	for (i = 0; i < m->cap; i++) {
		if (!is_key(&m->slot[i]))
			continue;
		n.slot[find(&n, m->slot[i].id, &found)] = m->slot[i];
		n.used++;
		n.live++;
	}
	free(m->slot);
	*m = n;
	return 0;
}

int
js_idmap_get(const struct js_idmap *m, const char *id, void **val)
{
	size_t i;
	int found;

	if (m->cap == 0 || id == NULL || strlen(id) >= JS_ID_SIZE)
		return 0;
	i = find(m, id, &found);
	if (found && val != NULL)
		*val = m->slot[i].val;
	return found;
}

int
js_idmap_put(struct js_idmap *m, const char *id, void *val, void **old)
{
	size_t i;
	int found;

	if (id == NULL || id[0] == '\0' || id[0] == '-' ||
	    strlen(id) >= JS_ID_SIZE) {
		errno = EINVAL;
		return -1;
	}
	if ((m->used + 1) * 2 > m->cap && rehash(m) < 0)
		return -1;
	i = find(m, id, &found);
	if (found) {
		if (old != NULL)
			*old = m->slot[i].val;
		m->slot[i].val = val;
		return 0;
	}
	if (m->slot[i].id[0] == '\0')
		m->used++;
	strcpy(m->slot[i].id, id);
	m->slot[i].val = val;
	m->live++;
	return 1;
}

int
js_idmap_del(struct js_idmap *m, const char *id, void **val)
{
	size_t i;
	int found;

	if (m->cap == 0 || id == NULL || strlen(id) >= JS_ID_SIZE)
		return 0;
	i = find(m, id, &found);
	if (!found)
		return 0;
	if (val != NULL)
		*val = m->slot[i].val;
	strcpy(m->slot[i].id, "-");
	m->slot[i].val = NULL;
	m->live--;
	return 1;
}

size_t
js_idmap_len(const struct js_idmap *m)
{
	return m->live;
}

int
js_idmap_next(const struct js_idmap *m, size_t *pos, const char **id,
    void **val)
{
	for (; *pos < m->cap; (*pos)++) {
		const struct js_idmap_slot *s = &m->slot[*pos];
		if (!is_key(s))
			continue;
		*id = s->id;
		if (val != NULL)
			*val = s->val;
		(*pos)++;
		return 1;
	}
	return 0;
}
