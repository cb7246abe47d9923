/* revoke.c - revoked token ids in SPOOL/revoked/ (revoke.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "digest.h"
#include "job.h"
#include "revoke.h"
#include "util.h"

#define HASH_HEX 32
#define NAME_SIZE (sizeof JS_REVOKE_DIR + HASH_HEX + 1)

/* "revoked/<32 hex digits of SHA-256(jti)>" */
static void
record_name(const char *jti, char name[NAME_SIZE])
{
	struct js_sha256 s;
	unsigned char md[JS_SHA256_SIZE];
	char hex[JS_SHA256_HEX_SIZE];

	js_sha256_init(&s);
	js_sha256_update(&s, jti, strlen(jti));
	js_sha256_final(&s, md);
	js_sha256_hex(md, hex);
	snprintf(name, NAME_SIZE, JS_REVOKE_DIR "/%.32s", hex);
}

/* The rename into revoked/ is durable once revoked/ itself is synced. */
static int
sync_dir(struct js_spool *sp)
{
	int fd = openat(js_spool_fd(sp), JS_REVOKE_DIR, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC), r, saved;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int
js_revoke_add(struct js_spool *sp, const char *jti, int64_t until_s,
    const char *by)
{
	char name[NAME_SIZE], now[JS_TIME_SIZE];
	json_t *o;
	int r;

	if (jti == NULL || jti[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (mkdirat(js_spool_fd(sp), JS_REVOKE_DIR, 0770) < 0 &&
	    errno != EEXIST)
		return -1;
	record_name(jti, name);
	js_time_format(js_now_ms(), now);
	o = json_pack("{s:s,s:I,s:s,s:s?}", "jti", jti, "until",
	    (json_int_t)until_s, "revoked_at", now, "by", by);
	if (o == NULL) {
		errno = ENOMEM;
		return -1;
	}
	r = js_spool_write_json(sp, name, o, 0);
	json_decref(o);
	return r < 0 ? -1 : sync_dir(sp);
}

int
js_revoke_has(struct js_spool *sp, const char *jti)
{
	char name[NAME_SIZE];

	if (jti == NULL || jti[0] == '\0')
		return 0;
	record_name(jti, name);
	if (faccessat(js_spool_fd(sp), name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

/* The "until" of record name in dfd (revoked/); -1 if it cannot be read
 * as a record. */
static int64_t
record_until(int dfd, const char *name)
{
	char buf[1024];
	json_t *o;
	ssize_t n;
	int64_t until = -1;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0)
		return -1;
	o = json_loadb(buf, (size_t)n, 0, NULL);
	if (json_is_integer(json_object_get(o, "until")))
		until = json_integer_value(json_object_get(o, "until"));
	json_decref(o);
	return until;
}

static int
hex_name(const char *s)
{
	size_t i;

	for (i = 0; i < HASH_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[HASH_HEX] == '\0';
}

int
js_revoke_prune(struct js_spool *sp, int64_t now_s)
{
	struct dirent *de;
	int r, count = 0, saved;
	int64_t until;
	DIR *d;

	if ((r = js_spool_opensub(sp, JS_REVOKE_DIR, &d)) <= 0)
		return r;
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (!hex_name(de->d_name))
			continue;
		until = record_until(dirfd(d), de->d_name);
		if (until < 0 || until >= now_s)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			count++;
	}
	saved = errno;
	if (saved == 0 && count > 0 && fsync(dirfd(d)) < 0)
		saved = errno;
	closedir(d);
	errno = saved;
	return saved != 0 ? -1 : count;
}
