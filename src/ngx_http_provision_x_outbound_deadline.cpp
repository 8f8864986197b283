/*
 * Background calls with a deadline, for the outbound module's handlers
 * that must answer the platform in time whatever the service behind them
 * does (call control, the interface).  The subrequest runs in the
 * background, in memory, and wakes the parent when it ends; the timer
 * answers for it when it does not end in time.
 */

#include "ngx_http_provision_x_outbound.hpp"

void
ngx_http_provision_x_deadline_settle(
    ngx_http_provision_x_deadline_call_t *call) noexcept
{
    call->settled = 1;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }
}

static void
ngx_http_provision_x_deadline_expired(ngx_event_t *ev) noexcept
{
    auto *call = static_cast<ngx_http_provision_x_deadline_call_t *>(ev->data);
    ngx_connection_t *c = call->request->connection;

    if (call->settled) {
        return;
    }

    call->settled = 1;
    call->expired(call->request);

    ngx_http_run_posted_requests(c);
}

/* A client abort ends the request without either: the timer must not
 * outlive the pool that holds it. */
static void
ngx_http_provision_x_deadline_cleanup(void *data) noexcept
{
    auto *call = static_cast<ngx_http_provision_x_deadline_call_t *>(data);

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }
}

static ngx_int_t
ngx_http_provision_x_deadline_ended(ngx_http_request_t *sr, void *data,
                                    ngx_int_t rc) noexcept
{
    auto *call = static_cast<ngx_http_provision_x_deadline_call_t *>(data);

    if (call->ended) {
        return rc;
    }

    call->ended = 1;

    if (call->settled) {
        ngx_log_error(NGX_LOG_INFO, sr->connection->log, 0,
                      "provision_x: %s answer after the deadline ignored "
                      "(status %ui)",
                      call->what, sr->headers_out.status);
        return rc;
    }

    ngx_http_upstream_t *u = sr->upstream;

    call->rc = rc;
    call->proxied = (u != NULL);
    call->upstream_status = u != NULL ? u->headers_in.status_n : 0;

    /*
     * An answer that does not fit subrequest_output_buffer_size fails an
     * output filter, and nginx then marks the whole connection failed,
     * which would close it unanswered.  The client is fine (an abort ends
     * the subrequest with 499): the failure is the call's, and it is
     * answered as such.
     */
    call->cut =
        call->upstream_status != 0 && rc == NGX_OK && sr->connection->error;

    if (call->cut) {
        sr->connection->error = 0;
        call->status = NGX_HTTP_BAD_GATEWAY;

    } else if (sr->headers_out.status != 0) {
        call->status = sr->headers_out.status;

    } else {
        call->status =
            rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc : NGX_HTTP_BAD_GATEWAY;
    }

    /* in-memory subrequests keep their body in one buffer of sr->out */
    if (rc == NGX_OK && !call->cut && sr->out != NULL && sr->out->buf != NULL) {
        call->body.data = sr->out->buf->pos;
        call->body.len = sr->out->buf->last - sr->out->buf->pos;
    }

    /* as the upstream sent it, before any proxy_redirect */
    if (u != NULL && u->headers_in.location != NULL) {
        call->location = u->headers_in.location->value;
    }

    /* a background subrequest does not wake its parent by itself */
    ngx_http_post_request(call->request, NULL);

    return rc;
}

static void
ngx_http_provision_x_deadline_resume(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);

    if (ctx == NULL || !ctx->call.ended || ctx->call.settled) {
        return;
    }

    ngx_http_provision_x_deadline_settle(&ctx->call);
    ctx->call.answer(r);
}

ngx_int_t
ngx_http_provision_x_deadline_start(ngx_http_request_t *r,
                                    ngx_http_provision_x_deadline_call_t *call,
                                    ngx_str_t *uri, ngx_str_t *args,
                                    ngx_msec_t timeout,
                                    ngx_http_request_t **sr) noexcept
{
    auto *ps = static_cast<ngx_http_post_subrequest_t *>(
        ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t)));
    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ps == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_provision_x_deadline_ended;
    ps->data = call;

    if (ngx_http_subrequest(r, uri, args, sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                                | NGX_HTTP_SUBREQUEST_WAITED
                                | NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->request = r;
    call->timer.handler = ngx_http_provision_x_deadline_expired;
    call->timer.data = call;
    call->timer.log = r->connection->log;
    ngx_add_timer(&call->timer, timeout);

    cln->handler = ngx_http_provision_x_deadline_cleanup;
    cln->data = call;

    r->write_event_handler = ngx_http_provision_x_deadline_resume;

    return NGX_OK;
}
