/*
 * The push receiver: a content handler that reads a push (a CDR push or
 * one of the platforms' other callbacks, of a type its location takes),
 * parses it once, drops what was handed off before, hands the new records
 * to a sink and acknowledges the platform, in the shape of the push's
 * type, only once the sink has them.
 *
 * The order matters for "nothing acknowledged is lost":
 *   1. an identical body that was fully handed off before is acknowledged
 *      at the cost of one hash (platforms retry byte for byte);
 *   2. envelope errors are 400: retrying a malformed push cannot help;
 *   3. invalid records inside a good envelope are dead-lettered (or, by
 *      directive, fail the whole push) so they cannot block the good ones;
 *      a dead letter that cannot be written fails the push (503);
 *   4. the new records go to the sink; only when it confirmed them are
 *      their keys and the body digest marked seen, so a push whose
 *      hand-off failed is accepted in full when the platform retries it.
 */

#include "ngx_http_provision_x_access.hpp"
#include "ngx_http_provision_x_cdr.hpp"
#include "ngx_http_provision_x_faults.hpp"
#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_log.hpp"
#include "ngx_http_provision_x_metrics.hpp"
#include "ngx_http_provision_x_seen.hpp"

#include "core/clock.hpp"

#include <new>

using provision_x::cdr_push;
using provision_x::cdr_status;
using provision_x::dialect;

/*
 * simdjson's buffers, sized once per worker for the largest max_body:
 * parsing a push then allocates only its record table from the request
 * pool (review F10: no arena that grows with a hostile body).
 */
static provision_x::cdr_parser *ngx_http_provision_x_cdr_parser;

/* what a flood of bad or unwanted pushes would repeat */
static ngx_http_provision_x_log_limit_t ngx_http_provision_x_cdr_dead_lettered =
    NGX_HTTP_PROVISION_X_LOG_LIMIT("dead-lettered", 100);
static ngx_http_provision_x_log_limit_t ngx_http_provision_x_cdr_dedup_full =
    NGX_HTTP_PROVISION_X_LOG_LIMIT("dedup zone could not take", 1);
static ngx_http_provision_x_log_limit_t ngx_http_provision_x_cdr_refused =
    NGX_HTTP_PROVISION_X_LOG_LIMIT("refused push", 10);

