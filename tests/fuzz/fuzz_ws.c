/*
 * libFuzzer harness: the apiserver's WebSocket framing (apiserver/wsframe.c).
 *
 *   - the frame writer: for an opcode and a length taken from the input, the
 *     header ws_frame_header() writes must decode (by the rules of RFC 6455,
 *     independently re-implemented here) to FIN, that opcode, no mask, and
 *     exactly that length, in the shortest form;
 *   - the client frame parser: the rest of the input, as bytes a client
 *     sent, is parsed frame by frame as ws.c does; every frame must lie
 *     inside the buffer and within the size limit;
 *   - a round trip: a masked frame built from the input parses back to the
 *     same payload.
 *
 * fuzz-sources: apiserver/wsframe.c
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../apiserver/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096

static void
check_header(int op, uint64_t len)
{
	unsigned char h[WS_HEADER_MAX];
	size_t hl, want;
	uint64_t got = 0;
	int i;

	len &= INT64_MAX;	/* a length of 2^63 or more cannot be sent */
	hl = ws_frame_header(h, op, len);
	want = len < 126 ? 2 : len < 65536 ? 4 : 10;
	if (hl != want || !(h[0] & 0x80) || (h[0] & 0x70) != 0 ||
	    (h[0] & 0x0f) != (op & 0x0f) || (h[1] & 0x80))
		__builtin_trap();
	if (hl == 2)
		got = h[1];
	else if (hl == 4)
		got = (uint64_t)h[2] << 8 | h[3];
	else
		for (i = 0; i < 8; i++)
			got = got << 8 | h[2 + i];
	if ((hl == 2 && h[1] >= 126) || (hl == 4 && h[1] != 126) ||
	    (hl == 10 && (h[1] != 127 || (h[2] & 0x80))))
		__builtin_trap();
	if (got != len)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *buf, *payload, frame[CAP + 14];
	size_t left, plen, i, n;
	uint64_t len = 0;
	long fl;
	int op;

	if (size < 9)
		return 0;
	for (i = 1; i < 9; i++)
		len = len << 8 | data[i];
	check_header(data[0], len);
	check_header(data[0], len & 0xffff);
	check_header(data[0], len & 0x7f);

	/* the rest as a client's byte stream */
	left = size - 9;
	buf = malloc(left + 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 9, left);
	n = 0;
	while (n < left) {
		fl = ws_frame_parse(buf + n, left - n, CAP, &op, &payload, &plen);
		if (fl == 0 || fl == -1002 || fl == -1009)
			break;
		if (fl < 0 || (size_t)fl > left - n || plen > CAP ||
		    payload < buf + n || payload + plen > buf + n + (size_t)fl ||
		    op < 0 || op > 15)
			__builtin_trap();
		n += (size_t)fl;
	}

	/* round trip: a masked frame of (up to CAP - 8 bytes of) the input */
	plen = left > CAP - 8 ? CAP - 8 : left;
	frame[0] = (unsigned char)(0x80 | (data[0] & 0x0f));
	if (plen < 126) {
		frame[1] = (unsigned char)(0x80 | plen);
		i = 2;
	} else {
		frame[1] = 0x80 | 126;
		frame[2] = (unsigned char)(plen >> 8);
		frame[3] = (unsigned char)plen;
		i = 4;
	}
	memcpy(frame + i, data + 1, 4);		/* the mask */
	for (n = 0; n < plen; n++)
		frame[i + 4 + n] = data[9 + n] ^ data[1 + n % 4];
	fl = ws_frame_parse(frame, i + 4 + plen, CAP, &op, &payload, &plen);
	if (fl != (long)(i + 4 + (left > CAP - 8 ? CAP - 8 : left)) ||
	    op != (data[0] & 0x0f) || memcmp(payload, data + 9, plen) != 0)
		__builtin_trap();
	free(buf);
	return 0;
}
