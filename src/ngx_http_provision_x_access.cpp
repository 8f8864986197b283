/*
 * Access phase: is this callback signed by a configured app, fresh, and
 * not seen before?  Aliyun signs parameters that may travel in the body,
 * so for a form or JSON body the handler first reads it the way the
 * mirror module does and leaves it intact for the content handler.
 *
 * Order of checks: parse, app, signature, clock, nonce.  The nonce is
 * recorded last, so nothing unauthenticated ever takes space in the store.
 */

#include "ngx_http_provision_x_access.hpp"
#include "ngx_http_provision_x_apps.hpp"
#include "ngx_http_provision_x_faults.hpp"
#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_metrics.hpp"
#include "ngx_http_provision_x_seen.hpp"

#include "core/clock.hpp"
#include "core/hmac.hpp"
#include "core/params.hpp"
#include "core/signature.hpp"
#include "core/xaksk.hpp"

#include <string>
#include <type_traits>

using provision_x::dialect;
using provision_x::reason;

#define NGX_HTTP_PROVISION_X_MAX_PARAMS 64

/*
 * Per-worker scratch space, created in init_process and reused, so that
 * verification stops allocating after the first requests.
 */
struct ngx_http_provision_x_scratch_t {
    provision_x::param_list params{NGX_HTTP_PROVISION_X_MAX_PARAMS};
    std::string arena;  /* decoded parameters */
    std::string string; /* the string to sign */
};

static ngx_http_provision_x_scratch_t *ngx_http_provision_x_scratch;

#if (NGX_DEBUG)
static ngx_str_t ngx_http_provision_x_no_app = ngx_string("");
#endif

struct ngx_http_provision_x_verdict_t {
    reason why;
    char detail[128];
    provision_x::huawei_result code; /* the platform's code, when it has one */
};

static void
ngx_http_provision_x_detail(ngx_http_provision_x_verdict_t *v, const char *fmt,
                            ...) noexcept
{
    va_list args;

    va_start(args, fmt);
    u_char *last = ngx_vslprintf(reinterpret_cast<u_char *>(v->detail),
                                 reinterpret_cast<u_char *>(v->detail)
                                     + sizeof(v->detail) - 1,
                                 fmt, args);
    va_end(args);

    *last = '\0';
}

static reason
ngx_http_provision_x_fail(ngx_http_provision_x_verdict_t *v, reason why,
                          std::string_view detail) noexcept
{
    v->why = why;
    ngx_http_provision_x_detail(v, "%*s", detail.size(), detail.data());
    return why;
}

/* Room for n bytes of decoded parameters: reserved before parsing,
 * because the parameters are views into it. */
static bool
ngx_http_provision_x_reserve(ngx_http_request_t *r, size_t n) noexcept
try {
    ngx_http_provision_x_scratch->arena.clear();
    ngx_http_provision_x_scratch->arena.reserve(n);
    return true;

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                  "provision_x: no memory for %uz bytes of parameters: %s", n,
                  e.what());
    return false;
}

/*
 * The nonce store remembers (app, nonce) for as long as the timestamp that
 * came with it could still be accepted: until stamp + past window.
 */
static reason
ngx_http_provision_x_record_nonce(ngx_http_request_t *r,
                                  ngx_http_provision_x_loc_conf_t *plcf,
                                  ngx_http_provision_x_app_t *app,
                                  std::string_view nonce, int64_t stamp,
                                  ngx_http_provision_x_verdict_t *v) noexcept
{
    if (plcf->nonce_zone == NULL) {
        return reason::none;
    }

    auto *zone =
        static_cast<ngx_http_provision_x_seen_ctx_t *>(plcf->nonce_zone->data);
    provision_x::sha256_digest digest;
    std::string_view app_name = provision_x::view(app->name);

    if (NGX_HTTP_PROVISION_X_FAULT("nonce_digest")
        || !provision_x::sha256({app_name, std::string_view("\0", 1), nonce},
                                digest))
    {
        return ngx_http_provision_x_fail(v, reason::internal_error,
                                         "the nonce's digest failed");
    }

    time_t expire = static_cast<time_t>(stamp + plcf->clock_past + 1);

    switch (ngx_http_provision_x_seen_add(
        zone, digest.data(), expire, app->metrics_slot, r->connection->log))
    {
    case NGX_HTTP_PROVISION_X_SEEN_ADDED:
        return reason::none;

    case NGX_HTTP_PROVISION_X_SEEN_PRESENT:
        return ngx_http_provision_x_fail(v, reason::replayed_nonce, "");

    case NGX_HTTP_PROVISION_X_SEEN_OVER_SHARE:
        ngx_http_provision_x_detail(v, "app holds its share of zone \"%V\"",
                                    &plcf->nonce_zone->shm.name);
        break;

    case NGX_HTTP_PROVISION_X_SEEN_RETIRED:
        ngx_http_provision_x_detail(v, "zone \"%V\" was resized by a reload",
                                    &plcf->nonce_zone->shm.name);
        break;

    default:
        ngx_http_provision_x_detail(v, "zone \"%V\" has no room",
                                    &plcf->nonce_zone->shm.name);
        break;
    }

    v->why = reason::nonce_store_full;
    return v->why;
}

