/* local.h - the parts of local mode (local.c, local_log.c). */
#ifndef JS_CLIENT_LOCAL_H
#define JS_CLIENT_LOCAL_H

#include "client.h"
#include "spool.h"

struct js_spool *cl_local_spool(struct cl_ctx *ctx);
int cl_local_wait(struct cl_ctx *ctx, const char *id, int64_t timeout_ms,
    json_t **job, int *final);
int cl_local_log(struct cl_ctx *ctx, const char *id, long long offset,
    int follow, FILE *out);
int cl_local_batch_log(struct cl_ctx *ctx, const json_t *batch, FILE *out);
int cl_local_list(struct cl_ctx *ctx, const struct cl_filter *f,
    json_t **jobs);
/* Whether job passes ls's filters (both modes). */
int cl_filter_match(const struct cl_filter *f, const json_t *job);

#endif
