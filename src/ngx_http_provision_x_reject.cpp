/*
 * Refusing a callback: one reason, one status, one body in the dialect's
 * own error shape, one error-log line.  In debug mode nothing is refused:
 * the same line is logged as "would reject" and the reason travels to the
 * client in a response header, so an operator can watch a location during
 * onboarding and switch it to live once nothing would fail.
 */

#include "ngx_http_provision_x.hpp"

using provision_x::describe;
using provision_x::dialect;
using provision_x::reason;

static ngx_http_output_header_filter_pt ngx_http_next_header_filter;

static ngx_str_t ngx_http_provision_x_json_type =
    ngx_string("application/json;charset=UTF-8");

static ngx_str_t ngx_http_provision_x_would_reject =
    ngx_string("X-Provision-X-Would-Reject");

static ngx_int_t
ngx_http_provision_x_send_rejection(ngx_http_request_t *r, dialect d,
                                    reason why) noexcept
{
    const provision_x::reason_info &info = describe(why);
    ngx_str_t code, message;

    code.data = (u_char *) info.aliyun_code.data();
    code.len = info.aliyun_code.size();
    message.data = (u_char *) info.message.data();
    message.len = info.message.size();

    if (d == dialect::huawei) {
        code.data = (u_char *) info.huawei_code.data();
        code.len = info.huawei_code.size();
    }

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_ERROR;
    }

    /* codes and messages are fixed ASCII without quotes: no escaping */
    size_t len = sizeof("{\"resultcode\":\"\",\"resultdesc\":\"\"}\n") - 1 +
                 code.len + message.len;

    ngx_buf_t *b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_ERROR;
    }

    if (d == dialect::huawei) {
        b->last = ngx_sprintf(b->last,
                              "{\"resultcode\":\"%V\","
                              "\"resultdesc\":\"%V\"}\n",
                              &code, &message);
    } else {
        b->last = ngx_sprintf(b->last, "{\"code\":\"%V\",\"message\":\"%V\"}\n",
                              &code, &message);
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = info.status;
    r->headers_out.content_type = ngx_http_provision_x_json_type;
    r->headers_out.content_type_len = ngx_http_provision_x_json_type.len;
    r->headers_out.content_length_n = b->last - b->pos;

    if (why == reason::nonce_store_full &&
        ngx_http_provision_x_push_header(r, ngx_string("Retry-After"),
                                         ngx_string("1")) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    ngx_chain_t out;
    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}

ngx_int_t
ngx_http_provision_x_reject(ngx_http_request_t *r,
                            ngx_http_provision_x_ctx_t *ctx, reason why,
                            const char *detail) noexcept
{
    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_module));
    auto d = static_cast<dialect>(ctx->dialect);
    ngx_str_t app = ngx_null_string;

    if (ctx->app != NULL) {
        app = ctx->app->name;
    }

    ctx->reason = static_cast<ngx_uint_t>(why);

    ngx_http_provision_x_metrics_rejected(ctx->dialect, ctx->app, why);

    ngx_log_error(plcf->reject_log_level, r->connection->log, 0,
                  "provision_x: %s %s callback: %s (app \"%V\")%s%s",
                  plcf->mode == NGX_HTTP_PROVISION_X_MODE_DEBUG ? "would reject"
                                                                : "rejected",
                  d == dialect::huawei ? "huawei" : "aliyun",
                  describe(why).name.data(), &app, detail ? ", " : "",
                  detail ? detail : "");

    if (plcf->mode == NGX_HTTP_PROVISION_X_MODE_DEBUG) {
        return NGX_DECLINED;
    }

    ngx_int_t rc = ngx_http_provision_x_send_rejection(r, d, why);

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}

static ngx_int_t
ngx_http_provision_x_header_filter(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_get_ctx(r);

    if (ctx == NULL || ctx->reason == 0 || r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    auto *plcf = static_cast<ngx_http_provision_x_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_module));

    if (plcf->mode != NGX_HTTP_PROVISION_X_MODE_DEBUG) {
        return ngx_http_next_header_filter(r);
    }

    std::string_view name = describe(static_cast<reason>(ctx->reason)).name;
    ngx_str_t value = {name.size(), (u_char *) name.data()};

    if (ngx_http_provision_x_push_header(r, ngx_http_provision_x_would_reject,
                                         value) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}

ngx_int_t
ngx_http_provision_x_reject_init(ngx_conf_t *cf) noexcept
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_provision_x_header_filter;

    return NGX_OK;
}
