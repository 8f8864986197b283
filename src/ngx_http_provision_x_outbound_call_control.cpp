/*
 * Call control (spec §2.5, §3.3, A-26): the platform asks, synchronously,
 * whether and how to connect a call, and waits only briefly.  The access
 * phase of ngx_http_provision_x_module has verified the signature; this
 * content handler passes the query to the customer's binding service (a
 * location with proxy_pass) and relays a valid answer.  When the service
 * fails, answers something the spec does not allow, or misses the
 * deadline, the gateway answers itself with the configured fallback, in
 * the dialect's exact format, because a 5xx leaves the call undecided and
 * callin is not reliably retried.
 *
 * Huawei's SMS Block mode (§3.6, provision_x_sms_control) is the same
 * exchange for a message: the platform waits for the actions to take on
 * it ({"actions":[...]}), the customer's SMS service decides, and the
 * gateway answers its own fallback (DiscardMessage, or vNumberRoute to a
 * configured number) when the service cannot.
 *
 * The subrequest is a background one: the main request's output is then
 * not queued behind it, so the fallback can go out at the deadline while
 * the binding service is still busy.  Its completion after that only
 * drops its reference on the request (see ..._done).
 */

#include "ngx_http_provision_x_faults.hpp"
#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_log.hpp"
#include "ngx_http_provision_x_outbound.hpp"

#include "core/call_control.hpp"
#include "core/params.hpp"

#include <exception>
#include <string>

using provision_x::dialect;
using provision_x::view;

/* a call-control query or callin push is small; this is generous */
#define NGX_HTTP_PROVISION_X_CC_BODY_MAX 65536

static ngx_int_t
ngx_http_provision_x_cc_handler(ngx_http_request_t *r) noexcept;
static void ngx_http_provision_x_cc_body_done(ngx_http_request_t *r) noexcept;

static ngx_int_t
ngx_http_provision_x_cc_send(ngx_http_request_t *r, ngx_str_t *body) noexcept
{
    return ngx_http_provision_x_send_bytes(
        r, NGX_HTTP_OK, &ngx_http_provision_x_platform_json_type, body->data,
        body->len);
}

/* Exactly once per query: the deadline, the subrequest and a client
 * abort race, and the first one decides.  The latency counted is the
 * platform's wait as $request_time measures it, from the query's first
 * byte: reading and verifying it are part of the deadline too. */
static void
ngx_http_provision_x_cc_answered(
    ngx_http_request_t *r, ngx_http_provision_x_outbound_loc_conf_t *olcf,
    ngx_http_provision_x_outbound_ctx_t *ctx,
    ngx_http_provision_x_cc_outcome_e outcome) noexcept
{
    ngx_http_provision_x_deadline_settle(&ctx->call);
    ctx->cc_answered = 1;
    ctx->outcome = outcome;

    ngx_time_t *tp = ngx_timeofday();
    auto elapsed = static_cast<ngx_msec_int_t>((tp->sec - r->start_sec) * 1000
                                               + (tp->msec - r->start_msec));

    if (olcf->cc_sms) {
        ngx_http_provision_x_metrics_sms_control(outcome,
                                                 elapsed > 0 ? elapsed : 0);
        return;
    }

    ngx_http_provision_x_metrics_call_control(olcf->cc, outcome,
                                              elapsed > 0 ? elapsed : 0);
}

/* What the log lines call the exchange. */
static const char *
ngx_http_provision_x_cc_what(
    ngx_http_provision_x_outbound_loc_conf_t *olcf) noexcept
{
    return olcf->cc_sms ? "SMS control" : "call control";
}

/*
 * The gateway's own answer: logged at warn, so it is seen, yet at most ten
 * lines a second when the binding service is down (the counters have
 * every one).
 */
