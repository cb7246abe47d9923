/*
 * buf.c - a growing byte string (buf.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* Room for n more bytes and the NUL after them. */
static int
reserve(struct js_buf *b, size_t n)
{
	size_t cap;
	char *np;

	if (b->failed) {
		errno = ENOMEM;
		return -1;
	}
	if (n < b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len - 1) {
		b->failed = 1;
		errno = ENOMEM;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (n >= cap - b->len)
		cap *= 2;
	np = realloc(b->p, cap);
	if (np == NULL) {
		b->failed = 1;
		errno = ENOMEM;
		return -1;
	}
	b->p = np;
	b->cap = cap;
	b->p[b->len] = '\0';
	return 0;
}

int
js_buf_add(struct js_buf *b, const void *data, size_t n)
{
	if (reserve(b, n) < 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
js_buf_puts(struct js_buf *b, const char *s)
{
	return js_buf_add(b, s, strlen(s));
}

int
js_buf_printf(struct js_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (reserve(b, 0) < 0)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (reserve(b, (size_t)n) < 0)
			return -1;
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return -1;
		}
	}
	b->len += (size_t)n;
	return 0;
}

void
js_buf_free(struct js_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

char *
js_buf_take(struct js_buf *b, size_t *len)
{
	char *p;

	if (b->failed || reserve(b, 0) < 0) {
		js_buf_free(b);
		errno = ENOMEM;
		return NULL;
	}
	p = b->p;
	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}
