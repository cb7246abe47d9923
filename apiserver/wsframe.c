/*
 * wsframe.c - WebSocket (RFC 6455) framing, without a socket: the header of
 * a frame the server sends, and the parsing of a frame a client sent.  Used
 * by ws.c and by the fuzz harness tests/fuzz/fuzz_ws.c.
 */
#include <stddef.h>
#include <stdint.h>

#include "api.h"

size_t
ws_frame_header(unsigned char h[WS_HEADER_MAX], int op, uint64_t len)
{
	int i;

	h[0] = (unsigned char)(0x80 | (op & 0x0f));	/* FIN, never masked */
	if (len < 126) {
		h[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		return 4;
	}
	h[1] = 127;
	for (i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
	h[2] &= 0x7f;	/* the most significant bit must be 0 */
	return 10;
}

long
ws_frame_parse(unsigned char *in, size_t inlen, size_t cap, int *op,
    unsigned char **payload, size_t *plen)
{
	size_t hl = 2, len, i;
	unsigned char *m, *p;

	if (inlen < 2)
		return 0;
	*op = in[0] & 0x0f;
	len = in[1] & 0x7f;
	if (!(in[1] & 0x80))		/* clients must mask */
		return -1002;
	if (len == 126) {
		if (inlen < 4)
			return 0;
		len = (size_t)in[2] << 8 | in[3];
		hl = 4;
	} else if (len == 127) {
		return -1009;		/* far too big for us */
	}
	if (len > cap || hl + 4 > cap - len)
		return -1009;
	if (inlen < hl + 4 + len)
		return 0;
	m = in + hl;
	p = m + 4;
	for (i = 0; i < len; i++)
		p[i] ^= m[i % 4];
	*payload = p;
	*plen = len;
	return (long)(hl + 4 + len);
}