static void
ngx_http_provision_x_cc_fallback(ngx_http_request_t *r,
                                 ngx_http_provision_x_outbound_ctx_t *ctx,
                                 ngx_http_provision_x_cc_outcome_e outcome,
                                 const char *detail, ngx_int_t status) noexcept
{
    ngx_http_provision_x_outbound_loc_conf_t *olcf =
        ngx_http_provision_x_outbound_loc_conf(r);

    static ngx_http_provision_x_log_limit_t ngx_http_provision_x_cc_fallbacks =
        NGX_HTTP_PROVISION_X_LOG_LIMIT("control fallback", 10);

    ngx_http_provision_x_cc_answered(r, olcf, ctx, outcome);

    if (ngx_http_provision_x_log_allowed(&ngx_http_provision_x_cc_fallbacks,
                                         r->connection->log))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "provision_x: %s fallback \"%V\" (%V: %s, "
                      "binding status %i)",
                      ngx_http_provision_x_cc_what(olcf), &olcf->cc_fallback,
                      &ngx_http_provision_x_cc_outcome_names[outcome], detail,
                      status);
    }

    ngx_http_finalize_request(
        r, ngx_http_provision_x_cc_send(r, &olcf->cc_fallback));
}

static void
ngx_http_provision_x_cc_expired(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_cc_fallback(r, ngx_http_provision_x_outbound_ctx(r),
                                     NGX_HTTP_PROVISION_X_CC_FALLBACK_TIMEOUT,
                                     "deadline passed", 0);
}

/* The binding service answered in time: relay it, if it is one. */
static void
ngx_http_provision_x_cc_answer(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);
    ngx_http_provision_x_outbound_loc_conf_t *olcf =
        ngx_http_provision_x_outbound_loc_conf(r);

    if (ctx->call.status != NGX_HTTP_OK) {
        ngx_http_provision_x_cc_fallback(
            r, ctx, NGX_HTTP_PROVISION_X_CC_FALLBACK_STATUS,
            "binding service failed", ctx->call.status);
        return;
    }

    std::string_view body = view(ctx->call.body);
    provision_x::cc_verdict verdict =
        olcf->cc_sms ? provision_x::validate_huawei_sms_answer(body)
        : olcf->cc == dialect::aliyun
            ? provision_x::validate_aliyun_answer(body)
            : provision_x::validate_huawei_answer(body);

    if (verdict != provision_x::cc_verdict::ok) {
        ngx_http_provision_x_cc_fallback(
            r, ctx, NGX_HTTP_PROVISION_X_CC_FALLBACK_INVALID,
            provision_x::describe(verdict).data(), ctx->call.status);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "provision_x: %s answer relayed (binding status %i)",
                   ngx_http_provision_x_cc_what(olcf), ctx->call.status);

    ngx_http_provision_x_cc_answered(r, olcf, ctx,
                                     NGX_HTTP_PROVISION_X_CC_RELAYED);

    ngx_http_finalize_request(r,
                              ngx_http_provision_x_cc_send(r, &ctx->call.body));
}

/* §4: a landline cannot call X; the platform would refuse it anyway. */
static bool
ngx_http_provision_x_cc_landline(
    ngx_http_request_t *r,
    ngx_http_provision_x_outbound_loc_conf_t *olcf) noexcept
try {
    std::string_view body;

    if (r->request_body != NULL
        && ngx_http_provision_x_body_view(r, NGX_HTTP_PROVISION_X_CC_BODY_MAX,
                                          0, &body, NULL)
               != NGX_OK)
    {
        body = {};
    }

    if (olcf->cc == dialect::huawei) {
        std::string scratch;

        return provision_x::huawei_is_landline(
            provision_x::huawei_callin_caller(body, scratch));
    }

    /* Aliyun sends its parameters in the query or a form body */
    provision_x::param_list params(64);
    std::string arena;
    std::string_view sources[] = {view(r->args), body};

    arena.reserve(r->args.len + body.size());

    for (std::string_view raw : sources) {
        params.clear();

        if (provision_x::parse_urlencoded(raw, NGX_HTTP_PROVISION_X_CC_BODY_MAX,
                                          params, arena)
            != provision_x::params_error::ok)
        {
            continue;
        }

        if (const provision_x::param *p = params.find("callNo")) {
            return provision_x::aliyun_is_landline(p->value);
        }
    }

    return false;

} catch (const std::exception &e) {
    /* fail open: the binding service answers, the platform decides */
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: landline check failed: %s", e.what());
    return false;
}