/* The platform's own code for this cause (spec 3.2.6, 2.4). */
static reason
ngx_http_provision_x_fail_as(ngx_http_provision_x_verdict_t *v, reason why,
                             std::string_view detail,
                             provision_x::huawei_result code) noexcept
{
    v->code = code;
    return ngx_http_provision_x_fail(v, why, detail);
}

static reason
ngx_http_provision_x_check_clock(ngx_http_provision_x_loc_conf_t *plcf,
                                 ngx_http_provision_x_ctx_t *ctx, int64_t stamp,
                                 bool beijing,
                                 ngx_http_provision_x_verdict_t *v) noexcept
{
    provision_x::clock_window w;
    int64_t now = NGX_HTTP_PROVISION_X_NOW();

    w.past = plcf->clock_past;
    w.future = plcf->clock_future;
    w.beijing_alternative = beijing;

    switch (provision_x::check_window(stamp, now, w)) {
    case provision_x::window_result::utc:
        ctx->created = NGX_HTTP_PROVISION_X_CREATED_UTC;
        return reason::none;

    case provision_x::window_result::beijing:
        /* spec A-10: say which reading matched */
        ctx->created = NGX_HTTP_PROVISION_X_CREATED_BEIJING;
        return reason::none;

    case provision_x::window_result::too_old:
        ngx_http_provision_x_detail(v, "timestamp %L s old, limit %T s",
                                    now - stamp, plcf->clock_past);
        v->why = reason::stale_timestamp;
        return v->why;

    default:
        ngx_http_provision_x_detail(v, "timestamp %L s ahead, limit %T s",
                                    stamp - now, plcf->clock_future);
        v->why = reason::future_timestamp;
        return v->why;
    }
}

static bool
ngx_http_provision_x_app_allowed(ngx_http_provision_x_loc_conf_t *plcf,
                                 ngx_http_provision_x_app_t *app) noexcept
{
    if (plcf->apps == NULL) {
        return true;
    }

    auto **allowed =
        static_cast<ngx_http_provision_x_app_t **>(plcf->apps->elts);

    for (ngx_uint_t i = 0; i < plcf->apps->nelts; i++) {
        if (allowed[i] == app) {
            return true;
        }
    }

    return false;
}

/* ---- Huawei: Authorization + X-AKSK headers ---------------------------- */

static ngx_table_elt_t *
ngx_http_provision_x_header(ngx_http_request_t *r, std::string_view name,
                            bool *duplicate) noexcept
{
    ngx_table_elt_t *found = NULL;
    ngx_list_part_t *part = &r->headers_in.headers.part;
    auto *h = static_cast<ngx_table_elt_t *>(part->elts);

    for (ngx_uint_t i = 0; /* void */; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = static_cast<ngx_table_elt_t *>(part->elts);
            i = 0;
        }

        if (h[i].key.len == name.size()
            && ngx_strncasecmp(h[i].key.data, (u_char *) name.data(),
                               name.size())
                   == 0)
        {
            if (found != NULL) {
                *duplicate = true;
            }

            found = &h[i];
        }
    }

    return found;
}

