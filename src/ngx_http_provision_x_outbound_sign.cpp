/*
 * Outbound signing: variables that carry a fresh signature per request, so
 * an internal service calls the platform through the gateway with
 * proxy_pass and never holds the app secret.
 *
 *   $provision_x_huawei_authorization, $provision_x_huawei_x_aksk  (§3.2)
 *   $provision_x_aliyun_pop_query                                  (§2.8)
 *
 * Each is signed lazily, once per request, with the first secret of the
 * configured app (the current one while a rotation lists several).
 */

#include "ngx_http_provision_x_outbound.hpp"

#include "core/clock.hpp"
#include "core/params.hpp"
#include "core/signature.hpp"

#include <array>
#include <exception>
#include <string>

using provision_x::view;

/* the largest query an internal caller may hand over for signing */
#define NGX_HTTP_PROVISION_X_POP_MAX_ARGS 8192
#define NGX_HTTP_PROVISION_X_POP_MAX_PARAMS 64

static ngx_http_provision_x_app_t *
ngx_http_provision_x_sign_app(ngx_conf_t *cf, ngx_str_t *arg) noexcept
{
    static const std::string_view prefix = "app=";
    std::string_view a = view(*arg);

    if (a.substr(0, prefix.size()) != prefix) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", expected \"app=NAME\"",
                           arg);
        return NULL;
    }

    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(cf);
    ngx_http_provision_x_app_t *app =
        ngx_http_provision_x_app_find(pmcf, a.substr(prefix.size()));

    if (app == NULL || app->secrets.nelts == 0) {
        /* apps are read in order: a later provision_x_app is too late */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown app in \"%V\"; define it with "
                           "\"provision_x_app\" before this directive",
                           arg);
        return NULL;
    }

    return app;
}

char *
ngx_http_provision_x_huawei_sign(ngx_conf_t *cf, ngx_command_t *cmd,
                                 void *conf) noexcept
{
    auto *olcf = static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (olcf->huawei_app != NULL) {
        return provision_x::conf_message("is duplicate");
    }

    olcf->huawei_app = ngx_http_provision_x_sign_app(cf, &value[1]);

    return olcf->huawei_app != NULL ? NGX_CONF_OK
                                    : NGX_HTTP_PROVISION_X_CONF_ERROR;
}

char *
ngx_http_provision_x_complex_arg(ngx_conf_t *cf, ngx_str_t *value,
                                 ngx_http_complex_value_t **cv) noexcept
{
    *cv = static_cast<ngx_http_complex_value_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t)));
    if (*cv == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    ngx_http_compile_complex_value_t ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = *cv;

    return ngx_http_compile_complex_value(&ccv) == NGX_OK
               ? NGX_CONF_OK
               : NGX_HTTP_PROVISION_X_CONF_ERROR;
}

char *
ngx_http_provision_x_aliyun_pop_sign(ngx_conf_t *cf, ngx_command_t *cmd,
                                     void *conf) noexcept
{
    auto *olcf = static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (olcf->pop_app != NULL) {
        return provision_x::conf_message("is duplicate");
    }

    ngx_http_provision_x_app_t *app =
        ngx_http_provision_x_sign_app(cf, &value[1]);
    if (app == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    /* the app's name is the AccessKeyId unless told otherwise */
    olcf->pop_access_key_id = app->name;
    ngx_str_set(&olcf->pop_method, "GET");
    ngx_str_set(&olcf->pop_region, "cn-hangzhou");
    ngx_str_set(&olcf->pop_version, "2017-05-25");

    ngx_uint_t i;

    for (i = 2; i < cf->args->nelts; i++) {
        std::string_view a = view(value[i]);
        std::string_view::size_type eq = a.find('=');
        std::string_view name = a.substr(0, eq);
        ngx_str_t v = ngx_null_string;

        if (eq != std::string_view::npos) {
            v.data = value[i].data + eq + 1;
            v.len = value[i].len - eq - 1;
        }

        if (eq == std::string_view::npos || v.len == 0) {
            goto invalid;
        }

        if (name == "access_key_id") {
            olcf->pop_access_key_id = v;

        } else if (name == "method") {
            if (view(v) != "GET" && view(v) != "POST") {
                goto invalid;
            }

            olcf->pop_method = v;

        } else if (name == "region") {
            olcf->pop_region = v;

        } else if (name == "version") {
            olcf->pop_version = v;

        } else if (name == "nonce") {
            if (ngx_http_provision_x_complex_arg(cf, &v, &olcf->pop_nonce)
                != NGX_CONF_OK) {
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }

        } else if (name == "timestamp") {
            if (ngx_http_provision_x_complex_arg(cf, &v, &olcf->pop_timestamp)
                != NGX_CONF_OK)
            {
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }

        } else {
            goto invalid;
        }
    }

    olcf->pop_app = app;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                       &value[i]);
    return NGX_HTTP_PROVISION_X_CONF_ERROR;
}