static ngx_int_t
ngx_http_provision_x_cdr_send(ngx_http_request_t *r, ngx_uint_t status,
                              const u_char *body, size_t len,
                              time_t retry_after) noexcept
{
    if (retry_after) {
        ngx_str_t value;

        value.data =
            static_cast<u_char *>(ngx_pnalloc(r->pool, NGX_TIME_T_LEN));
        if (value.data == NULL) {
            return NGX_ERROR;
        }

        value.len = ngx_sprintf(value.data, "%T", retry_after) - value.data;

        if (ngx_http_provision_x_push_header(r, ngx_string("Retry-After"),
                                             value)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_provision_x_send_bytes(
        r, status, &ngx_http_provision_x_platform_json_type, body, len);
}

/*
 * Answers in the dialect's own shape: 200 with the acknowledgement of the
 * push's type; errors as Huawei {"resultcode","resultdesc"} or Aliyun's
 * receipt acknowledgement {"code":N,"msg":...}.
 */
ngx_int_t
ngx_http_provision_x_cdr_answer(ngx_http_request_t *r, ngx_uint_t status,
                                const char *message) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);
    bool aliyun = plcf->cdr == dialect::aliyun;
    time_t retry_after = (status == NGX_HTTP_SERVICE_UNAVAILABLE) ? 60 : 0;

    if (status == NGX_HTTP_OK) {
        ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_get_ctx(r);
        ngx_uint_t type = (ctx != NULL && ctx->cdr != NULL)
                              ? ctx->cdr->type
                              : NGX_HTTP_PROVISION_X_TYPE_UNKNOWN;
        std::string_view ok = provision_x::push_ack_body(
            plcf->cdr, type < provision_x::push_type_count
                           ? static_cast<provision_x::push_type>(type)
                           : provision_x::push_type::cdr);

        /* Huawei's events: "200 with an empty body", not even a type */
        return ngx_http_provision_x_send_bytes(
            r, status,
            ok.empty() ? NULL : &ngx_http_provision_x_platform_json_type,
            reinterpret_cast<const u_char *>(ok.data()), ok.size());
    }

    size_t n = ngx_strlen(message);
    auto *text = reinterpret_cast<u_char *>(const_cast<char *>(message));
    size_t len = sizeof("{\"resultcode\":\"\",\"resultdesc\":\"\"}")
                 + NGX_INT_T_LEN + n + ngx_escape_json(NULL, text, n);
    u_char *p = static_cast<u_char *>(ngx_pnalloc(r->pool, len));
    if (p == NULL) {
        /* nginx's own 500 still makes the platform retry */
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u_char *last = ngx_sprintf(p,
                               aliyun ? "{\"code\":%ui,\"msg\":\""
                                      : "{\"resultcode\":\"%ui\","
                                        "\"resultdesc\":\"",
                               status);
    last = reinterpret_cast<u_char *>(ngx_escape_json(last, text, n));
    last = ngx_cpymem(last, "\"}", 2);

    return ngx_http_provision_x_cdr_send(r, status, p, last - p, retry_after);
}

/*
 * What a push is called in log lines: "CDR", its type's name, or "event"
 * while the type is not known.
 */
static const char *
ngx_http_provision_x_cdr_what(ngx_uint_t type) noexcept
{
    if (type == static_cast<ngx_uint_t>(provision_x::push_type::cdr)) {
        return "CDR";
    }

    if (type >= provision_x::push_type_count) {
        return "event";
    }

    return provision_x::push_type_name(
        static_cast<provision_x::push_type>(type));
}

static void *
ngx_http_provision_x_cdr_pool_alloc(void *ctx, size_t size) noexcept
{
    return ngx_palloc(static_cast<ngx_pool_t *>(ctx), size);
}

static void
ngx_http_provision_x_cdr_push_cleanup(void *data) noexcept
{
    static_cast<cdr_push *>(data)->~cdr_push();
}

/*
 * The push's tables come from the request pool and go with it.  A Huawei
 * push that the location verified is bound to the app whose secret
 * signed it (review F2): a record with another appKey is invalid.
 */
/*
 * A signature speaks for one app: a signed Huawei push's records must be
 * that app's, and their dedup entries and the body's are bound to it, so
 * no app can write or suppress another's records or make its push look
 * like a retry (types without an appKey are bound by the scope alone).
 * "" when the push is not signed by an app.
 */
static std::string_view
ngx_http_provision_x_cdr_signer(ngx_http_provision_x_loc_conf_t *plcf,
                                ngx_http_provision_x_ctx_t *ctx) noexcept
{
    if (plcf->cdr == dialect::huawei && plcf->verify == dialect::huawei
        && ctx->passed && ctx->app != NULL)
    {
        return provision_x::view(ctx->app->name);
    }

    return {};
}

static cdr_push *
ngx_http_provision_x_cdr_parse(ngx_http_request_t *r,
                               ngx_http_provision_x_loc_conf_t *plcf,
                               ngx_http_provision_x_ctx_t *ctx,
                               std::string_view body, bool padded) noexcept
{
    if (ngx_http_provision_x_cdr_parser == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "provision_x: no push parser in this worker");
        return NULL;
    }

    ngx_pool_cleanup_t *cln =
        NGX_HTTP_PROVISION_X_FAULT("cdr_parse")
            ? NULL
            : ngx_pool_cleanup_add(r->pool, sizeof(cdr_push));
    if (cln == NULL) {
        return NULL;
    }

    auto *push = new (cln->data) cdr_push(provision_x::cdr_allocator{
        ngx_http_provision_x_cdr_pool_alloc, r->pool});
    cln->handler = ngx_http_provision_x_cdr_push_cleanup;

    provision_x::cdr_options options;
    options.max_body = plcf->cdr_max_body;
    options.max_records = plcf->cdr_max_records;
    options.types = plcf->cdr_types;
    options.padded = padded;

    /* an unsigned Aliyun receiver may list the tenants it takes */
    options.signer = ngx_http_provision_x_cdr_signer(plcf, ctx);
    options.scope = options.signer;

    options.tenants = plcf->cdr_tenants;
    options.tenant_count = plcf->cdr_ntenants;

    provision_x::parse_push(*ngx_http_provision_x_cdr_parser, plcf->cdr,
                            body.data(), body.size(), options, *push);

    return push;
}

