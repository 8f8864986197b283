/*
 * The interface endpoint (issue 19): one signed doorway from internal
 * services to the platform.  An internal service posts
 *
 *   {"mode":"live"|"debug","config_id":N,"user_id":"...","payload":{...}}
 *
 * with its API key; the gateway picks the platform target, checks the
 * operation against the target's allow-list, signs the call with the
 * target app's secret (Aliyun POP RPC v1, Huawei X-AKSK) and, in live
 * mode, sends it through the target's internal location (proxy_pass to
 * the platform) under a deadline; in debug mode it explains the call and
 * sends nothing.  The envelope, the signing and the answers are
 * src/core/interface.*; this file is the nginx side.
 *
 * The call is a background subrequest, as in call control: the answer can
 * go out at the deadline while the platform is still busy; the
 * subrequest's late completion only drops its reference.  The subrequest
 * carries its own headers and body: nothing of the caller's request (its
 * API key above all) reaches the platform.
 */

#include "ngx_http_provision_x_api_key.hpp"
#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_outbound.hpp"

#include "ngx_http_provision_x_faults.hpp"
#include "ngx_http_provision_x_metrics.hpp"

#include "core/clock.hpp"
#include "core/interface.hpp"
#include "core/signature.hpp"

#include <array>
#include <exception>
#include <iterator>
#include <new>
#include <string>
#include <type_traits>

using provision_x::dialect;
using provision_x::interface_outcome;
using provision_x::view;

/* the envelope of an internal call is small; payloads are flat */
#define NGX_HTTP_PROVISION_X_INTERFACE_BODY_MAX 65536
#define NGX_HTTP_PROVISION_X_INTERFACE_TIMEOUT 5000
#define NGX_HTTP_PROVISION_X_INTERFACE_HEADERS 3

struct ngx_http_provision_x_interface_target_t {
    ngx_str_t name;
    ngx_int_t id;                 /* config_id */
    provision_x::dialect dialect; /* off: not given */
    ngx_http_provision_x_app_t *app;
    ngx_str_t key_id; /* AccessKeyId; Huawei: the app's name */
    ngx_str_t pass;
    ngx_msec_t timeout;
    ngx_str_t method; /* Aliyun: GET or POST */
    ngx_str_t region;
    ngx_str_t version;
    std::string_view *operations;
    ngx_uint_t noperations;
    /* fixed inputs for known-answer tests; NULL: fresh per call */
    ngx_http_complex_value_t *nonce;
    ngx_http_complex_value_t *timestamp;
    ngx_uint_t metrics_slot;
};

/* A location's provision_x_interface. */
struct ngx_http_provision_x_interface_conf_t {
    /* target= in order, the first the default; none: every target */
    ngx_http_provision_x_interface_target_t **targets;
    ngx_uint_t ntargets;
};

/* One call, from the request to the answer. */
struct ngx_http_provision_x_interface_call_t {
    ngx_http_request_t *request;
    ngx_http_provision_x_interface_target_t *target; /* NULL: not known */
    ngx_str_t user_id;
    ngx_str_t operation;
    ngx_msec_t started;
    ngx_uint_t outcome; /* provision_x::interface_outcome */
    ngx_uint_t status;
    ngx_uint_t platform_status; /* 0: none came */
    ngx_uint_t failure;         /* with none: nginx's verdict */
    ngx_str_t body;             /* the platform's */
    ngx_str_t location;
    unsigned answered : 1;
};

static_assert(
    std::is_trivially_destructible_v<ngx_http_provision_x_interface_call_t>,
    "the call lives in the request pool");

enum ngx_http_provision_x_interface_var_e {
    NGX_HTTP_PROVISION_X_INTERFACE_VAR_USER_ID,
    NGX_HTTP_PROVISION_X_INTERFACE_VAR_TARGET,
    NGX_HTTP_PROVISION_X_INTERFACE_VAR_OPERATION,
    NGX_HTTP_PROVISION_X_INTERFACE_VAR_OUTCOME,
};

static ngx_int_t
ngx_http_provision_x_interface_variable(ngx_http_request_t *r,
                                        ngx_http_variable_value_t *v,
                                        uintptr_t data) noexcept;

