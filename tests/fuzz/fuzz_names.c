/* libFuzzer harness: id and file-name validation, and the parsers of
 * durations, sizes, integers and timestamps.  An id accepted here must be
 * safe to put in a path: 36 characters of [0-9a-f-], no '/'. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), id[JS_ID_SIZE], name[JS_NAME_SIZE];
	const char *side;
	int64_t ms;
	uint64_t b;
	long long v;
	int state;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (js_id_valid(s)) {
		if (strlen(s) != JS_ID_LEN || strchr(s, '/') != NULL ||
		    strspn(s, "0123456789abcdef-") != JS_ID_LEN)
			__builtin_trap();
		if (js_spool_name(name, s, "pending") != 0)
			__builtin_trap();
	} else if (js_spool_name(name, s, "pending") == 0) {
		__builtin_trap();
	}
	if (js_spool_parse_name(s, id, &state, &side) == 0 &&
	    (!js_id_valid(id) || strncmp(s, id, JS_ID_LEN) != 0))
		__builtin_trap();
	(void)js_parse_duration_ms(s, &ms);
	(void)js_parse_size(s, &b);
	(void)js_parse_int(s, -100, 100, &v);
	(void)js_time_parse(s, &ms);
	free(s);
	return 0;
}
