/*
 * Refusing a callback: one reason, one status, one body in the dialect's
 * own error shape, one error-log line.  In debug mode nothing is refused:
 * the same line is logged as "would reject" and the reason travels to the
 * client in a response header, so an operator can watch a location during
 * onboarding and switch it to live once nothing would fail.
 */

#include "ngx_http_provision_x_access.hpp"
#include "ngx_http_provision_x_faults.hpp"
#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_log.hpp"
#include "ngx_http_provision_x_metrics.hpp"

using provision_x::describe;
using provision_x::dialect;
using provision_x::reason;

static ngx_http_output_header_filter_pt ngx_http_next_header_filter;

static ngx_str_t ngx_http_provision_x_would_reject =
    ngx_string("X-Provision-X-Would-Reject");

static ngx_int_t
ngx_http_provision_x_send_rejection(
    ngx_http_request_t *r, dialect d,
    const ngx_http_provision_x_refusal_t *refusal) noexcept
{
    const provision_x::reason_info &info = describe(refusal->why);
    std::string_view code_text =
        refusal->code.empty()
            ? (d == dialect::huawei ? info.huawei_code : info.aliyun_code)
            : refusal->code;
    std::string_view message_text =
        refusal->message.empty() ? info.message : refusal->message;
    ngx_str_t code, message;

    code.data = (u_char *) code_text.data();
    code.len = code_text.size();
    message.data = (u_char *) message_text.data();
    message.len = message_text.size();

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_ERROR;
    }

    /* codes and messages are fixed ASCII without quotes: no escaping */
    size_t len = sizeof("{\"resultcode\":\"\",\"resultdesc\":\"\"}\n") - 1
                 + code.len + message.len;

    ngx_buf_t *b = NGX_HTTP_PROVISION_X_FAULT("reject_alloc")
                       ? NULL
                       : ngx_create_temp_buf(r->pool, len);
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

    if (refusal->why == reason::nonce_store_full
        && ngx_http_provision_x_push_header(r, ngx_string("Retry-After"),
                                            ngx_string("1"))
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_chain_t out = {b, NULL};

    return ngx_http_provision_x_send(
        r, info.status, &ngx_http_provision_x_platform_json_type, &out);
}

static const char *
ngx_http_provision_x_created_name(ngx_http_provision_x_ctx_t *ctx) noexcept
{
    switch (ctx->created) {
    case NGX_HTTP_PROVISION_X_CREATED_UTC:
        return ", created=utc";
    case NGX_HTTP_PROVISION_X_CREATED_BEIJING:
        return ", created=beijing";
    default:
        return "";
    }
}

ngx_int_t
ngx_http_provision_x_reject(
    ngx_http_request_t *r, ngx_http_provision_x_ctx_t *ctx,
    const ngx_http_provision_x_refusal_t *refusal) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);
    dialect d = ctx->dialect;
    ngx_str_t app = ngx_null_string;
    const char *detail = refusal->detail;

    if (ctx->app != NULL) {
        app = ctx->app->name;
    }

    ctx->reason = static_cast<ngx_uint_t>(refusal->why);

    ngx_http_provision_x_metrics_rejected(ctx->dialect, ctx->app, refusal->why);

    /* a flood of forged or replayed callbacks must not bury the log */
    static ngx_http_provision_x_log_limit_t ngx_http_provision_x_rejections =
        NGX_HTTP_PROVISION_X_LOG_LIMIT("rejected callback", 100);

    if (ngx_http_provision_x_log_allowed(&ngx_http_provision_x_rejections,
                                         r->connection->log))
    {
        ngx_log_error(
            plcf->reject_log_level, r->connection->log, 0,
            "provision_x: %s %s callback: %s (app \"%V\")%s%s%s",
            plcf->mode == NGX_HTTP_PROVISION_X_MODE_DEBUG ? "would reject"
                                                          : "rejected",
            provision_x::dialect_name(d), describe(refusal->why).name.data(),
            &app, detail ? ", " : "", detail ? detail : "",
            ngx_http_provision_x_created_name(ctx));
    }

    if (plcf->mode == NGX_HTTP_PROVISION_X_MODE_DEBUG) {
        return NGX_DECLINED;
    }

    ngx_int_t rc = ngx_http_provision_x_send_rejection(r, d, refusal);

    /* no body could be made: nginx's own 500 still tells the platform to
     * retry, where a closed connection would leave it guessing */
    if (rc == NGX_ERROR && !r->header_sent) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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

    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);

    if (plcf->mode != NGX_HTTP_PROVISION_X_MODE_DEBUG) {
        return ngx_http_next_header_filter(r);
    }

    std::string_view name = describe(static_cast<reason>(ctx->reason)).name;
    ngx_str_t value = {name.size(), (u_char *) name.data()};

    if (ngx_http_provision_x_push_header(r, ngx_http_provision_x_would_reject,
                                         value)
        != NGX_OK)
    {
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