// clang-format off
static ngx_http_variable_t ngx_http_provision_x_interface_vars[] = {

    { ngx_string("provision_x_interface_user_id"), NULL,
      ngx_http_provision_x_interface_variable,
      NGX_HTTP_PROVISION_X_INTERFACE_VAR_USER_ID,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_interface_target"), NULL,
      ngx_http_provision_x_interface_variable,
      NGX_HTTP_PROVISION_X_INTERFACE_VAR_TARGET,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_interface_operation"), NULL,
      ngx_http_provision_x_interface_variable,
      NGX_HTTP_PROVISION_X_INTERFACE_VAR_OPERATION,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("provision_x_interface_outcome"), NULL,
      ngx_http_provision_x_interface_variable,
      NGX_HTTP_PROVISION_X_INTERFACE_VAR_OUTCOME,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};
// clang-format on

static ngx_str_t ngx_http_provision_x_interface_methods[] = {
    ngx_string("GET"), ngx_string("POST"), ngx_string("PUT"),
    ngx_string("DELETE")};

static const ngx_uint_t ngx_http_provision_x_interface_method_ids[] = {
    NGX_HTTP_GET, NGX_HTTP_POST, NGX_HTTP_PUT, NGX_HTTP_DELETE};

/* ---- the answer ---------------------------------------------------------- */

/* Once per call: the deadline, the platform and a refusal race. */
static void
ngx_http_provision_x_interface_finish(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call,
    ngx_uint_t status, interface_outcome outcome) noexcept
{
    static ngx_str_t none = ngx_string("-");

    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);

    if (ctx != NULL) {
        ngx_http_provision_x_deadline_settle(&ctx->call);
    }

    call->answered = 1;
    call->status = status;
    call->outcome = static_cast<ngx_uint_t>(outcome);

    ngx_http_provision_x_metrics_interface(
        call->target ? call->target->metrics_slot : 0, call->outcome);

    std::string_view name = provision_x::name_of(outcome);
    ngx_msec_int_t ms =
        static_cast<ngx_msec_int_t>(ngx_current_msec - call->started);

    /* one line per call: who, what, how it ended; never the payload */
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "provision_x: interface call: user \"%V\" target \"%V\" "
                  "operation \"%V\": %*s %ui (platform %ui, %M ms)",
                  call->user_id.len ? &call->user_id : &none,
                  call->target ? &call->target->name : &none,
                  call->operation.len ? &call->operation : &none, name.size(),
                  name.data(), status, call->platform_status, ms);
}

static ngx_int_t
ngx_http_provision_x_interface_refuse(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call,
    ngx_uint_t status, interface_outcome outcome, const char *message) noexcept
{
    ngx_http_provision_x_interface_finish(r, call, status, outcome);

    return ngx_http_provision_x_send_envelope_error(
        r, status, provision_x::name_of(outcome).data(), message);
}

/* The same with a message built by the core (a std::string). */
static ngx_int_t
ngx_http_provision_x_interface_refuse_text(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call,
    ngx_uint_t status, interface_outcome outcome,
    const std::string &message) noexcept
{
    return ngx_http_provision_x_interface_refuse(r, call, status, outcome,
                                                 message.c_str());
}

static ngx_int_t
ngx_http_provision_x_interface_send(ngx_http_request_t *r, ngx_uint_t status,
                                    const std::string &json) noexcept
{
    auto *p = static_cast<u_char *>(ngx_pnalloc(r->pool, json.size()));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, json.data(), json.size());

    /* download URLs and bindings: no cache on the way keeps a copy */
    if (ngx_http_provision_x_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_provision_x_send_bytes(
        r, status, &ngx_http_provision_x_json_type, p, json.size());
}

/* ---- the platform's answer --------------------------------------------- */

static ngx_int_t
ngx_http_provision_x_interface_answer(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call)
try {
    provision_x::platform_reply reply;
    std::string json;

    reply.status = call->platform_status;
    reply.failure = call->failure;
    reply.body = view(call->body);
    reply.location = view(call->location);

    provision_x::interface_answer a =
        provision_x::render_platform_answer(call->target->dialect, reply, json);

    if (json.empty()) {
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "no memory for the answer");
    }

    ngx_http_provision_x_interface_finish(r, call, a.status, a.outcome);

    return ngx_http_provision_x_interface_send(r, a.status, json);

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: interface answer failed: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

static void
ngx_http_provision_x_interface_expired(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_interface_call_t *call =
        ngx_http_provision_x_outbound_ctx(r)->interface;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "provision_x: interface: target \"%V\" did not answer "
                  "within %M ms",
                  &call->target->name, call->target->timeout);

    ngx_http_finalize_request(
        r, ngx_http_provision_x_interface_refuse(
               r, call, NGX_HTTP_GATEWAY_TIME_OUT,
               interface_outcome::platform_timeout,
               "the platform did not answer before the deadline"));
}

/*
 * The subrequest ended in time.  Only an upstream that sent a status line
 * is the platform speaking; the pass location's own 404 or 502 is not.
 */
static void
ngx_http_provision_x_interface_answered(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);
    ngx_http_provision_x_interface_call_t *call = ctx->interface;
    ngx_http_provision_x_deadline_call_t *d = &ctx->call;

    if (d->upstream_status != 0 && d->rc == NGX_OK && !d->cut) {
        call->platform_status = d->upstream_status;
        call->body = d->body;
        call->location = d->location;

    } else {
        call->failure =
            d->rc >= NGX_HTTP_SPECIAL_RESPONSE ? d->rc : NGX_HTTP_BAD_GATEWAY;

        if (!d->proxied) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "provision_x: interface: \"%V\" answered %i "
                          "without an upstream: is it a proxy_pass "
                          "location?",
                          &call->target->pass, d->rc);

        } else if (d->cut) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "provision_x: interface: the platform's answer "
                          "(status %ui) was not read whole: is it larger "
                          "than subrequest_output_buffer_size?",
                          d->upstream_status);
        }
    }

    ngx_http_finalize_request(r,
                              ngx_http_provision_x_interface_answer(r, call));
}

