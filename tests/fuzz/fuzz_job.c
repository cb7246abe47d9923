/* libFuzzer harness: the job JSON parser, validator and normaliser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	json_t *in, *v, *job, *norm, *upd;
	char *text;

	in = js_job_parse((const char *)data, size, err, sizeof err);
	if (in == NULL)
		return 0;
	v = js_job_validate(in, err, sizeof err);
	if (v != NULL) {
		job = js_job_new(v, NULL, "fuzz", NULL);
		if (job != NULL) {
			text = js_job_dump(job, NULL);
			/* what we store must read back as the same valid job */
			norm = js_job_normalize(job, js_job_str(job, "id"), err,
			    sizeof err);
			if (norm == NULL || text == NULL)
				__builtin_trap();
			json_decref(norm);
			free(text);
			json_decref(job);
		}
		json_decref(v);
	}
	norm = js_job_normalize(in, "0b1e6f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b", err,
	    sizeof err);
	json_decref(norm);
	(void)js_job_check_update(in, err, sizeof err);
	upd = json_object_get(in, "status");
	if (json_is_string(upd))
		(void)js_state_from_status(json_string_value(upd));
	json_decref(in);
	return 0;
}
