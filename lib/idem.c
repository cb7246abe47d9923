/* idem.c - Idempotency-Key records; see idem.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idem.h"

#define IDEM_DIR "idem"

static uint64_t
fnv1a(uint64_t h, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* "idem/<32 hex>" from owner and key. */
static void
record_name(char out[64], const char *owner, const char *key)
{
	uint64_t h1 = 14695981039346656037ULL, h2 = 0x84222325cbf29ce4ULL;

	h1 = fnv1a(h1, owner, strlen(owner) + 1);
	h1 = fnv1a(h1, key, strlen(key));
	h2 = fnv1a(h2, key, strlen(key));
	h2 = fnv1a(h2, owner, strlen(owner) + 1);
	snprintf(out, 64, IDEM_DIR "/%016llx%016llx", (unsigned long long)h1,
	    (unsigned long long)h2);
}

/* Reads a record: 0 and prev if it matches owner+key, -1/EILSEQ if not,
 * -1/ENOENT if missing; *old set if older than the TTL. */
static int
read_record(struct js_spool *sp, const char *name, const char *owner,
    const char *key, char prev[JS_ID_SIZE], int *old)
{
	char buf[1024], *nl1, *nl2;
	struct stat st;
	ssize_t n;
	int fd;

	fd = openat(js_spool_fd(sp), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	*old = (int64_t)st.st_mtime * 1000 < js_now_ms() - JS_IDEM_TTL_MS;
	nl1 = strchr(buf, '\n');
	nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (nl1 == NULL || nl2 == NULL || nl1 - buf != JS_ID_LEN) {
		errno = EILSEQ;
		return -1;
	}
	*nl1 = '\0';
	*nl2 = '\0';
	if (!js_id_valid(buf) || strcmp(nl1 + 1, owner) != 0 ||
	    strncmp(nl2 + 1, key, strlen(key)) != 0 ||
	    strcmp(nl2 + 1 + strlen(key), "\n") != 0) {
		errno = EILSEQ;
		return -1;
	}
	memcpy(prev, buf, JS_ID_SIZE);
	return 0;
}

int
js_idem_reserve(struct js_spool *sp, const char *owner, const char *key,
    const char id[JS_ID_SIZE], char prev[JS_ID_SIZE])
{
	char name[64], *text;
	size_t len;
	int tries, old = 0, rc;

	if (strchr(owner, '\n') != NULL || strchr(key, '\n') != NULL ||
	    strlen(key) > 512) {
		errno = EINVAL;
		return -1;
	}
	record_name(name, owner, key);
	if (mkdirat(js_spool_fd(sp), IDEM_DIR, 0770) < 0 && errno != EEXIST)
		return -1;
	len = strlen(id) + strlen(owner) + strlen(key) + 3;
	text = malloc(len + 1);
	if (text == NULL)
		return -1;
	snprintf(text, len + 1, "%s\n%s\n%s\n", id, owner, key);
	for (tries = 0; tries < 2; tries++) {
		rc = js_spool_write_file(sp, name, text, len, JS_WRITE_NOREPLACE);
		if (rc == 0 || errno != EEXIST)
			break;
		if (read_record(sp, name, owner, key, prev, &old) < 0) {
			if (errno == ENOENT)
				continue;	/* released meanwhile */
			rc = -1;
			break;
		}
		if (!old) {
			errno = EEXIST;
			break;
		}
		/* stale: the key may be used again */
		if (unlinkat(js_spool_fd(sp), name, 0) < 0 && errno != ENOENT)
			break;
	}
	if (tries == 2) {
		rc = -1;
		errno = EAGAIN;
	}
	free(text);
	return rc;
}

int
js_idem_release(struct js_spool *sp, const char *owner, const char *key)
{
	char name[64];

	record_name(name, owner, key);
	if (unlinkat(js_spool_fd(sp), name, 0) < 0 && errno != ENOENT)
		return -1;
	return 0;
}