/* ---- the call ------------------------------------------------------------ */

static ngx_int_t
ngx_http_provision_x_interface_keep(ngx_http_request_t *r, std::string_view s,
                                    ngx_str_t *out) noexcept
{
    out->len = s.size();
    out->data = static_cast<u_char *>(ngx_pnalloc(r->pool, s.size() + 1));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    /* an empty view may have no data at all: memcpy must not see it */
    if (!s.empty()) {
        ngx_memcpy(out->data, s.data(), s.size());
    }

    out->data[s.size()] = '\0';

    return NGX_OK;
}

/* A request header of the subrequest, every field set; the names are
 * literals, lower case given, so nothing is allocated. */
static void
ngx_http_provision_x_interface_header(ngx_table_elt_t *h, const char *key,
                                      const char *lowcase,
                                      ngx_str_t value) noexcept
{
    h->key.data = reinterpret_cast<u_char *>(const_cast<char *>(key));
    h->key.len = ngx_strlen(key);
    h->value = value;
    h->lowcase_key = reinterpret_cast<u_char *>(const_cast<char *>(lowcase));
    h->hash = ngx_hash_key(h->lowcase_key, h->key.len);
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
}

/*
 * The subrequest's own request line, headers and body: nothing of the
 * caller's (its API key included) reaches the platform.
 */
static void
ngx_http_provision_x_interface_set_request(
    ngx_http_request_t *sr, std::string_view method, ngx_table_elt_t *headers,
    ngx_uint_t nheaders, bool has_type, bool has_authorization,
    ngx_http_request_body_t *rb, size_t body_len) noexcept
{
    for (ngx_uint_t i = 0;
         i < std::size(ngx_http_provision_x_interface_methods); i++)
    {
        if (method == view(ngx_http_provision_x_interface_methods[i])) {
            sr->method = ngx_http_provision_x_interface_method_ids[i];
            sr->method_name = ngx_http_provision_x_interface_methods[i];
        }
    }

    /* the subrequest's own headers, set the way ngx_list_init sets them */
    ngx_list_t *list = &sr->headers_in.headers;

    list->part.elts = headers;
    list->part.nelts = nheaders;
    list->part.next = NULL;
    list->last = &list->part;
    list->size = sizeof(ngx_table_elt_t);
    list->nalloc = NGX_HTTP_PROVISION_X_INTERFACE_HEADERS;
    list->pool = sr->pool;

    sr->headers_in.content_type = has_type ? &headers[0] : NULL;
    sr->headers_in.authorization =
        has_authorization ? &headers[nheaders - 2] : NULL;
    sr->headers_in.content_length = NULL;
    /* a POST or PUT says it has no body; a GET or DELETE says nothing */
    sr->headers_in.content_length_n =
        body_len || sr->method & (NGX_HTTP_POST | NGX_HTTP_PUT)
            ? (off_t) body_len
            : -1;
    sr->headers_in.transfer_encoding = NULL;
    sr->headers_in.expect = NULL;
    sr->headers_in.chunked = 0;
    sr->request_body = rb;
}

/*
 * Sends the signed call through the target's location.  Everything the
 * subrequest gets instead of its parent's headers and body is allocated
 * first: once the subrequest exists, a failure could no longer keep the
 * caller's headers from the platform.
 */
