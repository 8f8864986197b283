/*
 * The forward= sink: the new records of a push, one NDJSON line each, are
 * POSTed by a subrequest to an internal location that uses proxy_pass, so
 * keepalive, TLS, timeouts, retries and load balancing are nginx's own.
 * The platform is acknowledged only when that upstream answered 2xx.
 */

#include "ngx_http_provision_x_access.hpp"
#include "ngx_http_provision_x_cdr.hpp"
#include "ngx_http_provision_x_faults.hpp"

static ngx_int_t
ngx_http_provision_x_cdr_forward_hand_off(
    ngx_http_request_t *r, ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;

    size_t len = 0;

    for (ngx_uint_t i = 0; i < cdr->fresh; i++) {
        len += cdr->lines[i].size() + 1;
    }

    ngx_buf_t *b = ngx_create_temp_buf(r->pool, len);
    auto *body = static_cast<ngx_http_request_body_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t)));
    auto *cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || body == NULL || cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (ngx_uint_t i = 0; i < cdr->fresh; i++) {
        b->last = cdr->lines[i].join(b->last);
        *b->last++ = '\n';
    }

    b->last_buf = 1;

    cl->buf = b;
    cl->next = NULL;
    body->bufs = cl;

    if (NGX_HTTP_PROVISION_X_FAULT("forward")) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_request_t *sr;
    ngx_int_t rc = ngx_http_provision_x_cdr_subrequest(r, ctx, &sr, NULL, NULL);
    if (rc != NGX_DONE) {
        return rc;
    }

    sr->method = NGX_HTTP_POST;
    ngx_str_set(&sr->method_name, "POST");
    sr->request_body = body;
    sr->headers_in.content_length_n = len;
    sr->headers_in.chunked = 0;

    return NGX_DONE;
}

const ngx_http_provision_x_cdr_sink_t ngx_http_provision_x_cdr_forward = {
    "forward",
    NGX_HTTP_PROVISION_X_SINK_FORWARD,
    ngx_http_provision_x_cdr_forward_hand_off,
    ngx_http_provision_x_cdr_sink_finish,
};