static reason
ngx_http_provision_x_verify_huawei(ngx_http_request_t *r,
                                   ngx_http_provision_x_loc_conf_t *plcf,
                                   ngx_http_provision_x_ctx_t *ctx,
                                   ngx_http_provision_x_verdict_t *v) noexcept
{
    using namespace provision_x;

    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(r);

    bool duplicate = false;
    ngx_table_elt_t *authorization =
        ngx_http_provision_x_header(r, "Authorization", &duplicate);

    if (authorization == NULL) {
        return ngx_http_provision_x_fail_as(v, reason::missing_auth,
                                            "no Authorization header",
                                            huawei_no_authorization());
    }

    auth_scheme scheme;
    xaksk_error err = parse_authorization(
        provision_x::view(authorization->value), plcf->huawei_wsse, scheme);
    if (duplicate) {
        return ngx_http_provision_x_fail(v, reason::malformed_auth,
                                         "duplicate Authorization header");
    }

    if (err != xaksk_error::ok) {
        return ngx_http_provision_x_fail_as(v, reason::malformed_auth,
                                            describe(err),
                                            huawei_result_for(err, false));
    }

    bool wsse = (scheme == auth_scheme::wsse);
    std::string_view token_name = wsse ? "X-WSSE" : "X-AKSK";
    ngx_table_elt_t *token =
        ngx_http_provision_x_header(r, token_name, &duplicate);
    if (token == NULL) {
        ngx_http_provision_x_detail(v, "no %*s header", token_name.size(),
                                    token_name.data());
        v->why = reason::missing_auth;
        v->code = huawei_no_token(wsse);
        return v->why;
    }

    username_token ut;
    err = parse_username_token(provision_x::view(token->value), ut);
    if (duplicate) {
        return ngx_http_provision_x_fail(v, reason::malformed_auth,
                                         "duplicate token header");
    }

    if (err != xaksk_error::ok) {
        return ngx_http_provision_x_fail_as(v, reason::malformed_auth,
                                            describe(err),
                                            huawei_result_for(err, wsse));
    }

    ngx_http_provision_x_app_t *app =
        ngx_http_provision_x_app_find(pmcf, ut.username);
    if (app == NULL || !ngx_http_provision_x_app_allowed(plcf, app)) {
        return ngx_http_provision_x_fail(v, reason::unknown_app,
                                         app ? "app not allowed here"
                                             : "no such app");
    }

    ctx->app = app;

    auto *secrets = static_cast<ngx_str_t *>(app->secrets.elts);
    auto **keys =
        static_cast<ngx_http_provision_x_secret_keys_t **>(app->keys.elts);
    bool matched = false;

    for (ngx_uint_t i = 0; i < app->secrets.nelts && !matched; i++) {
        sig_error rc;

        if (scheme == auth_scheme::aksk) {
            rc = aksk_verify(keys[i]->huawei, ut.nonce, ut.created,
                             ut.password_digest);

        } else {
            wsse_variant variant;
            rc = wsse_verify(provision_x::view(secrets[i]), ut.nonce,
                             ut.created, ut.password_digest, true, variant);
        }

        if (NGX_HTTP_PROVISION_X_FAULT("hmac")) {
            rc = sig_error::crypto_failure;
        }

        if (rc == sig_error::crypto_failure || rc == sig_error::no_memory) {
            /* the gateway failed, not the signature: the platform retries */
            return ngx_http_provision_x_fail(v, reason::internal_error,
                                             rc == sig_error::no_memory
                                                 ? "no memory for the digest"
                                                 : "OpenSSL failed");
        }

        matched = (rc == sig_error::ok);
    }

    if (!matched) {
        return ngx_http_provision_x_fail(v, reason::bad_signature,
                                         "PasswordDigest does not match");
    }

    if (ngx_http_provision_x_check_clock(plcf, ctx, ut.created_epoch,
                                         plcf->huawei_beijing_time, v)
        != reason::none)
    {
        return v->why;
    }

    return ngx_http_provision_x_record_nonce(r, plcf, app, ut.nonce,
                                             ut.created_epoch, v);
}

/* ---- Aliyun: signed parameters in the query, a form or a JSON body ---- */

enum ngx_http_provision_x_body_kind_e {
    NGX_HTTP_PROVISION_X_BODY_NONE,
    NGX_HTTP_PROVISION_X_BODY_FORM,
    NGX_HTTP_PROVISION_X_BODY_JSON,
};