static ngx_int_t
ngx_http_provision_x_interface_send_call(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call,
    const provision_x::outbound_call &out) noexcept
{
    ngx_http_provision_x_interface_target_t *t = call->target;
    bool huawei = t->dialect == dialect::huawei;
    ngx_str_t uri, args, body, content_type, authorization, x_aksk;

    uri.len = t->pass.len + (huawei ? out.path.size() : 0);
    uri.data = static_cast<u_char *>(ngx_pnalloc(r->pool, uri.len));

    auto *headers = static_cast<ngx_table_elt_t *>(
        ngx_pcalloc(r->pool, NGX_HTTP_PROVISION_X_INTERFACE_HEADERS
                                 * sizeof(ngx_table_elt_t)));
    auto *rb = static_cast<ngx_http_request_body_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t)));
    ngx_chain_t *cl = ngx_alloc_chain_link(r->pool);
    auto *b = static_cast<ngx_buf_t *>(ngx_calloc_buf(r->pool));

    if (uri.data == NULL || headers == NULL || rb == NULL || cl == NULL
        || b == NULL
        || ngx_http_provision_x_interface_keep(r, out.query, &args) != NGX_OK
        || ngx_http_provision_x_interface_keep(r, out.body, &body) != NGX_OK
        || ngx_http_provision_x_interface_keep(r, out.content_type,
                                               &content_type)
               != NGX_OK
        || ngx_http_provision_x_interface_keep(r, out.authorization,
                                               &authorization)
               != NGX_OK
        || ngx_http_provision_x_interface_keep(r, out.x_aksk, &x_aksk)
               != NGX_OK)
    {
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "no memory for the call");
    }

    u_char *p = ngx_cpymem(uri.data, t->pass.data, t->pass.len);

    if (huawei) {
        ngx_memcpy(p, out.path.data(), out.path.size());
    }

    ngx_uint_t nheaders = 0;

    if (content_type.len) {
        ngx_http_provision_x_interface_header(
            &headers[nheaders++], "Content-Type", "content-type", content_type);
    }

    if (authorization.len) {
        ngx_http_provision_x_interface_header(&headers[nheaders++],
                                              "Authorization", "authorization",
                                              authorization);
        ngx_http_provision_x_interface_header(&headers[nheaders++], "X-AKSK",
                                              "x-aksk", x_aksk);
    }

    b->pos = body.data;
    b->last = body.data + body.len;
    b->memory = body.len ? 1 : 0;
    b->last_buf = 1;
    b->last_in_chain = 1;
    cl->buf = b;
    cl->next = NULL;
    rb->bufs = body.len ? cl : NULL;
    rb->buf = body.len ? b : NULL;

    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);
    ngx_http_request_t *sr;

    ctx->call.what = "interface";
    ctx->call.answer = ngx_http_provision_x_interface_answered;
    ctx->call.expired = ngx_http_provision_x_interface_expired;

    if (NGX_HTTP_PROVISION_X_FAULT("interface_subrequest")
        || ngx_http_provision_x_deadline_start(r, &ctx->call, &uri, &args,
                                               t->timeout, &sr)
               != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: interface: no subrequest to \"%V\"", &uri);
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "the call could not be made");
    }

    ngx_http_provision_x_interface_set_request(
        sr, out.method, headers, nheaders, content_type.len != 0,
        authorization.len != 0, rb, body.len);

    return NGX_DONE;
}

static ngx_http_provision_x_interface_target_t *
ngx_http_provision_x_interface_pick(
    ngx_http_request_t *r, const provision_x::interface_request &req) noexcept
{
    auto *olcf = static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(
        ngx_http_get_module_loc_conf(r, ngx_http_provision_x_outbound_module));
    ngx_http_provision_x_interface_conf_t *icf = olcf->interface;
    ngx_http_provision_x_interface_target_t **targets = icf->targets;
    ngx_uint_t n = icf->ntargets;

    if (!req.has_config_id()) {
        return n ? targets[0] : NULL;
    }

    if (targets == NULL) {
        auto *omcf = static_cast<ngx_http_provision_x_outbound_main_conf_t *>(
            ngx_http_get_module_main_conf(
                r, ngx_http_provision_x_outbound_module));

        targets = static_cast<ngx_http_provision_x_interface_target_t **>(
            omcf->interface_targets.elts);
        n = omcf->interface_targets.nelts;
    }

    for (ngx_uint_t i = 0; i < n; i++) {
        if (targets[i]->id == req.config_id()) {
            return targets[i];
        }
    }

    return NULL;
}

static std::string_view
ngx_http_provision_x_interface_input(ngx_http_request_t *r,
                                     ngx_http_complex_value_t *cv,
                                     std::string_view fresh) noexcept
{
    ngx_str_t s;

    if (cv == NULL || ngx_http_complex_value(r, cv, &s) != NGX_OK || s.len == 0)
    {
        return fresh;
    }

    return view(s);
}

/* The core's view of a target: what signs, and what it may call. */
static provision_x::interface_target
ngx_http_provision_x_interface_signer(
    ngx_http_provision_x_interface_target_t *t) noexcept
{
    provision_x::interface_target target;
    auto *secret = static_cast<ngx_str_t *>(t->app->secrets.elts);

    target.dialect = t->dialect;
    target.key_id = view(t->key_id);
    target.secret = view(secret[0]); /* the current one of a rotation */
    target.method = view(t->method);
    target.region = view(t->region);
    target.version = view(t->version);
    target.operations = t->operations;
    target.operation_count = t->noperations;

    return target;
}

/* Debug mode: the call explained, nothing sent. */
static ngx_int_t
ngx_http_provision_x_interface_explain(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call,
    const provision_x::interface_request &req,
    const provision_x::outbound_call &out)
try {
    ngx_http_provision_x_interface_target_t *t = call->target;
    provision_x::debug_context ctx;
    std::string json;

    ctx.dialect = ngx_http_provision_x_interface_signer(t).dialect;
    ctx.target = view(t->name);
    ctx.config_id = t->id;
    ctx.app = view(t->app->name);
    ctx.key_id = view(t->key_id);
    ctx.pass = view(t->pass);

    if (!provision_x::render_debug_answer(req, ctx, out, json)) {
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "no memory for the answer");
    }

    ngx_http_provision_x_interface_finish(r, call, NGX_HTTP_OK,
                                          interface_outcome::debug);

    return ngx_http_provision_x_interface_send(r, NGX_HTTP_OK, json);

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: interface debug answer failed: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

/*
 * The caller's envelope, and the target it names: NGX_DECLINED with
 * call->target set, or the answered refusal's code.
 */
