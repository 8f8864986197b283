/*
 * The redis= sink: the new records of a push go to a Redis stream through
 * a subrequest to a provision_x_redis_pass location (the redis module),
 * and the platform is acknowledged only once Redis confirmed the write.
 * Redis also says which records it had already (another gateway took
 * them): those are counted as duplicates.  The script is called by its
 * SHA-1; when Redis does not know it, the same write is asked once more
 * with the script itself.
 */

#include "ngx_http_provision_x_access.hpp"
#include "ngx_http_provision_x_cdr.hpp"
#include "ngx_http_provision_x_redis.hpp"

/* The write of the push's new records, made once per push. */
static ngx_http_provision_x_redis_write_t *
ngx_http_provision_x_cdr_redis_write(ngx_http_request_t *r,
                                     ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    const provision_x::cdr_push &push = *cdr->push;

    auto *w = static_cast<ngx_http_provision_x_redis_write_t *>(
        ngx_pcalloc(r->pool, sizeof(ngx_http_provision_x_redis_write_t)));
    auto *records = static_cast<provision_x::redis_sink_record *>(ngx_palloc(
        r->pool, cdr->fresh * sizeof(provision_x::redis_sink_record)));
    if (w == NULL || records == NULL) {
        return NULL;
    }

    for (ngx_uint_t i = 0; i < cdr->fresh; i++) {
        const provision_x::cdr_record *rec = cdr->records[i];

        /*
         * the push keeps key components; the printable key is made here,
         * and the line joined: the command takes each line in one piece
         */
        auto *key = static_cast<char *>(ngx_pnalloc(r->pool, rec->key_len));
        auto *line =
            static_cast<u_char *>(ngx_pnalloc(r->pool, cdr->lines[i].size()));
        if (key == NULL || line == NULL) {
            return NULL;
        }

        size_t n = provision_x::cdr_write_key(push, rec - push.begin(), key,
                                              rec->key_len);
        u_char *end = cdr->lines[i].join(line);

        records[i].line =
            std::string_view(reinterpret_cast<char *>(line), end - line);
        records[i].key = std::string_view(key, n);
        std::string_view app =
            cdr->meta.app.empty() ? rec->tenant : cdr->meta.app;

        /* a type without a tenant (Huawei events) has none: "", never a
         * null pointer for the command's memcpy */
        records[i].app = app.data() != nullptr ? app : std::string_view("");
        records[i].digest = cdr->keys[i];
    }

    w->records = records;
    w->n = cdr->fresh;
    w->dialect = ctx->dialect;
    w->ttl = ngx_http_provision_x_loc_conf(r)->cdr_dedup_ttl;

    return w;
}

static ngx_int_t
ngx_http_provision_x_cdr_redis_hand_off(
    ngx_http_request_t *r, ngx_http_provision_x_ctx_t *ctx) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    auto *w = static_cast<ngx_http_provision_x_redis_write_t *>(cdr->sink_ctx);

    if (w == NULL) {
        w = ngx_http_provision_x_cdr_redis_write(r, ctx);
        if (w == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cdr->sink_ctx = w;
    }

    void *rctx = ngx_http_provision_x_redis_ctx(r->pool, w);
    if (rctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_request_t *sr;

    return ngx_http_provision_x_cdr_subrequest(
        r, ctx, &sr, &ngx_http_provision_x_redis_module, rctx);
}

static void
ngx_http_provision_x_cdr_redis_finish(ngx_http_request_t *r,
                                      ngx_http_provision_x_ctx_t *ctx,
                                      ngx_int_t status) noexcept
{
    ngx_http_provision_x_cdr_t *cdr = ctx->cdr;
    auto *w = static_cast<ngx_http_provision_x_redis_write_t *>(cdr->sink_ctx);

    if (w->noscript) {
        /* nothing was written: the script runs only once it is known */
        w->noscript = 0;
        w->eval = 1;

        ngx_int_t rc = ngx_http_provision_x_cdr_redis_hand_off(r, ctx);
        if (rc != NGX_DONE) {
            ngx_http_finalize_request(r, rc);
        }

        return;
    }

    if (status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE
        && !w->written) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: redis=%V answered %i but is no "
                      "provision_x_redis_pass location",
                      &ngx_http_provision_x_loc_conf(r)->cdr_sink_uri, status);
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cdr->known = w->known;

    ngx_http_provision_x_cdr_sink_finish(r, ctx, status);
}

const ngx_http_provision_x_cdr_sink_t ngx_http_provision_x_cdr_redis = {
    "redis",
    NGX_HTTP_PROVISION_X_SINK_REDIS,
    ngx_http_provision_x_cdr_redis_hand_off,
    ngx_http_provision_x_cdr_redis_finish,
};
