/*
 * failalloc.c - an LD_PRELOAD shim for api_oom.sh: makes one chosen
 * allocation of a running program fail, as if memory ran out.
 *
 * FAILALLOC_CTL names a file of 18 bytes, "GGGGGGGG NNNNNNNN." (two
 * 8-digit decimal numbers and a flag byte), that the shim maps shared and
 * reads on every allocation.  When G changes, the count restarts: the N-th
 * call of malloc, calloc, realloc, aligned_alloc or posix_memalign from
 * then on (in any thread) fails with ENOMEM, and only that one (N = 0: none),
 * and the shim sets the flag byte to 'F'.  The test rewrites the file in
 * place (never truncated: the mapping must stay valid).  The real allocator is the next one (dlsym RTLD_NEXT), so
 * a sanitizer's allocator underneath still sees every block; while dlsym
 * itself allocates, a small static arena serves it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static void *(*next_aligned_alloc)(size_t, size_t);
static int (*next_posix_memalign)(void **, size_t, size_t);

static _Alignas(16) char arena[65536];
static atomic_size_t arena_used;
static atomic_int resolving;

static volatile char *ctl;
static atomic_long seen_gen = -1;
static atomic_long left;

static int
in_arena(const void *p)
{
	return (const char *)p >= arena && (const char *)p < arena + sizeof arena;
}

static void *
arena_alloc(size_t n)
{
	size_t off = atomic_fetch_add(&arena_used, (n + 15) & ~(size_t)15);

	if (off + n > sizeof arena)
		return NULL;
	return arena + off;
}

static void
resolve(void)
{
	if (next_free != NULL || atomic_exchange(&resolving, 1))
		return;
	next_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	next_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	next_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	next_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT,
	    "aligned_alloc");
	next_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT,
	    "posix_memalign");
	next_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
}

static long
digits8(volatile const char *p)
{
	long v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

__attribute__((constructor)) static void
init(void)
{
	const char *path = getenv("FAILALLOC_CTL");
	void *m;
	int fd;

	resolve();
	if (path == NULL || (fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
		return;
	m = mmap(NULL, 18, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m != MAP_FAILED)
		ctl = m;
}

/* Whether this allocation is the one to fail. */
static int
fail_now(void)
{
	long g, old;

	if (ctl == NULL)
		return 0;
	g = digits8(ctl);
	if (g < 0)
		return 0;
	old = atomic_load(&seen_gen);
	if (g != old && atomic_compare_exchange_strong(&seen_gen, &old, g)) {
		long n = digits8(ctl + 9);
		atomic_store(&left, n > 0 ? n : 0);
	}
	if (atomic_fetch_sub(&left, 1) != 1)
		return 0;
	ctl[17] = 'F';
	return 1;
}

void *
malloc(size_t n)
{
	if (next_malloc == NULL) {
		resolve();
		if (next_malloc == NULL)
			return arena_alloc(n);
	}
	if (fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	if (next_calloc == NULL) {
		void *p;
		resolve();
		if (next_calloc == NULL) {
			if (size != 0 && n > SIZE_MAX / size)
				return NULL;
			p = arena_alloc(n * size);
			if (p != NULL)
				memset(p, 0, n * size);
			return p;
		}
	}
	if (fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	if (in_arena(p)) {
		size_t room = (size_t)(arena + sizeof arena - (char *)p);
		void *q = malloc(n);
		if (q != NULL)
			memcpy(q, p, n < room ? n : room);
		return q;
	}
	if (next_realloc == NULL)
		resolve();
	if (fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_realloc(p, n);
}

void
free(void *p)
{
	if (p == NULL || in_arena(p))
		return;
	if (next_free == NULL)
		resolve();
	next_free(p);
}

void *
aligned_alloc(size_t align, size_t n)
{
	if (next_aligned_alloc == NULL)
		resolve();
	if (fail_now()) {
		errno = ENOMEM;
		return NULL;
	}
	return next_aligned_alloc(align, n);
}

int
posix_memalign(void **out, size_t align, size_t n)
{
	if (next_posix_memalign == NULL)
		resolve();
	if (fail_now())
		return ENOMEM;
	return next_posix_memalign(out, align, n);
}