static ngx_int_t
ngx_http_provision_x_keep(ngx_http_request_t *r, const std::string &s,
                          ngx_str_t *out) noexcept
{
    out->data = static_cast<u_char *>(ngx_pnalloc(r->pool, s.size()));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, s.data(), s.size());
    out->len = s.size();

    return NGX_OK;
}

static ngx_int_t
ngx_http_provision_x_sign_huawei(ngx_http_request_t *r,
                                 ngx_http_provision_x_outbound_loc_conf_t *olcf,
                                 ngx_http_provision_x_outbound_ctx_t *ctx)
try {
    using namespace provision_x;

    ngx_http_provision_x_app_t *app = olcf->huawei_app;
    auto *secret = static_cast<ngx_str_t *>(app->secrets.elts);
    std::array<char, 32> nonce;
    utc_timestamp_text created;

    /* §3.2.3: Created is the time the nonce was made, in real UTC */
    if (!make_nonce(nonce) || !format_utc_timestamp(ngx_time(), created)) {
        return NGX_ERROR;
    }

    std::string authorization;
    std::string x_aksk;
    sig_error e = build_aksk_headers(
        view(app->name), view(secret[0]), std::string_view(nonce.data(), 32),
        std::string_view(created.data(), created.size()), authorization,
        x_aksk);

    if (e != sig_error::ok) {
        std::string_view why = describe(e);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: cannot sign for app \"%V\": %*s",
                      &app->name, why.size(), why.data());
        return NGX_ERROR;
    }

    if (ngx_http_provision_x_keep(r, authorization, &ctx->huawei_authorization)
            != NGX_OK
        || ngx_http_provision_x_keep(r, x_aksk, &ctx->huawei_x_aksk) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: Huawei signing failed: %s", e.what());
    return NGX_ERROR;
}

static bool
ngx_http_provision_x_pop_input(ngx_http_request_t *r,
                               ngx_http_complex_value_t *cv,
                               std::string_view fresh, ngx_str_t *out) noexcept
{
    if (cv == NULL) {
        out->data =
            reinterpret_cast<u_char *>(const_cast<char *>(fresh.data()));
        out->len = fresh.size();
        return true;
    }

    return ngx_http_complex_value(r, cv, out) == NGX_OK && out->len > 0;
}

static ngx_int_t
ngx_http_provision_x_sign_pop(ngx_http_request_t *r,
                              ngx_http_provision_x_outbound_loc_conf_t *olcf,
                              ngx_http_provision_x_outbound_ctx_t *ctx)
