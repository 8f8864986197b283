/*
 * The shared-memory CDR queue, as the CDR handler and the status endpoint
 * see it.  The queue, its consumer API and its snapshot file belong to a
 * second module in the same .so, ngx_http_provision_x_queue_module.
 */

#ifndef NGX_HTTP_PROVISION_X_QUEUE_HPP
#define NGX_HTTP_PROVISION_X_QUEUE_HPP

#include "ngx_http_provision_x.hpp"

#include "core/cdr.hpp"

extern "C" {
extern ngx_module_t ngx_http_provision_x_queue_module;
}

enum ngx_http_provision_x_queue_rc_e {
    NGX_HTTP_PROVISION_X_QUEUE_OK,
    NGX_HTTP_PROVISION_X_QUEUE_FULL, /* nothing was enqueued */
    /* a reload resized the zone; this worker is retiring: nothing enqueued */
    NGX_HTTP_PROVISION_X_QUEUE_MOVED,
    NGX_HTTP_PROVISION_X_QUEUE_ERROR, /* nothing was enqueued */
};

struct ngx_http_provision_x_queue_stats_t {
    ngx_uint_t depth;  /* records waiting or leased */
    ngx_uint_t leased; /* records under an unexpired lease */
    size_t bytes_used; /* of the zone */
    size_t bytes_free; /* of the zone */
    time_t oldest_age; /* seconds since the oldest record arrived */
    uint64_t enqueued; /* counters since the zone was created */
    uint64_t leased_total;
    uint64_t acknowledged;
    uint64_t redelivered;
    uint64_t refused_full;
};

/*
 * Configuration time: "queue=NAME" of provision_x_cdr.  The zone may be
 * defined further down the http block; a name that is never defined
 * stops nginx.  Returns the zone, or NULL on error (already logged).
 */
ngx_shm_zone_t *ngx_http_provision_x_queue_ref(ngx_conf_t *cf,
                                               ngx_str_t *name) noexcept;

/*
 * Request time: appends all n records (each one NDJSON line, without the
 * newline, in the pieces provision_x::cdr_write_line_pieces gave) under
 * one lock, or none of them.
 */
ngx_http_provision_x_queue_rc_e
ngx_http_provision_x_queue_push(ngx_shm_zone_t *zone,
                                const provision_x::cdr_line_pieces *lines,
                                ngx_uint_t n, ngx_log_t *log) noexcept;

/* Records not yet acknowledged, without the lock: for log variables. */
ngx_uint_t ngx_http_provision_x_queue_depth(ngx_shm_zone_t *zone) noexcept;

void ngx_http_provision_x_queue_stats(
    ngx_shm_zone_t *zone, ngx_http_provision_x_queue_stats_t *st) noexcept;

#endif /* NGX_HTTP_PROVISION_X_QUEUE_HPP */
