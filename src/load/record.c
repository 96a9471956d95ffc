/* A load record as a results-store row. */
#include "load.h"

/* Why: `faasml load` and `faasml bench` both store what the client saw; one mapping keeps the
 * two identical. Times become wall-clock ns (wall0 + monotonic), like the platform's records. */
void load_record_to_store(const load_record *r, int64_t run_id, const char *function, int64_t wall0,
                          store_request *out)
{
#define WALL(t) ((t) ? wall0 + (t) : 0)
    *out = (store_request){
        .run = run_id,
        .id = (int64_t)r->id,
        .function = function,
        .scheduled_ns = WALL(r->scheduled_ns),
        .sent_ns = WALL(r->sent_ns),
        .first_byte_ns = WALL(r->first_byte_ns),
        .done_ns = WALL(r->done_ns),
        .status = load_status_name(r->status),
        .http_code = r->http_code,
        .error = r->error[0] ? r->error : NULL,
        .cold = r->cold == 1,
        .instance = r->instance,
        .init_ms = r->init_ms,
        .duration_ms = r->duration_ms,
        .billed_ms = r->billed_ms,
        .memory_mb = r->memory_mb,
        .batch_size = 1,
    };
#undef WALL
}
