/*
 * API keys: "provision_x_api_key FILE [FILE ...]" and the check of
 * "Authorization: Bearer KEY" that the consumer API and the status
 * endpoint run before anything else.
 *
 * Keys are read from files when the configuration loads, with the same
 * rules as app secrets; several files let a key be rotated without
 * downtime.  Only the SHA-256 of each key is kept: the presented key is
 * hashed too, so every comparison is between 32 bytes, in constant time,
 * and it does not matter how long a key is or which one matched.  The
 * digests are wiped when the configuration is released.
 */

#include "ngx_http_provision_x_api_key.hpp"
#include "ngx_http_provision_x_apps.hpp"
#include "ngx_http_provision_x_queue_zone.hpp"

#include "core/hmac.hpp"

#include <openssl/crypto.h>

static void
ngx_http_provision_x_api_key_wipe(void *data) noexcept
{
    auto *keys = static_cast<ngx_array_t *>(data);

    OPENSSL_cleanse(keys->elts, keys->nelts * keys->size);
}

char *
ngx_http_provision_x_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
                             void *conf) noexcept
{
    auto *qlcf = static_cast<ngx_http_provision_x_queue_loc_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (qlcf->api_keys != NGX_CONF_UNSET_PTR) {
        return provision_x::conf_message("is duplicate");
    }

    qlcf->api_keys = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                      NGX_HTTP_PROVISION_X_API_KEY_DIGEST);
    if (qlcf->api_keys == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    cln->handler = ngx_http_provision_x_api_key_wipe;
    cln->data = qlcf->api_keys;

    for (ngx_uint_t i = 1; i < cf->args->nelts; i++) {
        ngx_str_t path = value[i];

        /* in the pool: the reader's wipe-on-release cleanup points at it */
        auto *key =
            static_cast<ngx_str_t *>(ngx_palloc(cf->pool, sizeof(ngx_str_t)));
        if (key == NULL) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        if (ngx_http_provision_x_read_secret(cf, &path, key) != NGX_OK) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        provision_x::sha256_digest digest;
        bool ok = provision_x::sha256({provision_x::view(*key)}, digest);

        /* only the digest is needed from here on */
        OPENSSL_cleanse(key->data, key->len);

        if (!ok) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "SHA-256 of API key \"%V\" failed", &path);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        auto *slot = static_cast<u_char *>(ngx_array_push(qlcf->api_keys));
        if (slot == NULL) {
            OPENSSL_cleanse(digest.data(), digest.size());
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        ngx_memcpy(slot, digest.data(), digest.size());
        OPENSSL_cleanse(digest.data(), digest.size());
    }

    return NGX_CONF_OK;
}

/* "Bearer" SP+ token, the scheme in any case (RFC 7235, RFC 6750) */
static ngx_int_t
ngx_http_provision_x_api_key_token(ngx_http_request_t *r,
                                   ngx_str_t *token) noexcept
{
    static const char scheme[] = "Bearer ";
    constexpr size_t len = sizeof(scheme) - 1;

    ngx_table_elt_t *h = r->headers_in.authorization;

    if (h == NULL) {
        return NGX_DECLINED;
    }

    u_char *p = h->value.data;
    u_char *last = p + h->value.len;

    if (h->value.len <= len || ngx_strncasecmp(p, (u_char *) scheme, len) != 0)
    {
        return NGX_ERROR;
    }

    p += len;

    while (p < last && *p == ' ') {
        p++;
    }

    while (last > p && last[-1] == ' ') {
        last--;
    }

    if (p == last) {
        return NGX_ERROR;
    }

    token->data = p;
    token->len = last - p;

    return NGX_OK;
}

ngx_int_t
ngx_http_provision_x_api_key_check(ngx_http_request_t *r) noexcept
{
    ngx_http_provision_x_queue_loc_conf_t *qlcf =
        ngx_http_provision_x_queue_loc_conf(r);
    ngx_str_t token;

    if (qlcf->api_keys == NULL || qlcf->api_keys->nelts == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: no \"provision_x_api_key\" for this "
                      "location: refused");
        return NGX_DECLINED;
    }

    ngx_int_t rc = ngx_http_provision_x_api_key_token(r, &token);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "provision_x: API key refused: %s",
                      rc == NGX_DECLINED ? "no Authorization header"
                                         : "the scheme is not Bearer");
        return NGX_DECLINED;
    }

    provision_x::sha256_digest digest;

    if (!provision_x::sha256({provision_x::view(token)}, digest)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "provision_x: SHA-256 of an API key failed");
        return NGX_DECLINED;
    }

    /* every key is compared, whichever matches */
    auto *keys = static_cast<u_char *>(qlcf->api_keys->elts);
    int match = 0;

    for (ngx_uint_t i = 0; i < qlcf->api_keys->nelts; i++) {
        match |= CRYPTO_memcmp(digest.data(),
                               keys + i * NGX_HTTP_PROVISION_X_API_KEY_DIGEST,
                               NGX_HTTP_PROVISION_X_API_KEY_DIGEST)
                 == 0;
    }

    OPENSSL_cleanse(digest.data(), digest.size());

    if (!match) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "provision_x: API key refused: no configured key "
                      "matches");
        return NGX_DECLINED;
    }

    return NGX_OK;
}
