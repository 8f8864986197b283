/*
 * The CDR receiver: a content handler that reads a push, parses it once,
 * drops what was handed off before, hands the new records to a sink and
 * acknowledges the platform only once the sink has them.
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
    NGX_HTTP_PROVISION_X_LOG_LIMIT("refused CDR push", 10);

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
                                             value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return ngx_http_provision_x_send_bytes(
        r, status, &ngx_http_provision_x_platform_json_type, body, len);
}

/*
 * Answers in the dialect's own shape: Huawei {"resultcode","resultdesc"},
 * Aliyun's receipt acknowledgement {"code":N,"msg":...}.
 */
ngx_int_t
ngx_http_provision_x_cdr_answer(ngx_http_request_t *r, ngx_uint_t status,
                                const char *message) noexcept
{
    ngx_http_provision_x_loc_conf_t *plcf = ngx_http_provision_x_loc_conf(r);
    bool aliyun = plcf->cdr == dialect::aliyun;
    time_t retry_after = (status == NGX_HTTP_SERVICE_UNAVAILABLE) ? 60 : 0;

    if (status == NGX_HTTP_OK) {
        static const char huawei_ok[] = "{}";
        static const char aliyun_ok[] = "{\"code\":0,\"msg\":\"接收成功\"}";

        const char *ok = aliyun ? aliyun_ok : huawei_ok;
        return ngx_http_provision_x_cdr_send(
            r, status, reinterpret_cast<const u_char *>(ok), ngx_strlen(ok), 0);
    }

    size_t n = ngx_strlen(message);
    auto *text = reinterpret_cast<u_char *>(const_cast<char *>(message));
    size_t len = sizeof("{\"resultcode\":\"\",\"resultdesc\":\"\"}") +
                 NGX_INT_T_LEN + n + ngx_escape_json(NULL, text, n);
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
static cdr_push *
ngx_http_provision_x_cdr_parse(ngx_http_request_t *r,
                               ngx_http_provision_x_loc_conf_t *plcf,
                               ngx_http_provision_x_ctx_t *ctx,
                               std::string_view body, bool padded) noexcept
{
    if (ngx_http_provision_x_cdr_parser == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "provision_x: no CDR parser in this worker");
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
    options.padded = padded;

    /*
     * A signature speaks for one app: its records must be that app's, and
     * their dedup entries are bound to it, so no app can write or
     * suppress another's CDRs.  An unsigned Aliyun receiver may list the
     * tenants it takes.
     */
    if (plcf->cdr == dialect::huawei && plcf->verify == dialect::huawei &&
        ctx->passed && ctx->app != NULL) {
        options.signer = provision_x::view(ctx->app->name);
        options.scope = options.signer;
    }

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

        if (ngx_http_provision_x_log_allowed(
                &ngx_http_provision_x_cdr_dead_lettered, r->connection->log)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "provision_x: dead-lettered %s CDR record %uz: %s",
                          provision_x::dialect_name(push.dialect()), i,
                          rec.reason);
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
        if (NGX_HTTP_PROVISION_X_FAULT("dead_letter") ||
            ngx_write_fd(plcf->cdr_dead_letter->fd, line, n) !=
                static_cast<ssize_t>(n)) {
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
                            NGX_HTTP_SUBREQUEST_WAITED) != NGX_OK) {
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
    auto elapsed = static_cast<ngx_msec_int_t>(ngx_current_msec -
                                               ctx->cdr->hand_off_start);

    ngx_http_provision_x_metrics_hand_off(
        ctx->dialect, ngx_http_provision_x_loc_conf(r)->cdr_sink->metric,
        status, elapsed > 0 ? elapsed : 0);
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
                  "provision_x: CDR %s answered %i, %ui records not "
                  "acknowledged",
                  ngx_http_provision_x_loc_conf(r)->cdr_sink->name, status,
                  ctx->cdr->fresh);

    /* the platform retries on any 5xx; 503 tells it the sink is busy */
    ngx_uint_t answer = (status == NGX_HTTP_SERVICE_UNAVAILABLE ||
                         status == NGX_HTTP_TOO_MANY_REQUESTS)
                            ? NGX_HTTP_SERVICE_UNAVAILABLE
                            : NGX_HTTP_BAD_GATEWAY;

    ngx_http_finalize_request(
        r, ngx_http_provision_x_cdr_answer(r, answer, "hand-off failed"));
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

    if (plcf->cdr_dedup != NULL) {
        auto *dedup = static_cast<ngx_http_provision_x_seen_ctx_t *>(
            plcf->cdr_dedup->data);
        time_t expire = ngx_time() + dedup->ttl;

        ngx_uint_t owner = ctx->app ? ctx->app->metrics_slot : 0;

        if (ngx_http_provision_x_seen_add_all(
                dedup, cdr->keys, cdr->fresh, expire, owner,
                r->connection->log) > NGX_HTTP_PROVISION_X_SEEN_PRESENT ||
            ngx_http_provision_x_seen_add(dedup, cdr->body_digest, expire,
                                          owner, r->connection->log) >
                NGX_HTTP_PROVISION_X_SEEN_PRESENT) {
            /* the records are safe; only a later retry may repeat them */
            if (ngx_http_provision_x_log_allowed(
                    &ngx_http_provision_x_cdr_dedup_full, r->connection->log)) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "provision_x: dedup zone \"%V\" could not "
                              "take every key, a retry of this push would be "
                              "handed off again",
                              &plcf->cdr_dedup->shm.name);
            }
        }
    }

    ngx_http_provision_x_metrics_cdr(ctx->dialect, cdr->fresh - cdr->known,
                                     cdr->duplicates + cdr->known,
                                     cdr->invalid);

    return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_OK, "");
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
    ngx_http_provision_x_seen_ctx_t *dedup = NULL;

    if (plcf->cdr_dedup != NULL) {
        dedup = static_cast<ngx_http_provision_x_seen_ctx_t *>(
            plcf->cdr_dedup->data);
    }

    cdr->lines = static_cast<ngx_str_t *>(
        ngx_palloc(r->pool, push.size() * sizeof(ngx_str_t)));
    cdr->keys = static_cast<u_char(*)[NGX_HTTP_PROVISION_X_DIGEST_LEN]>(
        ngx_pnalloc(r->pool, push.size() * NGX_HTTP_PROVISION_X_DIGEST_LEN));
    cdr->records = static_cast<const provision_x::cdr_record **>(ngx_palloc(
        r->pool, push.size() * sizeof(const provision_x::cdr_record *)));
    if (cdr->lines == NULL || cdr->keys == NULL || cdr->records == NULL ||
        NGX_HTTP_PROVISION_X_FAULT("cdr_lines")) {
        return NGX_ERROR;
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
                              "provision_x: CDR record %uz repeats the key "
                              "of record %uD with other content; the first "
                              "is kept",
                              i, rec.dup_of);
            }

            cdr->duplicates++;
            continue;
        }

        if (dedup != NULL &&
            ngx_http_provision_x_seen_contains(dedup, rec.key_digest)) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "provision_x: CDR record %uz was handed off "
                           "before",
                           i);
            cdr->duplicates++;
            continue;
        }

        size_t bound = provision_x::cdr_line_bound(push, i, cdr->meta);
        u_char *line = static_cast<u_char *>(ngx_pnalloc(r->pool, bound));
        if (line == NULL) {
            return NGX_ERROR;
        }

        ngx_str_t *s = &cdr->lines[cdr->fresh];
        s->data = line;
        s->len = provision_x::cdr_write_line(
            push, i, cdr->meta, reinterpret_cast<char *>(line), bound);
        if (s->len == 0) {
            return NGX_ERROR;
        }

        ngx_memcpy(cdr->keys[cdr->fresh], rec.key_digest,
                   NGX_HTTP_PROVISION_X_DIGEST_LEN);
        cdr->records[cdr->fresh] = &rec;
        cdr->fresh++;
    }

    return NGX_OK;
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
                                                 &body, &padded)) {
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

    unsigned char digest[provision_x::cdr_body_digest_size];

    if (!provision_x::cdr_body_digest(body.data(), body.size(), digest)) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(cdr->body_digest, digest, NGX_HTTP_PROVISION_X_DIGEST_LEN);

    if (plcf->cdr_dedup != NULL &&
        ngx_http_provision_x_seen_contains(
            static_cast<ngx_http_provision_x_seen_ctx_t *>(
                plcf->cdr_dedup->data),
            cdr->body_digest)) {
        /* a byte-for-byte retry of a push already handed off */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "provision_x: the push was handed off before, "
                       "acknowledged again");
        cdr->retry = 1;
        ngx_http_provision_x_metrics_cdr_retry(ctx->dialect);
        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_OK, "");
    }

    cdr->push = ngx_http_provision_x_cdr_parse(r, plcf, ctx, body, padded);
    if (cdr->push == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    const cdr_push &push = *cdr->push;

    if (push.status() != cdr_status::ok) {
        if (ngx_http_provision_x_log_allowed(&ngx_http_provision_x_cdr_refused,
                                             r->connection->log)) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "provision_x: refused %s CDR push: %s%s%s",
                          provision_x::dialect_name(push.dialect()),
                          provision_x::cdr_status_name(push.status()),
                          push.detail()[0] ? ", " : "", push.detail());
        }

        ngx_http_provision_x_metrics_cdr_refused(ctx->dialect);

        if (push.status() == cdr_status::no_memory) {
            return ngx_http_provision_x_cdr_answer(
                r, NGX_HTTP_SERVICE_UNAVAILABLE, "out of memory, retry later");
        }

        return ngx_http_provision_x_cdr_answer(
            r,
            push.status() == cdr_status::too_large
                ? NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
                : NGX_HTTP_BAD_REQUEST,
            provision_x::cdr_status_message(push.status(), push.dialect()));
    }

    provision_x::utc_timestamp_text now;
    provision_x::format_utc_timestamp(ngx_time(), now);

    u_char *received = static_cast<u_char *>(
        ngx_pnalloc(r->pool, provision_x::utc_timestamp_length));
    if (received == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(received, now.data(), provision_x::utc_timestamp_length);
    cdr->meta.received = std::string_view(reinterpret_cast<char *>(received),
                                          provision_x::utc_timestamp_length);

    if (ctx->app != NULL) {
        cdr->meta.app = provision_x::view(ctx->app->name);
    }

    if (ngx_http_provision_x_cdr_classify(r, plcf, cdr) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (cdr->invalid > 0 &&
        plcf->cdr_invalid == NGX_HTTP_PROVISION_X_INVALID_REJECT) {
        for (const provision_x::cdr_record &rec : push) {
            if (!rec.valid) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "provision_x: refused %s CDR push: invalid "
                              "record: %s",
                              provision_x::dialect_name(push.dialect()),
                              rec.reason);
                break;
            }
        }

        ngx_http_provision_x_metrics_cdr_refused(ctx->dialect);

        return ngx_http_provision_x_cdr_answer(
            r, NGX_HTTP_BAD_REQUEST, "the push holds an invalid record");
    }

    if (cdr->invalid > 0 && ngx_http_provision_x_cdr_dead_letter(
                                r, plcf, push, cdr->meta) != NGX_OK) {
        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                               "dead letter not written");
    }

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "provision_x: CDR push: %ui new, %ui duplicate, %ui invalid "
                   "records; sink %s",
                   cdr->fresh, cdr->duplicates, cdr->invalid,
                   plcf->cdr_sink->name);

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
                                             ngx_string("POST")) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_provision_x_cdr_answer(r, NGX_HTTP_NOT_ALLOWED,
                                               "only POST is accepted");
    }

    if (r->headers_in.content_length_n >
        static_cast<off_t>(plcf->cdr_max_body)) {
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
                      "provision_x: no memory for a CDR parser of %uz bytes",
                      pmcf->cdr_max_body);
        return NGX_ERROR;
    }

    return NGX_OK;

} catch (const std::exception &e) {
    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                  "provision_x: no memory for the CDR parser: %s", e.what());
    return NGX_ERROR;
}

void
ngx_http_provision_x_cdr_exit_process(ngx_cycle_t *cycle) noexcept
{
    delete ngx_http_provision_x_cdr_parser;
    ngx_http_provision_x_cdr_parser = NULL;
}