static void
ngx_http_provision_x_cc_body_done(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_outbound_loc_conf_t *olcf =
        ngx_http_provision_x_outbound_loc_conf(r);
    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);

    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (olcf->cc_landline.len && ngx_http_provision_x_cc_landline(r, olcf)) {
        ngx_http_provision_x_cc_answered(r, olcf, ctx,
                                         NGX_HTTP_PROVISION_X_CC_LANDLINE);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "provision_x: call control: landline caller refused "
                      "without asking the binding service");

        ngx_http_finalize_request(
            r, ngx_http_provision_x_cc_send(r, &olcf->cc_landline));
        return;
    }

    ngx_http_request_t *sr;

    ctx->call.what = ngx_http_provision_x_cc_what(olcf);
    ctx->call.answer = ngx_http_provision_x_cc_answer;
    ctx->call.expired = ngx_http_provision_x_cc_expired;

    if (NGX_HTTP_PROVISION_X_FAULT("control_subrequest")
        || ngx_http_provision_x_deadline_start(r, &ctx->call, &olcf->cc_pass,
                                               &r->args, olcf->cc_timeout, &sr)
               != NGX_OK)
    {
        ngx_http_provision_x_cc_fallback(
            r, ctx, NGX_HTTP_PROVISION_X_CC_FALLBACK_ERROR, "no subrequest", 0);
        return;
    }

    /* the binding service sees the platform's request as it came */
    sr->method = r->method;
    sr->method_name = r->method_name;
}

static ngx_int_t
ngx_http_provision_x_cc_handler(ngx_http_request_t *r) noexcept
{
    if (r != r->main) {
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_int_t rc =
        ngx_http_read_client_request_body(r, ngx_http_provision_x_cc_body_done);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}

/* The configured SMS fallback, checked as any answer would be. */
static bool
ngx_http_provision_x_sms_fallback(ngx_conf_t *cf, std::string_view operation,
                                  std::string_view called,
                                  std::string_view calling,
                                  std::string &body) noexcept
{
    if (!provision_x::huawei_sms_fallback_body(operation, called, calling,
                                               body)) {
        return false;
    }

    provision_x::cc_verdict v = provision_x::validate_huawei_sms_answer(body);

    if (v != provision_x::cc_verdict::ok) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the fallback \"%*s\" is no valid SMS answer: "
                           "%*s (called= and calling= are global numbers, "
                           "+86...)",
                           body.size(), body.data(),
                           provision_x::describe(v).size(),
                           provision_x::describe(v).data());
        return false;
    }

    return true;
}

/* The gateway's own answer, made once at configuration time. */
static bool
ngx_http_provision_x_cc_body(ngx_conf_t *cf, dialect d, bool sms,
                             std::string_view operation,
                             std::string_view message, std::string_view called,
                             std::string_view calling, ngx_str_t *out) noexcept
try {
    std::string body;
    bool ok = sms ? ngx_http_provision_x_sms_fallback(cf, operation, called,
                                                      calling, body)
              : d == dialect::aliyun
                  ? provision_x::aliyun_fallback_body(operation, message, body)
                  : provision_x::huawei_fallback_body(operation, body);

    if (!ok) {
        return false;
    }

    out->data = static_cast<u_char *>(ngx_pnalloc(cf->pool, body.size()));
    if (out->data == NULL) {
        return false;
    }

    ngx_memcpy(out->data, body.data(), body.size());
    out->len = body.size();

    return true;

} catch (const std::exception &e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "provision_x: no memory for the fallback body: %s",
                       e.what());
    return false;
}

/* the parameters of one control directive, as read */
struct ngx_http_provision_x_cc_params_t {
    dialect d;
    bool sms;
    std::string_view operation; /* of the fallback answer */
    std::string_view message;
    std::string_view called;
    std::string_view calling;
    bool landline;
};

/* One key=value parameter; false for a key or value the directive does
 * not take. */