/*
 * Writes the push's invalid records to the dead-letter file, before any
 * hand-off: a record that cannot be kept there must not be acknowledged,
 * so a failed write makes the platform retry the whole push (and nothing
 * is marked seen).  A push whose hand-off then fails is dead-lettered
 * again on its retry: a dead letter may repeat, it is never lost.
 */
static ngx_int_t
ngx_http_provision_x_cdr_dead_letter(
    ngx_http_request_t *r, ngx_http_provision_x_loc_conf_t *plcf,
    const cdr_push &push, const provision_x::cdr_line_meta &meta) noexcept
{
    for (size_t i = 0; i < push.size(); i++) {
        const provision_x::cdr_record &rec = push[i];

        if (rec.valid) {
            continue;
        }

        /*
         * A Block-mode callin or SMS waits for a control answer that a
         * receiver cannot give: the call or message fails unless its URL
         * goes to provision_x_call_control / provision_x_sms_control.
         */
        bool blocked = rec.problem == provision_x::cdr_problem::wrong_value;
        ngx_uint_t level = blocked ? NGX_LOG_ERR : NGX_LOG_WARN;

        if (ngx_http_provision_x_log_allowed(
                &ngx_http_provision_x_cdr_dead_lettered, r->connection->log))
        {
            ngx_log_error(
                level, r->connection->log, 0,
                "provision_x: dead-lettered %s %s record %uz: %s%s",
                provision_x::dialect_name(push.dialect()),
                ngx_http_provision_x_cdr_what(
                    static_cast<ngx_uint_t>(push.type())),
                i, rec.reason,
                !blocked ? ""
                : push.type() == provision_x::push_type::sms
                    ? "; Block-mode SMS belong to a location with "
                      "provision_x_sms_control"
                    : "; Block-mode callin belongs to a location with "
                      "provision_x_call_control");
        }

        if (plcf->cdr_dead_letter == NULL) {
            continue;
        }

        size_t bound = provision_x::cdr_line_bound(push, i, meta) + 1;
        u_char *line = static_cast<u_char *>(ngx_pnalloc(r->pool, bound));
        if (line == NULL) {
            return NGX_ERROR;
        }

        size_t n = provision_x::cdr_write_line(
            push, i, meta, reinterpret_cast<char *>(line), bound);
        line[n++] = '\n';

        /* one write per line: O_APPEND keeps lines of workers whole */
        if (NGX_HTTP_PROVISION_X_FAULT("dead_letter")
            || ngx_write_fd(plcf->cdr_dead_letter->fd, line, n)
                   != static_cast<ssize_t>(n))
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                          "provision_x: writing dead letter to \"%V\" "
                          "failed, the push is not acknowledged",
                          &plcf->cdr_dead_letter->name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}

const ngx_http_provision_x_cdr_sink_t *
ngx_http_provision_x_cdr_sink_named(std::string_view name) noexcept
{
    static const ngx_http_provision_x_cdr_sink_t *sinks[] = {
        &ngx_http_provision_x_cdr_queue, &ngx_http_provision_x_cdr_forward,
        &ngx_http_provision_x_cdr_redis};

    for (const ngx_http_provision_x_cdr_sink_t *sink : sinks) {
        if (name == sink->name) {
            return sink;
        }
    }

    return NULL;
}

/* What a sink's subrequest answered, when it ended. */
static ngx_int_t
ngx_http_provision_x_cdr_sink_done(ngx_http_request_t *sr, void *data,
                                   ngx_int_t rc) noexcept
{
    auto *cdr = static_cast<ngx_http_provision_x_cdr_t *>(data);

    cdr->sink_done = 1;

    if (sr->headers_out.status != 0) {
        cdr->sink_status = sr->headers_out.status;

    } else if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        cdr->sink_status = rc;

    } else {
        /* no response at all: an error before any upstream answer */
        cdr->sink_status = NGX_HTTP_BAD_GATEWAY;
    }

    return rc;
}

