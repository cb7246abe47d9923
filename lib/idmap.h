/*
 * idmap.h - a hash table keyed by job id (open addressing, linear probing),
 * the one the programs use wherever they index jobs in memory: the
 * processor's queue, the apiserver's listing index.  Also js_hash, the one
 * hash function of the toolkit (64-bit FNV-1a).
 *
 * Keys are copied into the table; values are the caller's pointers, never
 * freed by the table unless js_idmap_free is given a function for them.
 * Not thread-safe: the owner locks.
 */
#ifndef JS_IDMAP_H
#define JS_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define JS_HASH_INIT 14695981039346656037ULL
/* FNV-1a over len bytes of data, continuing from h (JS_HASH_INIT first). */
uint64_t js_hash(uint64_t h, const void *data, size_t len);

struct js_idmap_slot {
	char id[JS_ID_SIZE];	/* "" empty, "-" deleted, else a key */
	void *val;
};
struct js_idmap {
	struct js_idmap_slot *slot;
	size_t cap;		/* 0 or a power of two */
	size_t used;		/* keys + deleted slots */
	size_t live;		/* keys */
};

/* An empty map (no allocation until the first put). */
void js_idmap_init(struct js_idmap *m);
/* Frees the table, calling free_val (if not NULL) on every value. */
void js_idmap_free(struct js_idmap *m, void (*free_val)(void *));
/* Whether id is a key; its value in *val (if val is not NULL). */
int js_idmap_get(const struct js_idmap *m, const char *id, void **val);
/* Sets id's value.  Returns 1 if id was new, 0 if its value was replaced
 * (the old one in *old if old is not NULL), -1/ENOMEM. */
int js_idmap_put(struct js_idmap *m, const char *id, void *val, void **old);
/* Removes id: 1 with its value in *val (if not NULL), 0 if absent. */
int js_idmap_del(struct js_idmap *m, const char *id, void **val);
size_t js_idmap_len(const struct js_idmap *m);
/* Iterates: start with *pos = 0; returns 1 with the next key and value
 * (id points into the table, valid until it changes), 0 at the end.
 * Deleting the entry just returned is allowed while iterating. */
int js_idmap_next(const struct js_idmap *m, size_t *pos, const char **id,
    void **val);

#endif