static ngx_int_t
ngx_http_provision_x_interface_read(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call,
    provision_x::interface_request &req) noexcept
try {
    using namespace provision_x;

    std::string_view body;

    switch (ngx_http_provision_x_body_view(
        r, NGX_HTTP_PROVISION_X_INTERFACE_BODY_MAX, 0, &body, NULL))
    {
    case NGX_OK:
        break;
    case NGX_DECLINED:
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
            interface_outcome::payload_too_large,
            "body: larger than 64k bytes");
    default:
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "the body could not be read");
    }

    std::string detail;
    envelope_error e = req.parse(body, detail);

    if (e == envelope_error::no_memory) {
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "no memory for the request");
    }

    if (e != envelope_error::ok) {
        return ngx_http_provision_x_interface_refuse_text(
            r, call, NGX_HTTP_BAD_REQUEST, interface_outcome::bad_request,
            detail);
    }

    if (ngx_http_provision_x_interface_keep(r, req.user_id(), &call->user_id)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    call->target = ngx_http_provision_x_interface_pick(r, req);

    if (call->target == NULL) {
        if (!req.has_config_id()) {
            return ngx_http_provision_x_interface_refuse(
                r, call, NGX_HTTP_BAD_REQUEST, interface_outcome::bad_request,
                "config_id: required here, this location has no default "
                "target");
        }

        return ngx_http_provision_x_interface_refuse_text(
            r, call, NGX_HTTP_NOT_FOUND, interface_outcome::unknown_config,
            "config_id: no target " + std::to_string(req.config_id())
                + " here");
    }

    return NGX_DECLINED;

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: interface request failed: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

static ngx_int_t
ngx_http_provision_x_interface_process(
    ngx_http_request_t *r, ngx_http_provision_x_interface_call_t *call)
try {
    using namespace provision_x;

    interface_request req;
    std::string detail;

    ngx_int_t rc = ngx_http_provision_x_interface_read(r, call, req);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    ngx_http_provision_x_interface_target_t *t = call->target;
    bool aliyun = t->dialect == dialect::aliyun;
    std::array<char, 32> fresh_nonce;
    utc_timestamp_text fresh_stamp;

    if (!make_nonce(fresh_nonce)
        || !format_utc_timestamp(ngx_time(), fresh_stamp)) {
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "no nonce for the call");
    }

    interface_target target = ngx_http_provision_x_interface_signer(t);
    signing_inputs in;
    outbound_call out;

    in.nonce = ngx_http_provision_x_interface_input(
        r, t->nonce, {fresh_nonce.data(), fresh_nonce.size()});
    in.timestamp = ngx_http_provision_x_interface_input(
        r, t->timestamp, {fresh_stamp.data(), fresh_stamp.size()});

    build_result built = NGX_HTTP_PROVISION_X_FAULT("interface_sign")
                             ? build_result::crypto_failure
                             : build_outbound(req, target, in, out);

    if (!out.operation.empty()
        && ngx_http_provision_x_interface_keep(r, out.operation,
                                               &call->operation)
               != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    bool debug = req.mode() == interface_mode::debug;

    switch (built) {
    case build_result::ok:
        break;

    case build_result::incomplete:
        if (debug) {
            break;
        }

        if (!problems_text(out, detail)) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_provision_x_interface_refuse_text(
            r, call, NGX_HTTP_BAD_REQUEST, interface_outcome::bad_request,
            detail);

    case build_result::operation_not_allowed:
        detail = aliyun ? "payload.Action: \"" : "payload.path: \"";
        detail += out.operation;
        detail += "\" is not allowed for this target";
        return ngx_http_provision_x_interface_refuse_text(
            r, call, NGX_HTTP_FORBIDDEN,
            interface_outcome::operation_not_allowed, detail);

    default:
        /* never the secret, never the signature: what failed, for whom */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: interface: cannot sign for target "
                      "\"%V\": %s",
                      &t->name, describe(built).data());
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_INTERNAL_SERVER_ERROR,
            interface_outcome::internal_error, "the call could not be signed");
    }

    if (!debug) {
        return ngx_http_provision_x_interface_send_call(r, call, out);
    }

    return ngx_http_provision_x_interface_explain(r, call, req, out);

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: interface call failed: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

static void
ngx_http_provision_x_interface_body_done(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);

    if (ctx == NULL || ctx->interface == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_int_t rc = ngx_http_provision_x_interface_process(r, ctx->interface);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}