static ngx_uint_t
ngx_http_provision_x_body_kind(ngx_http_request_t *r,
                               ngx_http_provision_x_loc_conf_t *plcf) noexcept
{
    static const std::string_view form = "application/x-www-form-urlencoded";
    static const std::string_view json = "application/json";

    if (r->headers_in.content_type == NULL
        || (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked))
    {
        return NGX_HTTP_PROVISION_X_BODY_NONE;
    }

    ngx_str_t *type = &r->headers_in.content_type->value;

    if (type->len >= form.size()
        && ngx_strncasecmp(type->data, (u_char *) form.data(), form.size())
               == 0)
    {
        return NGX_HTTP_PROVISION_X_BODY_FORM;
    }

    if (plcf->aliyun_json && type->len >= json.size()
        && ngx_strncasecmp(type->data, (u_char *) json.data(), json.size())
               == 0)
    {
        return NGX_HTTP_PROVISION_X_BODY_JSON;
    }

    return NGX_HTTP_PROVISION_X_BODY_NONE;
}

/* The protocol's own parameters, found in one walk over the sorted list. */
struct ngx_http_provision_x_aliyun_fields_t {
    const provision_x::param *format;
    const provision_x::param *signature;
    const provision_x::param *signature_method;
    const provision_x::param *signature_nonce;
    const provision_x::param *signature_version;
    const provision_x::param *timestamp;
};

static void
ngx_http_provision_x_aliyun_fields(
    ngx_http_provision_x_aliyun_fields_t *f) noexcept
{
    ngx_memzero(f, sizeof(ngx_http_provision_x_aliyun_fields_t));

    for (const provision_x::param &p : ngx_http_provision_x_scratch->params) {
        if (p.name == "format") {
            f->format = &p;
        } else if (p.name == "signature") {
            f->signature = &p;
        } else if (p.name == "signatureMethod") {
            f->signature_method = &p;
        } else if (p.name == "signatureNonce") {
            f->signature_nonce = &p;
        } else if (p.name == "signatureVersion") {
            f->signature_version = &p;
        } else if (p.name == "timestamp") {
            f->timestamp = &p;
        }
    }
}

static reason
ngx_http_provision_x_require(const provision_x::param *p, std::string_view name,
                             std::string_view want,
                             ngx_http_provision_x_verdict_t *v) noexcept
{
    if (p == nullptr || p->value.empty()) {
        ngx_http_provision_x_detail(v, "no %*s parameter", name.size(),
                                    name.data());
        v->why = reason::missing_auth;
        return v->why;
    }

    if (!want.empty() && p->value != want) {
        ngx_http_provision_x_detail(v, "unsupported %*s", name.size(),
                                    name.data());
        v->why = reason::malformed_auth;
        return v->why;
    }

    return reason::none;
}