/* The parent runs again once the subrequest ended: the sink finishes. */
static void
ngx_http_provision_x_cdr_sink_resume(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_get_ctx(r);

    if (ctx == NULL || ctx->cdr == NULL || !ctx->cdr->sink_done) {
        return;
    }

    ngx_http_provision_x_loc_conf(r)->cdr_sink->finish(r, ctx,
                                                       ctx->cdr->sink_status);
}

ngx_int_t
ngx_http_provision_x_cdr_subrequest(ngx_http_request_t *r,
                                    ngx_http_provision_x_ctx_t *ctx,
                                    ngx_http_request_t **sr,
                                    ngx_module_t *module,
                                    void *module_ctx) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);

    auto *ps = static_cast<ngx_http_post_subrequest_t *>(
        ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t)));
    if (ps == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ps->handler = ngx_http_provision_x_cdr_sink_done;
    ps->data = ctx->cdr;

    if (ngx_http_subrequest(r, &plcf->cdr_sink_uri, NULL, sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (module != NULL) {
        (*sr)->ctx[module->ctx_index] = module_ctx;
    }

    /* only the status matters; the sink's body is not for the platform */
    (*sr)->header_only = 1;

    ctx->cdr->sink_done = 0;
    r->write_event_handler = ngx_http_provision_x_cdr_sink_resume;

    return NGX_DONE;
}

void
ngx_http_provision_x_cdr_handed_off(ngx_http_request_t *r,
                                    ngx_http_provision_x_ctx_t *ctx,
                                    ngx_int_t status) noexcept
{
    auto elapsed = static_cast<ngx_msec_int_t>(ngx_current_msec
                                               - ctx->cdr->hand_off_start);

    ngx_http_provision_x_metrics_hand_off(
        ctx->dialect, ctx->cdr->type,
        ngx_http_provision_x_loc_conf(r)->cdr_sink->metric, status,
        elapsed > 0 ? elapsed : 0);
}

void
ngx_http_provision_x_cdr_sink_finish(ngx_http_request_t *r,
                                     ngx_http_provision_x_ctx_t *ctx,
                                     ngx_int_t status) noexcept
{
    ngx_http_provision_x_cdr_handed_off(r, ctx, status);

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE) {
        ngx_http_finalize_request(r, ngx_http_provision_x_cdr_commit(r, ctx));
        return;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "provision_x: %s %s answered %i, %ui records not "
                  "acknowledged",
                  ngx_http_provision_x_cdr_what(ctx->cdr->type),
                  ngx_http_provision_x_loc_conf(r)->cdr_sink->name, status,
                  ctx->cdr->fresh);

    /* the platform retries on any 5xx; 503 tells it the sink is busy */
    ngx_uint_t answer = (status == NGX_HTTP_SERVICE_UNAVAILABLE
                         || status == NGX_HTTP_TOO_MANY_REQUESTS)
                            ? NGX_HTTP_SERVICE_UNAVAILABLE
                            : NGX_HTTP_BAD_GATEWAY;

    ngx_http_finalize_request(
        r, ngx_http_provision_x_cdr_answer(r, answer, "hand-off failed"));
}

/*
 * The dedup entry of a body handed off as a push of `type`: its digest
 * with the type folded into the first byte, so that an identical retry
 * knows which acknowledgement it gets.  CDRs, type 0, keep the entries
 * of earlier versions.
 */
static void
ngx_http_provision_x_cdr_body_entry(const u_char *digest, ngx_uint_t type,
                                    u_char *entry) noexcept
{
    ngx_memcpy(entry, digest, NGX_HTTP_PROVISION_X_DIGEST_LEN);
    entry[0] ^= static_cast<u_char>(type);
}

static ngx_http_provision_x_seen_ctx_t *
ngx_http_provision_x_cdr_dedup(ngx_http_provision_x_loc_conf_t *plcf) noexcept
{
    return plcf->cdr_dedup == NULL
               ? NULL
               : static_cast<ngx_http_provision_x_seen_ctx_t *>(
                   plcf->cdr_dedup->data);
}

/*
 * After the sink confirmed: remember the keys and the body, count,
 * acknowledge.
 */
ngx_int_t
ngx_http_provision_x_cdr_commit(ngx_http_request_t *r,
                                ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    ngx_http_provision_x_seen_ctx_t *dedup =
        ngx_http_provision_x_cdr_dedup(plcf);

    if (dedup != NULL) {
        time_t expire =
            NGX_HTTP_PROVISION_X_NOW()
            + (plcf->cdr_dedup_ttl ? plcf->cdr_dedup_ttl : dedup->ttl);
        ngx_uint_t owner = ctx->app ? ctx->app->metrics_slot : 0;
        u_char body[NGX_HTTP_PROVISION_X_DIGEST_LEN];

        ngx_http_provision_x_cdr_body_entry(cdr->body_digest, cdr->type, body);

        if (ngx_http_provision_x_seen_add_all(dedup, cdr->keys, cdr->fresh,
                                              expire, owner, r->connection->log)
                > NGX_HTTP_PROVISION_X_SEEN_PRESENT
            || ngx_http_provision_x_seen_add(dedup, body, expire, owner,
                                             r->connection->log)
                   > NGX_HTTP_PROVISION_X_SEEN_PRESENT)
        {
            /* the records are safe; only a later retry may repeat them */
            if (ngx_http_provision_x_log_allowed(
                    &ngx_http_provision_x_cdr_dedup_full, r->connection->log))
            {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "provision_x: dedup zone \"%V\" could not "
                              "take every key, a retry of this push would be "
                              "handed off again",
                              &plcf->cdr_dedup->shm.name);
            }
        }
    }

    ngx_http_provision_x_metrics_cdr(
        ctx->dialect, cdr->type, cdr->fresh - cdr->known,
        cdr->duplicates + cdr->known, cdr->invalid);

    return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_OK, "");
}

