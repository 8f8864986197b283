/*
 * The forward sink: the new records of a push, one NDJSON line each, are
 * POSTed by a subrequest to an internal location that uses proxy_pass, so
 * keepalive, TLS, timeouts, retries and load balancing are nginx's own.
 * The platform is acknowledged only when that upstream answered 2xx.
 */

#include "ngx_http_provision_x.hpp"
#include "ngx_http_provision_x_faults.hpp"

static ngx_int_t
ngx_http_provision_x_forward_done(ngx_http_request_t *sr, void *data,
                                  ngx_int_t rc) noexcept
{
    auto *cdr = static_cast<ngx_http_provision_x_cdr_t *>(data);

    cdr->forward_done = 1;
    cdr->forward_status = ngx_http_provision_x_cdr_sink_status(sr, rc);

    return rc;
}

static void
ngx_http_provision_x_forward_resume(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_get_ctx(r);

    if (ctx == NULL || ctx->cdr == NULL || !ctx->cdr->forward_done) {
        return;
    }

    ngx_http_provision_x_cdr_sink_finish(r, ctx, ctx->cdr->forward_status,
                                         "forward");
}

ngx_int_t
ngx_http_provision_x_forward(ngx_http_request_t *r,
                             ngx_http_provision_x_ctx_t *ctx) noexcept
{
    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_module));
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;

    size_t len = 0;

    for (ngx_uint_t i = 0; i < cdr->fresh; i++) {
        len += cdr->lines[i].len + 1;
    }

    ngx_buf_t *b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (ngx_uint_t i = 0; i < cdr->fresh; i++) {
        b->last = ngx_cpymem(b->last, cdr->lines[i].data, cdr->lines[i].len);
        *b->last++ = '\n';
    }

    b->last_buf = 1;

    auto *body = static_cast<ngx_http_request_body_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t)));
    auto *cl = ngx_alloc_chain_link(r->pool);
    auto *ps = static_cast<ngx_http_post_subrequest_t *>(
        ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t)));
    if (body == NULL || cl == NULL || ps == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;
    body->bufs = cl;

    ps->handler = ngx_http_provision_x_forward_done;
    ps->data = cdr;

    ngx_http_request_t *sr;

    if (NGX_HTTP_PROVISION_X_FAULT("forward") ||
        ngx_http_subrequest(r, &plcf->cdr_forward, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->request_body = body;
    sr->headers_in.content_length_n = len;
    sr->headers_in.chunked = 0;

    /* only the status matters; the upstream's body is not for the platform */
    sr->header_only = 1;

    r->write_event_handler = ngx_http_provision_x_forward_resume;

    return NGX_DONE;
}
