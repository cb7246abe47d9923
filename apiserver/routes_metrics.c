/* routes_metrics.c - GET /metrics: the spool's jobs by state (gauges, from
 * the listing index) and the counters of metrics.c, as Prometheus text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

enum MHD_Result
route_metrics(struct api *a, struct MHD_Connection *c)
{
	unsigned long counts[JS_NSTATES] = { 0 };
	struct idx_filter f;
	struct idx_hit *hits = NULL;
	struct MHD_Response *resp;
	size_t n = 0, i, len;
	char *text;

	memset(&f, 0, sizeof f);
	f.mask = (1u << JS_NSTATES) - 1;
	f.status_mask = JS_FINAL_MASK;
	if (idx_query(a->idx, &f, &hits, &n) < 0)
		return reply_errno(c, errno, "cannot list the spool");
	for (i = 0; i < n; i++)
		counts[hits[i].state]++;
	free(hits);
	text = metrics_text(a->metrics, counts, leases_claims(a->leases), &len);
	if (text == NULL)
		return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
	resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "text/plain; version=0.0.4; charset=utf-8");
	return reply_queue(c, MHD_HTTP_OK, resp);
}