/*
 * A byte-for-byte retry of a push handed off before, of one of the types
 * the location takes: its type is remembered with the body.
 */
static bool
ngx_http_provision_x_cdr_seen_body(ngx_http_provision_x_loc_conf_t *plcf,
                                   ngx_http_provision_x_cdr_t *cdr) noexcept
{
    ngx_http_provision_x_seen_ctx_t *dedup =
        ngx_http_provision_x_cdr_dedup(plcf);
    u_char entry[NGX_HTTP_PROVISION_X_DIGEST_LEN];

    if (dedup == NULL) {
        return false;
    }

    for (ngx_uint_t t = 0; t < provision_x::push_type_count; t++) {
        if (!(plcf->cdr_types & (uint32_t(1) << t))) {
            continue;
        }

        ngx_http_provision_x_cdr_body_entry(cdr->body_digest, t, entry);

        if (ngx_http_provision_x_seen_contains(dedup, entry)) {
            cdr->type = t;
            return true;
        }
    }

    return false;
}

/*
 * The new records' lines, in pieces (provision_x::cdr_write_line_pieces):
 * their heads one after the other in one buffer, and their records in the
 * request's padded copy of the body, so that no sink needs a copy of each
 * line first.
 * The pages of the buffer past what the heads really take (the bound
 * counts every byte escaped) are never touched.
 */
static ngx_int_t
ngx_http_provision_x_cdr_write_lines(ngx_http_request_t *r,
                                     ngx_http_provision_x_cdr_t *cdr) noexcept
{
    const cdr_push &push = *cdr->push;
    size_t total = 0;

    if (cdr->fresh == 0) {
        return NGX_OK;
    }

    for (ngx_uint_t k = 0; k < cdr->fresh; k++) {
        total += provision_x::cdr_line_bound(push, cdr->records[k] - &push[0],
                                             cdr->meta);
    }

    u_char *p = static_cast<u_char *>(ngx_pnalloc(r->pool, total));
    if (p == NULL) {
        return NGX_ERROR;
    }

    u_char *end = p + total;

    for (ngx_uint_t k = 0; k < cdr->fresh; k++) {
        size_t n = provision_x::cdr_write_line_pieces(
            push, cdr->records[k] - &push[0], cdr->meta,
            reinterpret_cast<char *>(p), end - p, &cdr->lines[k]);
        if (n == 0) {
            return NGX_ERROR;
        }

        p += n;
    }

    return NGX_OK;
}

