/* digest.c - SHA-256, SHA-1 and base64 through nettle (digest.h). */
#include <errno.h>
#include <unistd.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "digest.h"

void
js_sha256_init(struct js_sha256 *s)
{
	sha256_init(&s->ctx);
	s->len = 0;
}

void
js_sha256_update(struct js_sha256 *s, const void *data, size_t len)
{
	sha256_update(&s->ctx, len, data);
	s->len += len;
}

void
js_sha256_final(struct js_sha256 *s, unsigned char out[JS_SHA256_SIZE])
{
	sha256_digest(&s->ctx, JS_SHA256_SIZE, out);
}

void
js_sha256_hex(const unsigned char d[JS_SHA256_SIZE],
    char hex[JS_SHA256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < JS_SHA256_SIZE; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * JS_SHA256_SIZE] = '\0';
}

int
js_sha256_fd(int fd, char hex[JS_SHA256_HEX_SIZE], uint64_t *size)
{
	struct js_sha256 s;
	unsigned char buf[65536], md[JS_SHA256_SIZE];
	ssize_t n;

	js_sha256_init(&s);
	for (;;) {
		n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		js_sha256_update(&s, buf, (size_t)n);
	}
	*size = s.len;
	js_sha256_final(&s, md);
	js_sha256_hex(md, hex);
	return 0;
}

void
js_sha1(const void *data, size_t len, unsigned char out[JS_SHA1_SIZE])
{
	struct sha1_ctx ctx;

	sha1_init(&ctx);
	sha1_update(&ctx, len, data);
	sha1_digest(&ctx, JS_SHA1_SIZE, out);
}

void
js_base64_encode(const unsigned char *in, size_t len, char *out)
{
	struct base64_encode_ctx ctx;
	size_t n;

	base64_encode_init(&ctx);
	n = base64_encode_update(&ctx, out, len, in);
	n += base64_encode_final(&ctx, out + n);
	out[n] = '\0';
}