static bool
ngx_http_provision_x_cc_param(ngx_http_provision_x_outbound_loc_conf_t *olcf,
                              ngx_http_provision_x_cc_params_t *p,
                              std::string_view k, ngx_str_t *value) noexcept
{
    std::string_view v = view(*value);
    bool aliyun = p->d == dialect::aliyun;

    if (k == "pass") {
        if (v[0] != '/' || v.find('?') != std::string_view::npos) {
            return false;
        }

        olcf->cc_pass = *value;
        return true;
    }

    if (k == "timeout") {
        olcf->cc_timeout = ngx_parse_time(value, 0);
        return olcf->cc_timeout != static_cast<ngx_msec_t>(NGX_ERROR)
               && olcf->cc_timeout != 0;
    }

    if (k == "fallback") {
        /* Huawei connect needs a callee, which only the service knows */
        p->operation = v;

        return p->sms   ? provision_x::huawei_sms_operation_allowed(v)
               : aliyun ? provision_x::aliyun_operate_allowed(v)
                        : v == "close";
    }

    if (k == "landline" && !p->sms) {
        p->landline = v == "reject";
        return v == "reject" || v == "pass";
    }

    std::string_view *text = (k == "message" && aliyun)   ? &p->message
                             : (k == "called" && p->sms)  ? &p->called
                             : (k == "calling" && p->sms) ? &p->calling
                                                          : nullptr;
    if (text == nullptr) {
        return false;
    }

    *text = v;

    return true;
}

/* what the parameters allow only together, checked once all are read */
static bool
ngx_http_provision_x_cc_check(
    ngx_conf_t *cf, ngx_http_provision_x_outbound_loc_conf_t *olcf,
    const ngx_http_provision_x_cc_params_t *p) noexcept
{
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (olcf->cc_pass.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" needs \"pass=/uri\"",
                           &value[0]);
        return false;
    }

    if (p->sms && (p->operation == "vNumberRoute") != !p->called.empty()) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": called= is the number a "
                           "\"fallback=vNumberRoute\" routes to, and "
                           "belongs to it alone",
                           &value[0]);
        return false;
    }

    if (p->sms && !p->calling.empty() && p->called.empty()) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": calling= belongs to "
                           "\"fallback=vNumberRoute\"",
                           &value[0]);
        return false;
    }

    return true;
}

/*
 * provision_x_call_control huawei|aliyun pass=URI [timeout=TIME]
 *                          [fallback=OP] [message=TEXT] [landline=reject];
 * provision_x_sms_control  huawei pass=URI [timeout=TIME]
 *                          [fallback=DiscardMessage|vNumberRoute]
 *                          [called=NUMBER] [calling=NUMBER];
 */
char *
ngx_http_provision_x_call_control(ngx_conf_t *cf, ngx_command_t *cmd,
                                  void *conf) noexcept
{
    auto *olcf = static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);
    ngx_http_provision_x_cc_params_t p{};

    if (olcf->cc != NGX_HTTP_PROVISION_X_DIALECT_UNSET) {
        return provision_x::conf_message(
            "is duplicate: one control answer per location");
    }

    if (ngx_http_provision_x_conf_dialect(cf, &value[1], false, &p.d)
        != NGX_CONF_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    bool aliyun = p.d == dialect::aliyun;

    p.sms = view(cmd->name) == "provision_x_sms_control";

    if (p.sms && aliyun) {
        return provision_x::conf_message(
            "is for Huawei only: Aliyun has no SMS Block mode");
    }

    /* fail open on Aliyun (the platform keeps its own bindings); close on
     * Huawei, where connect needs a callee only the service knows; an SMS
     * is dropped unless a number to route it to is configured */
    p.operation = p.sms ? "DiscardMessage" : aliyun ? "CONTINUE" : "close";

    for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
        std::string_view a = view(value[i]);
        std::string_view::size_type eq = a.find('=');
        bool valid = eq != std::string_view::npos && eq + 1 < a.size();

        if (valid) {
            ngx_str_t v = {value[i].len - eq - 1, value[i].data + eq + 1};

            valid =
                ngx_http_provision_x_cc_param(olcf, &p, a.substr(0, eq), &v);
        }

        if (!valid) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    if (!ngx_http_provision_x_cc_check(cf, olcf, &p)
        || !ngx_http_provision_x_cc_body(cf, p.d, p.sms, p.operation, p.message,
                                         p.called, p.calling,
                                         &olcf->cc_fallback))
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (p.landline
        && !ngx_http_provision_x_cc_body(cf, p.d, false,
                                         aliyun ? "REJECT" : "close", "", "",
                                         "", &olcf->cc_landline))
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    olcf->cc = p.d;
    olcf->cc_sms = p.sms;

    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    clcf->handler = ngx_http_provision_x_cc_handler;

    return NGX_CONF_OK;
}
