/*
 * ngx_http_provision_x_redis_module: a RESP upstream
 * (provision_x_redis_pass) that appends records to a Redis stream, with a
 * per-record dedup key, in one script call.  The CDR receiver's redis=
 * sink hands each write to the subrequest it runs in such a location.
 */

#ifndef NGX_HTTP_PROVISION_X_REDIS_HPP
#define NGX_HTTP_PROVISION_X_REDIS_HPP

#include "ngx_http_provision_x.hpp"

#include "core/dialect.hpp"
#include "core/redis.hpp"

extern "C" {
extern ngx_module_t ngx_http_provision_x_redis_module;
}

/* One write: what to append, and what Redis answered. */
struct ngx_http_provision_x_redis_write_t {
    const provision_x::redis_sink_record *records;
    ngx_uint_t n;
    provision_x::dialect dialect;
    time_t ttl;            /* the receiver's dedup_ttl=; 0: the location's */
    ngx_uint_t known;      /* out: of the n, already in the stream */
    unsigned eval : 1;     /* send the script itself, not its SHA-1 */
    unsigned written : 1;  /* out: Redis confirmed; known is set */
    unsigned noscript : 1; /* out: Redis lacked the script: nothing written */
};

/*
 * This module's ctx for a subrequest that performs `w`: the sink sets it
 * on the subrequest before it runs (a provision_x_redis_pass request
 * without one is answered 404).  NULL: no memory.
 */
void *
ngx_http_provision_x_redis_ctx(ngx_pool_t *pool,
                               ngx_http_provision_x_redis_write_t *w) noexcept;

#endif /* NGX_HTTP_PROVISION_X_REDIS_HPP */
