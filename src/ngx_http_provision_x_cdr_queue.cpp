/*
 * The queue= sink: the new records of a push are appended to a
 * shared-memory queue of the queue module, all or none under one lock,
 * and the platform is answered at once.
 */

#include "ngx_http_provision_x_access.hpp"
#include "ngx_http_provision_x_cdr.hpp"
#include "ngx_http_provision_x_faults.hpp"
#include "ngx_http_provision_x_log.hpp"
#include "ngx_http_provision_x_queue.hpp"

static ngx_int_t
ngx_http_provision_x_cdr_queue_hand_off(
    ngx_http_request_t *r, ngx_http_provision_x_ctx_t *ctx) noexcept
{
    static ngx_http_provision_x_log_limit_t
        ngx_http_provision_x_cdr_queue_full =
            NGX_HTTP_PROVISION_X_LOG_LIMIT("queue is full", 1);

    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    ngx_shm_zone_t *queue = plcf->cdr_queue;

    switch (NGX_HTTP_PROVISION_X_FAULT("queue_push")
                ? NGX_HTTP_PROVISION_X_QUEUE_ERROR
                : ngx_http_provision_x_queue_push(queue, cdr->lines, cdr->fresh,
                                                  r->connection->log))
    {
    case NGX_HTTP_PROVISION_X_QUEUE_OK:
        ngx_http_provision_x_cdr_handed_off(r, ctx, NGX_HTTP_OK);
        return ngx_http_provision_x_cdr_commit(r, ctx);

    case NGX_HTTP_PROVISION_X_QUEUE_FULL:
        if (ngx_http_provision_x_log_allowed(
                &ngx_http_provision_x_cdr_queue_full, r->connection->log))
        {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "provision_x: queue \"%V\" is full, %ui records "
                          "refused",
                          &queue->shm.name, cdr->fresh);
        }

        ngx_http_provision_x_cdr_handed_off(r, ctx,
                                            NGX_HTTP_SERVICE_UNAVAILABLE);
        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "queue full, retry later");

    case NGX_HTTP_PROVISION_X_QUEUE_MOVED:
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "provision_x: queue \"%V\" was resized by a reload "
                      "and this worker is retiring, %ui records refused",
                      &queue->shm.name, cdr->fresh);
        ngx_http_provision_x_cdr_handed_off(r, ctx,
                                            NGX_HTTP_SERVICE_UNAVAILABLE);
        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "queue resized, retry later");

    default:
        ngx_http_provision_x_cdr_handed_off(r, ctx,
                                            NGX_HTTP_INTERNAL_SERVER_ERROR);
        return ngx_http_provision_x_cdr_answer(
            r, NGX_HTTP_INTERNAL_SERVER_ERROR, "enqueue failed");
    }
}

const ngx_http_provision_x_cdr_sink_t ngx_http_provision_x_cdr_queue = {
    "queue",
    NGX_HTTP_PROVISION_X_SINK_QUEUE,
    ngx_http_provision_x_cdr_queue_hand_off,
    NULL,
};