static reason
ngx_http_provision_x_verify_aliyun_params(
    ngx_http_request_t *r, ngx_http_provision_x_loc_conf_t *plcf,
    ngx_http_provision_x_ctx_t *ctx, ngx_http_provision_x_verdict_t *v) noexcept
{
    using namespace provision_x;

    ngx_http_provision_x_aliyun_fields_t f;

    ngx_http_provision_x_aliyun_fields(&f);

    if (ngx_http_provision_x_require(f.signature, "signature", "", v)
            != reason::none
        || ngx_http_provision_x_require(f.signature_method, "signatureMethod",
                                        "HMAC-SHA1", v)
               != reason::none
        || ngx_http_provision_x_require(f.signature_version, "signatureVersion",
                                        "1.0", v)
               != reason::none
        || ngx_http_provision_x_require(f.signature_nonce, "signatureNonce", "",
                                        v)
               != reason::none
        || ngx_http_provision_x_require(f.timestamp, "timestamp", "", v)
               != reason::none
        || (plcf->aliyun_require_format
            && ngx_http_provision_x_require(f.format, "format", "JSON", v)
                   != reason::none))
    {
        return v->why;
    }

    int64_t stamp;
    std::string_view nonce = f.signature_nonce->value;

    if (!parse_utc_timestamp(f.timestamp->value, stamp)) {
        return ngx_http_provision_x_fail_as(
            v, reason::malformed_auth, "malformed timestamp",
            {"InvalidTimeStamp.Format", "The timestamp is malformed."});
    }

    xmode_options opt;
    opt.flavour = static_cast<url_flavour>(plcf->aliyun_encoder);
    opt.key_ampersand = plcf->aliyun_key;

    ngx_http_provision_x_main_conf_t *pmcf = ngx_http_provision_x_main_conf(r);

    ngx_array_t *candidates = plcf->apps;
    ngx_uint_t n = candidates ? candidates->nelts : pmcf->apps.nelts;
    ngx_http_provision_x_app_t *matched = NULL;

    for (ngx_uint_t i = 0; i < n && matched == NULL; i++) {
        ngx_http_provision_x_app_t *app =
            candidates ? static_cast<ngx_http_provision_x_app_t **>(
                candidates->elts)[i]
                       : &static_cast<ngx_http_provision_x_app_t *>(
                           pmcf->apps.elts)[i];

        auto **keys =
            static_cast<ngx_http_provision_x_secret_keys_t **>(app->keys.elts);

        for (ngx_uint_t k = 0; k < app->keys.nelts; k++) {
            sig_error rc = xmode_verify(
                ngx_http_provision_x_scratch->params,
                opt.key_ampersand ? keys[k]->aliyun_amp : keys[k]->aliyun, opt,
                ngx_http_provision_x_scratch->string);

            if (NGX_HTTP_PROVISION_X_FAULT("hmac")) {
                rc = sig_error::crypto_failure;
            }

            if (rc == sig_error::ok) {
                matched = app;
                break;
            }

            if (rc == sig_error::crypto_failure || rc == sig_error::no_memory) {
                return ngx_http_provision_x_fail(
                    v, reason::internal_error,
                    rc == sig_error::no_memory
                        ? "no memory for the string to sign"
                        : "OpenSSL failed");
            }
        }
    }

    if (matched == NULL) {
        if (n == 1) {
            ctx->app = candidates ? static_cast<ngx_http_provision_x_app_t **>(
                           candidates->elts)[0]
                                  : static_cast<ngx_http_provision_x_app_t *>(
                                      pmcf->apps.elts);
        }

        return ngx_http_provision_x_fail(v, reason::bad_signature,
                                         "signature does not match");
    }

    ctx->app = matched;

    if (ngx_http_provision_x_check_clock(plcf, ctx, stamp, false, v)
        != reason::none)
    {
        return v->why;
    }

    return ngx_http_provision_x_record_nonce(r, plcf, matched, nonce, stamp, v);
}

static reason
ngx_http_provision_x_verify_aliyun(ngx_http_request_t *r,
                                   ngx_http_provision_x_loc_conf_t *plcf,
                                   ngx_http_provision_x_ctx_t *ctx,
                                   ngx_http_provision_x_verdict_t *v) noexcept
{
    using namespace provision_x;

    std::string_view body;
    ngx_uint_t kind = ngx_http_provision_x_body_kind(r, plcf);

    if (kind != NGX_HTTP_PROVISION_X_BODY_NONE) {
        ngx_int_t rc = NGX_HTTP_PROVISION_X_FAULT("verify_body")
                           ? NGX_ERROR
                           : ngx_http_provision_x_body_view(
                               r, plcf->verify_body_max, 0, &body, NULL);
        if (rc == NGX_DECLINED) {
            ngx_http_provision_x_detail(v, "body over %uz bytes",
                                        plcf->verify_body_max);
            v->why = reason::body_too_large;
            return v->why;
        }

        if (rc != NGX_OK) {
            return ngx_http_provision_x_fail(v, reason::internal_error,
                                             "body could not be read");
        }
    }

    std::string_view args(reinterpret_cast<char *>(r->args.data), r->args.len);

    ngx_http_provision_x_scratch->params.clear();

    if (NGX_HTTP_PROVISION_X_FAULT("verify_alloc")
        || !ngx_http_provision_x_reserve(r, args.size() + body.size()))
    {
        return ngx_http_provision_x_fail(v, reason::internal_error,
                                         "no memory for parameters");
    }

    size_t max = plcf->verify_body_max;
    params_error perr =
        parse_urlencoded(args, max, ngx_http_provision_x_scratch->params,
                         ngx_http_provision_x_scratch->arena);

    if (perr == params_error::ok && kind == NGX_HTTP_PROVISION_X_BODY_FORM) {
        perr = parse_urlencoded(body, max, ngx_http_provision_x_scratch->params,
                                ngx_http_provision_x_scratch->arena);

    } else if (perr == params_error::ok
               && kind == NGX_HTTP_PROVISION_X_BODY_JSON) {
        perr =
            parse_json_object(body, max, ngx_http_provision_x_scratch->params,
                              ngx_http_provision_x_scratch->arena);
    }

    if (perr != params_error::ok) {
        /* what the gateway lacked is no fault of the request */
        bool ours = (perr == params_error::no_memory
                     || perr == params_error::arena_too_small);

        return ngx_http_provision_x_fail(
            v, ours ? reason::internal_error : reason::malformed_auth,
            describe(perr));
    }

    return ngx_http_provision_x_verify_aliyun_params(r, plcf, ctx, v);
}