/*
 * Splits the push into new records (their lines and keys), duplicates
 * and invalid ones.
 */
static ngx_int_t
ngx_http_provision_x_cdr_classify(ngx_http_request_t *r,
                                  ngx_http_provision_x_loc_conf_t *plcf,
                                  ngx_http_provision_x_cdr_t *cdr) noexcept
{
    const cdr_push &push = *cdr->push;
    ngx_http_provision_x_seen_ctx_t *dedup =
        ngx_http_provision_x_cdr_dedup(plcf);

    cdr->lines = static_cast<provision_x::cdr_line_pieces *>(ngx_palloc(
        r->pool, push.size() * sizeof(provision_x::cdr_line_pieces)));
    cdr->keys = static_cast<u_char(*)[NGX_HTTP_PROVISION_X_DIGEST_LEN]>(
        ngx_pnalloc(r->pool, push.size() * NGX_HTTP_PROVISION_X_DIGEST_LEN));
    cdr->records = static_cast<const provision_x::cdr_record **>(ngx_palloc(
        r->pool, push.size() * sizeof(const provision_x::cdr_record *)));
    u_char *known = static_cast<u_char *>(ngx_pcalloc(r->pool, push.size()));
    if (cdr->lines == NULL || cdr->keys == NULL || cdr->records == NULL
        || known == NULL || NGX_HTTP_PROVISION_X_FAULT("cdr_lines"))
    {
        return NGX_ERROR;
    }

    if (dedup != NULL && push.size() != 0) {
        ngx_http_provision_x_seen_contains_each(dedup, push[0].key_digest,
                                                sizeof(provision_x::cdr_record),
                                                push.size(), known);
    }

    for (size_t i = 0; i < push.size(); i++) {
        const provision_x::cdr_record &rec = push[i];

        if (!rec.valid) {
            cdr->invalid++;
            continue;
        }

        if (rec.dup_of != provision_x::cdr_no_dup) {
            if (rec.conflict) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "provision_x: %s record %uz repeats the key "
                              "of record %uD with other content; the first "
                              "is kept",
                              ngx_http_provision_x_cdr_what(cdr->type), i,
                              rec.dup_of);
            }

            cdr->duplicates++;
            continue;
        }

        if (known[i]) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "provision_x: %s record %uz was handed off "
                           "before",
                           ngx_http_provision_x_cdr_what(cdr->type), i);
            cdr->duplicates++;
            continue;
        }

        ngx_memcpy(cdr->keys[cdr->fresh], rec.key_digest,
                   NGX_HTTP_PROVISION_X_DIGEST_LEN);
        cdr->records[cdr->fresh] = &rec;
        cdr->fresh++;
    }

    return ngx_http_provision_x_cdr_write_lines(r, cdr);
}

/* a push the parse refused as a whole: its dialect's 4xx, or a 5xx for
 * what the gateway itself failed at */
static ngx_int_t
ngx_http_provision_x_cdr_refuse(ngx_http_request_t *r,
                                ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    const cdr_push &push = *cdr->push;

    if (ngx_http_provision_x_log_allowed(&ngx_http_provision_x_cdr_refused,
                                         r->connection->log))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "provision_x: refused %s %s push: %s%s%s",
                      provision_x::dialect_name(push.dialect()),
                      ngx_http_provision_x_cdr_what(cdr->type),
                      provision_x::cdr_status_name(push.status()),
                      push.detail()[0] ? ", " : "", push.detail());
    }

    ngx_http_provision_x_metrics_cdr_refused(ctx->dialect, cdr->type);

    if (push.status() == cdr_status::no_memory) {
        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "out of memory, retry later");
    }

    return ngx_http_provision_x_cdr_answer(
        r,
        push.status() == cdr_status::too_large
            ? NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
            : NGX_HTTP_BAD_REQUEST,
        provision_x::cdr_push_message(push));
}

/* what every line of the push carries: when it arrived and which app
 * signed it */