try {
    using namespace provision_x;

    param_list params(NGX_HTTP_PROVISION_X_POP_MAX_PARAMS);
    std::string arena;

    arena.reserve(r->args.len);

    params_error pe = parse_urlencoded(
        view(r->args), NGX_HTTP_PROVISION_X_POP_MAX_ARGS, params, arena);

    if (pe != params_error::ok) {
        std::string_view why = describe(pe);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: POP query not signed: %*s", why.size(),
                      why.data());
        return NGX_ERROR;
    }

    /* the gateway owns these: a caller's own copy would be signed twice */
    static const std::string_view owned[] = {
        "AccessKeyId",    "Signature",        "SignatureMethod",
        "SignatureNonce", "SignatureVersion", "Timestamp",
    };

    for (std::string_view name : owned) {
        if (params.find(name) != nullptr) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "provision_x: POP query not signed: the caller "
                          "sent \"%*s\", which the gateway sets",
                          name.size(), name.data());
            return NGX_ERROR;
        }
    }

    if (params.find("Action") == nullptr) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: POP query not signed: no \"Action\"");
        return NGX_ERROR;
    }

    std::array<char, 32> fresh_nonce;
    utc_timestamp_text fresh_stamp;

    if (!make_nonce(fresh_nonce)
        || !format_utc_timestamp(ngx_time(), fresh_stamp)) {
        return NGX_ERROR;
    }

    ngx_str_t nonce, stamp;

    if (!ngx_http_provision_x_pop_input(
            r, olcf->pop_nonce,
            std::string_view(fresh_nonce.data(), fresh_nonce.size()), &nonce)
        || !ngx_http_provision_x_pop_input(
            r, olcf->pop_timestamp,
            std::string_view(fresh_stamp.data(), fresh_stamp.size()), &stamp))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: POP query not signed: empty nonce or "
                      "timestamp");
        return NGX_ERROR;
    }

    /* a caller may choose Format, RegionId and Version; the rest is ours */
    params.add("AccessKeyId", view(olcf->pop_access_key_id));
    params.add("SignatureMethod", "HMAC-SHA1");
    params.add("SignatureVersion", "1.0");
    params.add("SignatureNonce", view(nonce));
    params.add("Timestamp", view(stamp));

    if (params.find("Format") == nullptr) {
        params.add("Format", "JSON");
    }

    if (params.find("RegionId") == nullptr) {
        params.add("RegionId", view(olcf->pop_region));
    }

    if (params.find("Version") == nullptr) {
        params.add("Version", view(olcf->pop_version));
    }

    if (params.size() + 1 > params.max_count()) {
        return NGX_ERROR;
    }

    auto *secret = static_cast<ngx_str_t *>(olcf->pop_app->secrets.elts);
    std::string scratch;
    std::string query;
    sig_error e = pop_sign(view(olcf->pop_method), params, view(secret[0]),
                           scratch, query);

    if (e != sig_error::ok) {
        std::string_view why = describe(e);

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: POP signing for app \"%V\" failed: %*s",
                      &olcf->pop_app->name, why.size(), why.data());
        return NGX_ERROR;
    }

    return ngx_http_provision_x_keep(r, query, &ctx->pop_query);

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: POP signing failed: %s", e.what());
    return NGX_ERROR;
}

ngx_int_t
ngx_http_provision_x_sign_variable(ngx_http_request_t *r,
                                   ngx_http_variable_value_t *v,
                                   uintptr_t data) noexcept
{
    ngx_http_provision_x_outbound_loc_conf_t *olcf =
        ngx_http_provision_x_outbound_loc_conf(r);

    v->not_found = 1;

    bool huawei = data != NGX_HTTP_PROVISION_X_VAR_ALIYUN_POP_QUERY;

    if ((huawei && olcf->huawei_app == NULL)
        || (!huawei && olcf->pop_app == NULL)) {
        return NGX_OK;
    }

    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_str_t *value;

    if (huawei) {
        if (ctx->huawei_authorization.len == 0
            && ngx_http_provision_x_sign_huawei(r, olcf, ctx) != NGX_OK)
        {
            /* empty rather than an error: proxy_pass then gets a 401 */
            return NGX_OK;
        }

        value = data == NGX_HTTP_PROVISION_X_VAR_HUAWEI_AUTHORIZATION
                    ? &ctx->huawei_authorization
                    : &ctx->huawei_x_aksk;

    } else {
        if (ctx->pop_query.len == 0
            && ngx_http_provision_x_sign_pop(r, olcf, ctx) != NGX_OK)
        {
            return NGX_OK;
        }

        value = &ctx->pop_query;
    }

    v->data = value->data;
    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
