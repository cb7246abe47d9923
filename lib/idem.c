/* idem.c - Idempotency-Key records; see idem.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idem.h"
#include "idmap.h"

/* "idem/<32 hex>" from owner and key. */
static void
record_name(char out[64], const char *owner, const char *key)
{
	uint64_t h1 = JS_HASH_INIT, h2 = 0x84222325cbf29ce4ULL;

	h1 = js_hash(h1, owner, strlen(owner) + 1);
	h1 = js_hash(h1, key, strlen(key));
	h2 = js_hash(h2, key, strlen(key));
	h2 = js_hash(h2, owner, strlen(owner) + 1);
	snprintf(out, 64, JS_IDEM_DIR "/%016llx%016llx", (unsigned long long)h1,
	    (unsigned long long)h2);
}

/* Reads a record: 0 and prev if it matches owner+key (*digest points into
 * buf at its digest, or is NULL if it has none), -1/EILSEQ if not,
 * -1/ENOENT if missing; *old set if older than the TTL. */
static int
read_record(struct js_spool *sp, const char *name, const char *owner,
    const char *key, char prev[JS_ID_SIZE], int *old, char buf[1024],
    const char **digest)
{
	char *nl1, *nl2, *nl3, *nl4;
	struct stat st;
	ssize_t n;
	int fd, saved;

	*digest = NULL;
	fd = openat(js_spool_fd(sp), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	n = read(fd, buf, 1023);
	saved = errno;
	if (close(fd) < 0 && n >= 0)
		return -1;
	if (n < 0) {
		errno = saved;
		return -1;
	}
	buf[n] = '\0';
	*old = (int64_t)st.st_mtime * 1000 < js_now_ms() - JS_IDEM_TTL_MS;
	nl1 = strchr(buf, '\n');
	nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	nl3 = nl2 ? strchr(nl2 + 1, '\n') : NULL;
	if (nl1 == NULL || nl2 == NULL || nl3 == NULL || nl1 - buf != JS_ID_LEN) {
		errno = EILSEQ;
		return -1;
	}
	*nl1 = '\0';
	*nl2 = '\0';
	*nl3 = '\0';
	if (!js_id_valid(buf) || strcmp(nl1 + 1, owner) != 0 ||
	    strcmp(nl2 + 1, key) != 0) {
		errno = EILSEQ;
		return -1;
	}
	if (nl3[1] != '\0') {
		nl4 = strchr(nl3 + 1, '\n');
		if (nl4 == NULL || nl4[1] != '\0') {
			errno = EILSEQ;
			return -1;
		}
		*nl4 = '\0';
		*digest = nl3 + 1;
	}
	memcpy(prev, buf, JS_ID_SIZE);
	return 0;
}

/* Removes the record name if it is still stale (older than cutoff_ms),
 * under its lock: 1 removed, 0 not (fresh or gone), -1 on error. */
static int
remove_if_old(struct js_spool *sp, const char *name, int64_t cutoff_ms,
    off_t *size, int dry_run)
{
	struct stat st;
	int lk, rc = 0;

	lk = js_spool_lock(sp, name);
	if (lk < 0)
		return -1;
	if (fstatat(js_spool_fd(sp), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno == ENOENT ? 0 : -1;
	} else if (S_ISREG(st.st_mode) &&
	    (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 <
	    cutoff_ms) {
		if (size != NULL)
			*size = st.st_size;
		rc = 1;
		if (!dry_run && unlinkat(js_spool_fd(sp), name, 0) < 0)
			rc = errno == ENOENT ? 0 : -1;
	}
	js_spool_unlock(lk);
	return rc;
}

int
js_idem_reserve(struct js_spool *sp, const char *owner, const char *key,
    const char *digest, const char id[JS_ID_SIZE], char prev[JS_ID_SIZE],
    int *same)
{
	char name[64], buf[1024], *text;
	const char *had;
	size_t len;
	int tries, old = 0, rc = -1;

	*same = 1;
	if (strchr(owner, '\n') != NULL || strchr(key, '\n') != NULL ||
	    strlen(key) > 512 || (digest != NULL &&
	    (strchr(digest, '\n') != NULL || strlen(digest) > 128))) {
		errno = EINVAL;
		return -1;
	}
	record_name(name, owner, key);
	if (mkdirat(js_spool_fd(sp), JS_IDEM_DIR, 0770) < 0 && errno != EEXIST)
		return -1;
	len = strlen(id) + strlen(owner) + strlen(key) +
	    (digest ? strlen(digest) + 1 : 0) + 3;
	text = malloc(len + 1);
	if (text == NULL)
		return -1;
	snprintf(text, len + 1, "%s\n%s\n%s\n%s%s", id, owner, key,
	    digest ? digest : "", digest ? "\n" : "");
	for (tries = 0; tries < 2; tries++) {
		rc = js_spool_write_file(sp, name, text, len, JS_WRITE_NOREPLACE);
		if (rc == 0 || errno != EEXIST)
			break;
		if (read_record(sp, name, owner, key, prev, &old, buf, &had) < 0) {
			if (errno == ENOENT)
				continue;	/* released meanwhile */
			rc = -1;
			break;
		}
		if (!old) {
			*same = had == NULL || digest == NULL ||
			    strcmp(had, digest) == 0;
			errno = EEXIST;
			rc = -1;
			break;
		}
		/* stale: the key may be used again */
		if (remove_if_old(sp, name, js_now_ms() - JS_IDEM_TTL_MS, NULL,
		    0) < 0) {
			rc = -1;
			break;
		}
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

/* Whether a name in idem/ is a record's: 32 lowercase hex digits. */
static int
record_file(const char *s)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[32] == '\0';
}

int
js_idem_expire(struct js_spool *sp, int64_t age_ms, int dry_run,
    void (*fn)(const char *name, off_t size, void *arg), void *arg)
{
	int64_t cutoff = js_now_ms() - age_ms;
	struct dirent *de;
	char name[sizeof JS_IDEM_DIR + 34];
	DIR *d;
	int count = 0, r, saved;
	off_t size;

	if ((r = js_spool_opensub(sp, JS_IDEM_DIR, &d)) <= 0)
		return r;
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (!record_file(de->d_name))
			continue;
		memcpy(name, JS_IDEM_DIR "/", sizeof JS_IDEM_DIR);
		memcpy(name + sizeof JS_IDEM_DIR, de->d_name, 33);
		r = remove_if_old(sp, name, cutoff, &size, dry_run);
		if (r < 0) {
			saved = errno;
			closedir(d);
			errno = saved;
			return -1;
		}
		if (r == 1) {
			count++;
			if (fn != NULL)
				fn(name, size, arg);
		}
	}
	saved = errno;
	/* the removals are durable before the cleaner says they are done */
	if (saved == 0 && count > 0 && !dry_run && fsync(dirfd(d)) < 0)
		saved = errno;
	closedir(d);
	if (saved != 0) {
		errno = saved;
		return -1;
	}
	return count;
}