static ngx_int_t
ngx_http_provision_x_interface_handler(ngx_http_request_t *r) noexcept
{
    static ngx_str_t allow = ngx_string("Allow");
    static ngx_str_t post = ngx_string("POST");

    if (r != r->main) {
        return NGX_HTTP_NOT_FOUND;
    }

    ngx_http_provision_x_outbound_ctx_t *ctx =
        ngx_http_provision_x_outbound_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    auto *call = static_cast<ngx_http_provision_x_interface_call_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_provision_x_interface_call_t)));
    if (call == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    call->request = r;
    call->started = ngx_current_msec;
    ctx->interface = call;

    /* the key first: without it, nothing else is looked at */
    if (ngx_http_provision_x_api_key_check(r) != NGX_OK) {
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_UNAUTHORIZED, interface_outcome::unauthorized,
            "a valid API key is required");
    }

    if (r->method != NGX_HTTP_POST) {
        if (ngx_http_provision_x_push_header(r, allow, post) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_NOT_ALLOWED,
            interface_outcome::method_not_allowed, "use POST");
    }

    if (r->headers_in.content_length_n
        > NGX_HTTP_PROVISION_X_INTERFACE_BODY_MAX) {
        return ngx_http_provision_x_interface_refuse(
            r, call, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
            interface_outcome::payload_too_large,
            "body: larger than 64k bytes");
    }

    ngx_int_t rc = ngx_http_read_client_request_body(
        r, ngx_http_provision_x_interface_body_done);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}

/* ---- variables, counters ------------------------------------------------- */

static ngx_int_t
ngx_http_provision_x_interface_variable(ngx_http_request_t *r,
                                        ngx_http_variable_value_t *v,
                                        uintptr_t data) noexcept
{
    auto *ctx = static_cast<ngx_http_provision_x_outbound_ctx_t *>(
        ngx_http_get_module_ctx(r, ngx_http_provision_x_outbound_module));
    ngx_http_provision_x_interface_call_t *call =
        ctx != NULL ? ctx->interface : NULL;
    std::string_view value;

    if (call != NULL) {
        switch (data) {
        case NGX_HTTP_PROVISION_X_INTERFACE_VAR_USER_ID:
            value = view(call->user_id);
            break;
        case NGX_HTTP_PROVISION_X_INTERFACE_VAR_TARGET:
            value = call->target ? view(call->target->name) : "";
            break;
        case NGX_HTTP_PROVISION_X_INTERFACE_VAR_OPERATION:
            value = view(call->operation);
            break;
        default:
            if (call->answered) {
                value = provision_x::name_of(
                    static_cast<interface_outcome>(call->outcome));
            }
            break;
        }
    }

    if (value.empty()) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = reinterpret_cast<u_char *>(const_cast<char *>(value.data()));
    v->len = value.size();
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}

ngx_int_t
ngx_http_provision_x_interface_add_variables(ngx_conf_t *cf) noexcept
{
    return ngx_http_provision_x_add_variable_table(
        cf, ngx_http_provision_x_interface_vars);
}

/* Called once the new cycle's zones exist: each target gets its counters
 * by name, so a reload keeps a target's history. */
ngx_int_t
ngx_http_provision_x_interface_init_module(ngx_cycle_t *cycle) noexcept
{
    auto *omcf = static_cast<ngx_http_provision_x_outbound_main_conf_t *>(
        ngx_http_cycle_get_module_main_conf(
            cycle, ngx_http_provision_x_outbound_module));

    if (omcf == NULL) {
        return NGX_OK;
    }

    auto **targets = static_cast<ngx_http_provision_x_interface_target_t **>(
        omcf->interface_targets.elts);

    for (ngx_uint_t i = 0; i < omcf->interface_targets.nelts; i++) {
        targets[i]->metrics_slot =
            ngx_http_provision_x_metrics_target_slot(&targets[i]->name);
    }

    return NGX_OK;
}

/* ---- configuration ------------------------------------------------------- */