/* ---- the phase handler --------------------------------------------------- */

static void
ngx_http_provision_x_ctx_cleanup(void *data) noexcept
{
    /* a marker only: lets the ctx be found again after r->ctx is reset */
}

/*
 * An internal redirect (error_page, try_files, X-Accel-Redirect) clears
 * r->ctx but keeps the pool: find the verdict again through the pool
 * cleanup that carries it, so a verified request is not verified twice
 * (its nonce would look replayed).
 */
ngx_http_provision_x_ctx_t *
ngx_http_provision_x_get_ctx(ngx_http_request_t *r) noexcept
{
    auto *ctx = static_cast<ngx_http_provision_x_ctx_t *>(
        ngx_http_get_module_ctx(r, ngx_http_provision_x_module));

    if (ctx != NULL || !(r->internal || r->filter_finalize)) {
        return ctx;
    }

    for (ngx_pool_cleanup_t *cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_provision_x_ctx_cleanup) {
            ctx = static_cast<ngx_http_provision_x_ctx_t *>(cln->data);
            ngx_http_set_ctx(r, ctx, ngx_http_provision_x_module);
            return ctx;
        }
    }

    return NULL;
}

static ngx_http_provision_x_ctx_t *
ngx_http_provision_x_create_ctx(ngx_http_request_t *r) noexcept
{
    /* zeroed pool memory, never destroyed: plain data only */
    static_assert(std::is_trivially_destructible_v<ngx_http_provision_x_ctx_t>);
    static_assert(std::is_standard_layout_v<ngx_http_provision_x_ctx_t>);

    ngx_pool_cleanup_t *cln =
        ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_provision_x_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    auto *ctx = static_cast<ngx_http_provision_x_ctx_t *>(cln->data);
    ngx_memzero(ctx, sizeof(ngx_http_provision_x_ctx_t));

    cln->handler = ngx_http_provision_x_ctx_cleanup;
    ngx_http_set_ctx(r, ctx, ngx_http_provision_x_module);

    return ctx;
}

ngx_http_provision_x_ctx_t *
ngx_http_provision_x_ensure_ctx(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_get_ctx(r);

    return ctx ? ctx : ngx_http_provision_x_create_ctx(r);
}

/* The verdict of this location, for the phases and redirects to come. */
static void
ngx_http_provision_x_settle(ngx_http_provision_x_ctx_t *ctx,
                            ngx_http_provision_x_loc_conf_t *plcf,
                            bool passed) noexcept
{
    bool debug = (plcf->mode == NGX_HTTP_PROVISION_X_MODE_DEBUG);

    ctx->verified = 1;
    ctx->verified_by = plcf;
    ctx->passed = passed;
    ctx->debug = debug;

    /*
     * A live rejection finalizes the request and may free its pool: the
     * cached verdict is written before, and neither ctx nor r is touched
     * afterwards.
     */
    ctx->status = (passed || debug) ? NGX_DECLINED : NGX_DONE;
}

/*
 * An internal redirect (error_page, try_files, rewrite ... last, a named
 * location, X-Accel-Redirect) brought a verified request to another
 * location.  Its verdict counts there only if it was a real pass in a
 * live location, for the dialect this location verifies and an app it
 * lists; otherwise the request is verified anew here (and a nonce it
 * already used is then a replay), so a redirect never widens what a
 * signature is good for.
 */
static bool
ngx_http_provision_x_verdict_holds(ngx_http_provision_x_loc_conf_t *plcf,
                                   ngx_http_provision_x_ctx_t *ctx) noexcept
{
    return ctx->passed && !ctx->debug && ctx->dialect == plcf->verify
           && ngx_http_provision_x_app_allowed(plcf, ctx->app);
}

