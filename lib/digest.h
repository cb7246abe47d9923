/*
 * digest.h - the hashes and encodings jobspool needs, from nettle (the
 * crypto library GnuTLS is built on, already on every machine that has
 * the apiserver's GnuTLS):
 *   SHA-256  "log_sha256" of a job's result: the processor hashes its log
 *            when the job ends, the apiserver when a remote worker ends one;
 *   SHA-1 and base64   the WebSocket handshake (RFC 6455 Sec-WebSocket-Accept).
 * Nothing here allocates or prints.
 */
#ifndef JS_DIGEST_H
#define JS_DIGEST_H

#include <stddef.h>
#include <stdint.h>
#include <nettle/sha2.h>

#define JS_SHA256_SIZE 32
#define JS_SHA256_HEX_SIZE 65	/* 64 hex digits and a NUL */
#define JS_SHA1_SIZE 20

struct js_sha256 {
	struct sha256_ctx ctx;
	uint64_t len;		/* bytes hashed so far */
};
void js_sha256_init(struct js_sha256 *s);
void js_sha256_update(struct js_sha256 *s, const void *data, size_t len);
void js_sha256_final(struct js_sha256 *s, unsigned char out[JS_SHA256_SIZE]);
/* The lowercase hex form of a digest. */
void js_sha256_hex(const unsigned char d[JS_SHA256_SIZE],
    char hex[JS_SHA256_HEX_SIZE]);
/* Hashes everything readable from fd (from its current offset): hex digest
 * and size.  Returns 0, or -1 with errno set. */
int js_sha256_fd(int fd, char hex[JS_SHA256_HEX_SIZE], uint64_t *size);

/* SHA-1 of len bytes. */
void js_sha1(const void *data, size_t len, unsigned char out[JS_SHA1_SIZE]);

/* Standard base64 (with padding) of len bytes into out, NUL-terminated;
 * out must hold JS_BASE64_SIZE(len) bytes. */
#define JS_BASE64_SIZE(len) (4 * (((len) + 2) / 3) + 1)
void js_base64_encode(const unsigned char *in, size_t len, char *out);

#endif