static ngx_int_t
ngx_http_provision_x_cdr_stamp(ngx_http_request_t *r,
                               ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    provision_x::utc_timestamp_text now;

    provision_x::format_utc_timestamp(ngx_time(), now);

    u_char *received = static_cast<u_char *>(
        ngx_pnalloc(r->pool, provision_x::utc_timestamp_length));
    if (received == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(received, now.data(), provision_x::utc_timestamp_length);
    cdr->meta.received = std::string_view(reinterpret_cast<char *>(received),
                                          provision_x::utc_timestamp_length);

    if (ctx->app != NULL) {
        cdr->meta.app = provision_x::view(ctx->app->name);
    }

    return NGX_OK;
}

/*
 * Invalid records refuse the push (invalid=reject) or go to the
 * dead-letter file before anything is handed off.  0 lets the valid
 * records go on; otherwise the status to answer, and *why.
 */
static ngx_uint_t
ngx_http_provision_x_cdr_set_aside_invalid(
    ngx_http_request_t *r, ngx_http_provision_x_loc_conf_t *plcf,
    ngx_http_provision_x_ctx_t *ctx, const char **why) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    const cdr_push &push = *cdr->push;

    if (plcf->cdr_invalid != NGX_HTTP_PROVISION_X_INVALID_REJECT) {
        if (ngx_http_provision_x_cdr_dead_letter(r, plcf, push, cdr->meta)
            != NGX_OK) {
            *why = "dead letter not written";
            return NGX_HTTP_SERVICE_UNAVAILABLE;
        }

        return 0;
    }

    for (const provision_x::cdr_record &rec : push) {
        if (!rec.valid) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "provision_x: refused %s %s push: invalid "
                          "record: %s",
                          provision_x::dialect_name(push.dialect()),
                          ngx_http_provision_x_cdr_what(cdr->type), rec.reason);
            break;
        }
    }

    ngx_http_provision_x_metrics_cdr_refused(ctx->dialect, cdr->type);

    *why = "the push holds an invalid record";
    return NGX_HTTP_BAD_REQUEST;
}

/* the new records go to the location's sink; a push without any is
 * acknowledged at once */
static ngx_int_t
ngx_http_provision_x_cdr_hand_off(ngx_http_request_t *r,
                                  ngx_http_provision_x_loc_conf_t *plcf,
                                  ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "provision_x: %s push: %ui new, %ui duplicate, %ui invalid "
                   "records; sink %s",
                   ngx_http_provision_x_cdr_what(cdr->type), cdr->fresh,
                   cdr->duplicates, cdr->invalid, plcf->cdr_sink->name);

    if (cdr->fresh == 0) {
        return ngx_http_provision_x_cdr_commit(r, ctx);
    }

    cdr->hand_off_start = ngx_current_msec;

    ngx_int_t rc = plcf->cdr_sink->hand_off(r, ctx);

    if (rc != NGX_DONE && plcf->cdr_sink->finish != NULL) {
        /* a subrequest sink that could not even start: a 5xx all the same */
        ngx_http_provision_x_cdr_handed_off(r, ctx, rc);
    }

    return rc;
}