static ngx_int_t
ngx_http_provision_x_decide(ngx_http_request_t *r,
                            ngx_http_provision_x_loc_conf_t *plcf,
                            ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_verdict_t v;

    v.why = reason::none;
    v.detail[0] = '\0';
    v.code = {};

    reason why = (plcf->verify == dialect::huawei)
                     ? ngx_http_provision_x_verify_huawei(r, plcf, ctx, &v)
                     : ngx_http_provision_x_verify_aliyun(r, plcf, ctx, &v);

    ngx_http_provision_x_settle(ctx, plcf, why == reason::none);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "provision_x: %s callback verdict: %s, app \"%V\"",
                   provision_x::dialect_name(ctx->dialect),
                   why == reason::none ? "pass"
                                       : provision_x::describe(why).name.data(),
                   ctx->app ? &ctx->app->name : &ngx_http_provision_x_no_app);

    if (why == reason::none) {
        ngx_http_provision_x_metrics_verified(ctx->dialect, ctx->app);
        return NGX_DECLINED;
    }

    ngx_http_provision_x_refusal_t refusal = {
        why, v.detail[0] ? v.detail : NULL, v.code.code, v.code.text};

    return ngx_http_provision_x_reject(r, ctx, &refusal);
}

static void
ngx_http_provision_x_body_handler(ngx_http_request_t *r) noexcept
{
    auto *ctx = ngx_http_provision_x_get_ctx(r);

    ctx->waiting_body = 0;
    ctx->body_read = 1;

    /* later handlers (proxy_pass, the CDR handler) read it again */
    r->preserve_body = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}

ngx_int_t
ngx_http_provision_x_access_handler(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);

    /* subrequests are the gateway's own, made after the verdict */
    if (r != r->main) {
        return NGX_DECLINED;
    }

    if (plcf->verify == dialect::off) {
        return NGX_DECLINED;
    }

    ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_get_ctx(r);

    if (ctx != NULL) {
        if (ctx->verified && ctx->verified_by == plcf) {
            return ctx->status;
        }

        if (ctx->verified) {
            if (ngx_http_provision_x_verdict_holds(plcf, ctx)) {
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "provision_x: a redirect brought the request "
                               "here: its verdict holds");
                ctx->verified_by = plcf;
                return NGX_DECLINED;
            }

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "provision_x: a redirect brought the request "
                           "here: verifying it anew");

            ctx->verified = 0;
            ctx->reason = 0;
            ctx->app = NULL;
            ctx->created = 0;
        }

        if (ctx->waiting_body) {
            return NGX_DONE;
        }

    } else {
        ctx = ngx_http_provision_x_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->dialect = plcf->verify;

    if (plcf->verify == dialect::aliyun && !ctx->body_read
        && ngx_http_provision_x_body_kind(r, plcf)
               != NGX_HTTP_PROVISION_X_BODY_NONE)
    {
        if (r->headers_in.content_length_n
            > static_cast<off_t>(plcf->verify_body_max)) {
            ngx_http_provision_x_settle(ctx, plcf, false);

            static const ngx_http_provision_x_refusal_t too_large = {
                reason::body_too_large,
                "Content-Length over the limit",
                {},
                {}};

            return ngx_http_provision_x_reject(r, ctx, &too_large);
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "provision_x: reading the body, it is signed");

        ctx->waiting_body = 1;

        ngx_int_t rc = ngx_http_read_client_request_body(
            r, ngx_http_provision_x_body_handler);
        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        ngx_http_finalize_request(r, NGX_DONE);
        return NGX_DONE;
    }

    return ngx_http_provision_x_decide(r, plcf, ctx);
}

ngx_int_t
ngx_http_provision_x_access_init_process(ngx_cycle_t *cycle) noexcept
try {
    ngx_http_provision_x_scratch = new ngx_http_provision_x_scratch_t();
    ngx_http_provision_x_scratch->arena.reserve(4096);
    ngx_http_provision_x_scratch->string.reserve(4096);

    return NGX_OK;

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "provision_x: no memory for verification buffers: %s",
                  e.what());
    return NGX_ERROR;
}

void
ngx_http_provision_x_access_exit_process(ngx_cycle_t *cycle) noexcept
{
    delete ngx_http_provision_x_scratch;
    ngx_http_provision_x_scratch = NULL;
}
