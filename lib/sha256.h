/*
 * sha256.h - SHA-256 (FIPS 180-4), for the "log_sha256" a job's result
 * records: the processor hashes its log when the job ends, the apiserver
 * when a remote worker finishes one.
 */
#ifndef JS_SHA256_H
#define JS_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct js_sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes hashed so far */
	unsigned char buf[64];
	size_t nbuf;
};
void js_sha256_init(struct js_sha256 *s);
void js_sha256_update(struct js_sha256 *s, const void *data, size_t len);
void js_sha256_final(struct js_sha256 *s, unsigned char out[32]);
/* Hashes everything readable from fd (from its current offset): hex digest
 * (65 bytes with NUL) and size.  Returns 0, or -1 with errno set. */
int js_sha256_fd(int fd, char hex[65], uint64_t *size);

#endif