static ngx_int_t
ngx_http_provision_x_cdr_process(ngx_http_request_t *r,
                                 ngx_http_provision_x_loc_conf_t *plcf,
                                 ngx_http_provision_x_ctx_t *ctx) noexcept
{
    std::string_view body;
    bool padded;

    switch (NGX_HTTP_PROVISION_X_FAULT("cdr_body")
                ? NGX_ERROR
                : ngx_http_provision_x_body_view(r, plcf->cdr_max_body,
                                                 provision_x::cdr_padding,
                                                 &body, &padded))
    {
    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_http_provision_x_cdr_answer(
            r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "request body is too large");

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    auto *cdr = static_cast<ngx_http_provision_x_cdr_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_provision_x_cdr_t)));
    if (cdr == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->cdr = cdr;
    ctx->dialect = plcf->cdr;

    /* a location of one type knows it before the parse */
    cdr->type = (plcf->cdr_types & (plcf->cdr_types - 1)) == 0
                    ? __builtin_ctz(plcf->cdr_types)
                    : NGX_HTTP_PROVISION_X_TYPE_UNKNOWN;

    unsigned char digest[provision_x::cdr_body_digest_size];

    if (!provision_x::cdr_body_digest(
            ngx_http_provision_x_cdr_signer(plcf, ctx), body, digest))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(cdr->body_digest, digest, NGX_HTTP_PROVISION_X_DIGEST_LEN);

    if (ngx_http_provision_x_cdr_seen_body(plcf, cdr)) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "provision_x: the %s push was handed off before, "
                       "acknowledged again",
                       ngx_http_provision_x_cdr_what(cdr->type));
        cdr->retry = 1;
        ngx_http_provision_x_metrics_cdr_retry(ctx->dialect, cdr->type);
        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_OK, "");
    }

    cdr->push = ngx_http_provision_x_cdr_parse(r, plcf, ctx, body, padded);
    if (cdr->push == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    const cdr_push &push = *cdr->push;

    switch (push.status()) {
    case cdr_status::ok:
    case cdr_status::not_an_array:
    case cdr_status::no_records:
    case cdr_status::too_many_records:
    case cdr_status::bad_app_key:
        /* the parse read the type before it stopped */
        cdr->type = static_cast<ngx_uint_t>(push.type());
        break;

    default:
        break;
    }

    if (push.status() != cdr_status::ok) {
        return ngx_http_provision_x_cdr_refuse(r, ctx);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "provision_x: %s push of type %s: %uz records, %uz valid",
                   provision_x::dialect_name(push.dialect()),
                   provision_x::push_type_name(push.type()), push.size(),
                   push.valid_count());

    if (ngx_http_provision_x_cdr_stamp(r, ctx) != NGX_OK
        || ngx_http_provision_x_cdr_classify(r, plcf, cdr) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cdr->invalid > 0) {
        const char *why;
        ngx_uint_t status =
            ngx_http_provision_x_cdr_set_aside_invalid(r, plcf, ctx, &why);

        if (status != 0) {
            return ngx_http_provision_x_cdr_answer(r, status, why);
        }
    }

    return ngx_http_provision_x_cdr_hand_off(r, plcf, ctx);
}

static void
ngx_http_provision_x_cdr_body_handler(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);

    ngx_http_provision_x_ctx_t *ctx = ngx_http_provision_x_ensure_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_int_t rc = ngx_http_provision_x_cdr_process(r, plcf, ctx);

    if (rc == NGX_DONE) {
        /* the sink's subrequest finishes the request */
        return;
    }

    ngx_http_finalize_request(r, rc);
}

ngx_int_t
ngx_http_provision_x_cdr_handler(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);

    if (r->method != NGX_HTTP_POST) {
        if (ngx_http_provision_x_push_header(r, ngx_string("Allow"),
                                             ngx_string("POST"))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_NOT_ALLOWED,
                                               "only POST is accepted");
    }

    if (r->headers_in.content_length_n > static_cast<off_t>(plcf->cdr_max_body))
    {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_provision_x_cdr_answer(
            r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "request body is too large");
    }

    ngx_int_t rc = ngx_http_read_client_request_body(
        r, ngx_http_provision_x_cdr_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}

ngx_int_t
ngx_http_provision_x_cdr_init_process(ngx_cycle_t *cycle) noexcept
try {
    auto *pmcf = static_cast<ngx_http_provision_x_main_conf_t *>(
        ngx_http_cycle_get_module_main_conf(cycle,
                                            ngx_http_provision_x_module));

    if (pmcf == NULL || pmcf->cdr_max_body == 0) {
        return NGX_OK;
    }

    ngx_http_provision_x_cdr_parser = new provision_x::cdr_parser();

    if (!ngx_http_provision_x_cdr_parser->reserve(pmcf->cdr_max_body)) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "provision_x: no memory for a push parser of %uz bytes",
                      pmcf->cdr_max_body);
        return NGX_ERROR;
    }

    return NGX_OK;

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "provision_x: no memory for the push parser: %s", e.what());
    return NGX_ERROR;
}

void
ngx_http_provision_x_cdr_exit_process(ngx_cycle_t *cycle) noexcept
{
    delete ngx_http_provision_x_cdr_parser;
    ngx_http_provision_x_cdr_parser = NULL;
}