void *
ngx_http_provision_x_outbound_create_main_conf(ngx_conf_t *cf) noexcept
{
    auto *omcf =
        static_cast<ngx_http_provision_x_outbound_main_conf_t *>(ngx_pcalloc(
            cf->pool, sizeof(ngx_http_provision_x_outbound_main_conf_t)));
    if (omcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&omcf->interface_targets, cf->pool, 4,
                       sizeof(ngx_http_provision_x_interface_target_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return omcf;
}

static ngx_http_provision_x_interface_target_t *
ngx_http_provision_x_interface_find(
    ngx_http_provision_x_outbound_main_conf_t *omcf,
    std::string_view name) noexcept
{
    auto **targets = static_cast<ngx_http_provision_x_interface_target_t **>(
        omcf->interface_targets.elts);

    for (ngx_uint_t i = 0; i < omcf->interface_targets.nelts; i++) {
        if (view(targets[i]->name) == name) {
            return targets[i];
        }
    }

    return NULL;
}

static bool
ngx_http_provision_x_interface_name_ok(std::string_view name) noexcept
{
    if (name.empty() || name.size() > NGX_HTTP_PROVISION_X_APP_NAME_MAX) {
        return false;
    }

    for (unsigned char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
        {
            return false;
        }
    }

    return true;
}

/* "A,B,C": each one checked for the dialect */
static char *
ngx_http_provision_x_interface_operations(
    ngx_conf_t *cf, ngx_http_provision_x_interface_target_t *t,
    ngx_str_t *arg) noexcept
{
    std::string_view list = view(*arg).substr(sizeof("operations=") - 1);
    ngx_uint_t n = 1;

    for (char c : list) {
        n += c == ',';
    }

    t->operations = static_cast<std::string_view *>(
        ngx_palloc(cf->pool, n * sizeof(std::string_view)));
    if (t->operations == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    bool huawei = t->dialect == dialect::huawei;

    for (ngx_uint_t i = 0; i < n; i++) {
        std::string_view::size_type comma = list.find(',');
        std::string_view op = list.substr(0, comma);

        if (huawei ? !provision_x::is_valid_api_path(op)
                   : !provision_x::is_valid_action(op))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid operation \"%*s\" in \"%V\", "
                               "expected %s",
                               op.size(), op.data(), arg,
                               huawei ? "API paths like /rest/x/v1.0"
                                      : "POP actions like BindAxb");
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        new (&t->operations[i]) std::string_view(op);
        list.remove_prefix(comma == std::string_view::npos ? list.size()
                                                           : comma + 1);
    }

    t->noperations = n;

    return NGX_CONF_OK;
}

/*
 * One NAME=VALUE parameter of provision_x_interface_target: NGX_OK,
 * NGX_DECLINED when it is invalid, NGX_ERROR when that was logged.
 */
static ngx_int_t
ngx_http_provision_x_interface_target_param(
    ngx_conf_t *cf, ngx_http_provision_x_interface_target_t *t, ngx_str_t *arg,
    ngx_str_t **operations, bool *aliyun_only) noexcept
{
    std::string_view a = view(*arg);
    std::string_view::size_type eq = a.find('=');

    if (eq == std::string_view::npos || eq + 1 == a.size()) {
        return NGX_DECLINED;
    }

    std::string_view k = a.substr(0, eq);
    std::string_view v = a.substr(eq + 1);
    ngx_str_t s = {v.size(), arg->data + eq + 1};

    if (k == "id") {
        t->id = ngx_atoi(s.data, s.len);

        if (t->id == NGX_ERROR || t->id == 0) {
            return NGX_DECLINED;
        }

    } else if (k == "dialect") {
        if (!provision_x::dialect_from_name(v, &t->dialect)
            || t->dialect == dialect::off)
        {
            return NGX_DECLINED;
        }

    } else if (k == "app") {
        ngx_http_provision_x_main_conf_t *pmcf =
            ngx_http_provision_x_main_conf(cf);

        t->app = ngx_http_provision_x_app_find(pmcf, v);

        if (t->app == NULL || t->app->secrets.nelts == 0) {
            /* apps are read in order: a later provision_x_app is late */
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown app in \"%V\"; define it with "
                               "\"provision_x_app\" before this "
                               "directive",
                               arg);
            return NGX_ERROR;
        }

    } else if (k == "pass") {
        if (v[0] != '/' || v.find_first_of("?# \t") != v.npos) {
            return NGX_DECLINED;
        }

        t->pass = s;

    } else if (k == "operations") {
        *operations = arg;

    } else if (k == "timeout") {
        t->timeout = ngx_parse_time(&s, 0);

        if (t->timeout == static_cast<ngx_msec_t>(NGX_ERROR) || t->timeout == 0)
        {
            return NGX_DECLINED;
        }

    } else if (k == "method") {
        if (v != "GET" && v != "POST") {
            return NGX_DECLINED;
        }

        t->method = s;
        *aliyun_only = true;

    } else if (k == "access_key_id") {
        t->key_id = s;
        *aliyun_only = true;

    } else if (k == "region") {
        t->region = s;
        *aliyun_only = true;

    } else if (k == "version") {
        t->version = s;
        *aliyun_only = true;

    } else if (k == "nonce") {
        if (ngx_http_provision_x_complex_arg(cf, &s, &t->nonce) != NGX_CONF_OK)
        {
            return NGX_ERROR;
        }

    } else if (k == "timestamp") {
        if (ngx_http_provision_x_complex_arg(cf, &s, &t->timestamp)
            != NGX_CONF_OK) {
            return NGX_ERROR;
        }

    } else {
        return NGX_DECLINED;
    }

    return NGX_OK;
}

/* A target's parameters together: what is required, what fits its
 * dialect, an id no other target has. */
static char *
ngx_http_provision_x_interface_target_check(
    ngx_conf_t *cf, ngx_http_provision_x_outbound_main_conf_t *omcf,
    ngx_http_provision_x_interface_target_t *t, ngx_str_t *operations,
    bool aliyun_only) noexcept
{
    static const char *required[] = {"id", "dialect", "app", "pass",
                                     "operations"};
    bool present[] = {t->id != 0, t->dialect != dialect::off, t->app != NULL,
                      t->pass.len != 0, operations != NULL};

    for (ngx_uint_t k = 0; k < 5; k++) {
        if (!present[k]) {
            ngx_conf_log_error(
                NGX_LOG_EMERG, cf, 0, "\"%V\" must have \"%s\" parameter",
                &static_cast<ngx_str_t *>(cf->args->elts)[0], required[k]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    if (aliyun_only && t->dialect != dialect::aliyun) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "method=, access_key_id=, region= and version= "
                           "are for dialect=aliyun targets only");
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    /* the APP_Key is the app's name; an AccessKeyId may be told apart */
    if (t->key_id.len == 0) {
        t->key_id = t->app->name;
    }

    /* a Huawei call goes to pass + path: "/_px/huawei" + "/rest/..." */
    if (t->dialect == dialect::huawei && t->pass.len > 1
        && t->pass.data[t->pass.len - 1] == '/')
    {
        t->pass.len--;
    }

    for (ngx_uint_t k = 0; k < omcf->interface_targets.nelts - 1; k++) {
        auto **targets =
            static_cast<ngx_http_provision_x_interface_target_t **>(
                omcf->interface_targets.elts);

        if (targets[k]->id == t->id) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "id=%i is duplicate, target \"%V\" has it",
                               t->id, &targets[k]->name);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    return ngx_http_provision_x_interface_operations(cf, t, operations);
}

/*
 * provision_x_interface_target NAME id=N dialect=aliyun|huawei app=APP
 *     pass=/uri operations=A[,B...] [timeout=time] [method=GET|POST]
 *     [access_key_id=ID] [region=ID] [version=V] [nonce=v] [timestamp=v];
 */
char *
ngx_http_provision_x_interface_target(ngx_conf_t *cf, ngx_command_t *cmd,
                                      void *conf) noexcept
{
    auto *omcf = static_cast<ngx_http_provision_x_outbound_main_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (!ngx_http_provision_x_interface_name_ok(view(value[1]))) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid target name \"%V\", expected 1-128 of "
                           "A-Z a-z 0-9 . _ -",
                           &value[1]);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (ngx_http_provision_x_interface_find(omcf, view(value[1])) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "target \"%V\" is duplicate",
                           &value[1]);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    auto *t = static_cast<ngx_http_provision_x_interface_target_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_interface_target_t)));
    auto **slot = static_cast<ngx_http_provision_x_interface_target_t **>(
        ngx_array_push(&omcf->interface_targets));
    if (t == NULL || slot == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    t->name = value[1];
    t->timeout = NGX_HTTP_PROVISION_X_INTERFACE_TIMEOUT;
    ngx_str_set(&t->method, "POST");
    ngx_str_set(&t->region, "cn-hangzhou");
    ngx_str_set(&t->version, "2017-05-25");

    ngx_str_t *operations = NULL;
    bool aliyun_only = false;

    for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
        switch (ngx_http_provision_x_interface_target_param(
            cf, t, &value[i], &operations, &aliyun_only))
        {
        case NGX_OK:
            break;

        case NGX_DECLINED:
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;

        default:
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    if (ngx_http_provision_x_interface_target_check(cf, omcf, t, operations,
                                                    aliyun_only)
        != NGX_CONF_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    *slot = t;

    return NGX_CONF_OK;
}

/*
 * provision_x_interface [target=NAME ...];
 */
char *
ngx_http_provision_x_interface(ngx_conf_t *cf, ngx_command_t *cmd,
                               void *conf) noexcept
{
    auto *olcf = static_cast<ngx_http_provision_x_outbound_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);
    auto *omcf = static_cast<ngx_http_provision_x_outbound_main_conf_t *>(
        ngx_http_conf_get_module_main_conf(
            cf, ngx_http_provision_x_outbound_module));

    if (olcf->interface != NULL) {
        return provision_x::conf_message("is duplicate");
    }

    if (omcf->interface_targets.nelts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs a \"provision_x_interface_target\" "
                           "defined before it",
                           &value[0]);
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    auto *icf = static_cast<ngx_http_provision_x_interface_conf_t *>(
        ngx_pcalloc(cf->pool, sizeof(ngx_http_provision_x_interface_conf_t)));
    if (icf == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    if (cf->args->nelts > 1) {
        icf->targets =
            static_cast<ngx_http_provision_x_interface_target_t **>(ngx_palloc(
                cf->pool,
                (cf->args->nelts - 1)
                    * sizeof(ngx_http_provision_x_interface_target_t *)));
        if (icf->targets == NULL) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
        static const std::string_view prefix = "target=";
        std::string_view a = view(value[i]);

        if (a.substr(0, prefix.size()) != prefix) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        ngx_http_provision_x_interface_target_t *t =
            ngx_http_provision_x_interface_find(omcf, a.substr(prefix.size()));

        if (t == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown target in \"%V\"; define it with "
                               "\"provision_x_interface_target\" before "
                               "this directive",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        for (ngx_uint_t k = 0; k < icf->ntargets; k++) {
            if (icf->targets[k] == t) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is duplicate",
                                   &value[i]);
                return NGX_HTTP_PROVISION_X_CONF_ERROR;
            }
        }

        icf->targets[icf->ntargets++] = t;
    }

    olcf->interface = icf;

    /* the payloads hold phone numbers: the endpoint never runs open */
    ngx_http_provision_x_api_keys_needed(cf);

    auto *clcf = static_cast<ngx_http_core_loc_conf_t *>(
        ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));

    clcf->handler = ngx_http_provision_x_interface_handler;

    return NGX_CONF_OK;
}
