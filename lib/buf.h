/*
 * buf.h - a growing byte string, the one the toolkit builds text in (a
 * dumped job, the /metrics page, a merged log stream, a Slurm script).
 *
 * Always NUL-terminated once anything was added (p is NULL before).  The
 * first allocation that fails marks the buffer failed: that append and
 * every later one return -1 and add nothing, so a caller may append a
 * whole document and check once at the end.  Not thread-safe: the owner
 * locks.
 */
#ifndef JS_BUF_H
#define JS_BUF_H

#include <stddef.h>

struct js_buf {
	char *p;
	size_t len, cap;
	int failed;		/* an allocation failed: nothing more is added */
};

#define JS_BUF_INIT { NULL, 0, 0, 0 }

/* Appends n bytes of data.  0, or -1 (ENOMEM or an earlier failure). */
int js_buf_add(struct js_buf *b, const void *data, size_t n);
/* Appends a C string. */
int js_buf_puts(struct js_buf *b, const char *s);
/* Appends printf-style text. */
int js_buf_printf(struct js_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops what is held (keeps nothing allocated). */
void js_buf_free(struct js_buf *b);
/* Hands the string over (the caller frees it; "" if nothing was added)
 * and empties b; NULL (b freed) if the buffer failed or out of memory. */
char *js_buf_take(struct js_buf *b, size_t *len);

#endif
