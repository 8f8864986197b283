/*
 * Apps and their secrets (provision_x_app): read from files when the
 * configuration loads, prepared as HMAC keys, wiped when it is released.
 */

#ifndef NGX_HTTP_PROVISION_X_APPS_HPP
#define NGX_HTTP_PROVISION_X_APPS_HPP

#include "ngx_http_provision_x_module.hpp"

#include "core/hmac.hpp"

#define NGX_HTTP_PROVISION_X_APP_NAME_MAX 128

/*
 * The HMAC keys that verification uses, prepared from one secret when the
 * configuration is read (see provision_x::hmac_key) and wiped when it is
 * released.
 */
struct ngx_http_provision_x_secret_keys_t {
    provision_x::hmac_key aliyun;     /* SHA-1, secret: readings P, A2, A3 */
    provision_x::hmac_key aliyun_amp; /* SHA-1, secret + "&": reading A1 */
    provision_x::hmac_key huawei;     /* SHA-256, secret: X-AKSK */
};

struct ngx_http_provision_x_app_t {
    ngx_str_t name;
    ngx_array_t secrets; /* of ngx_str_t */
    ngx_array_t keys;    /* of ngx_http_provision_x_secret_keys_t *, one
                            per secret, in the same order */
    ngx_uint_t metrics_slot;
};

ngx_http_provision_x_app_t *
ngx_http_provision_x_app_find(ngx_http_provision_x_main_conf_t *pmcf,
                              std::string_view name) noexcept;
char *ngx_http_provision_x_app(ngx_conf_t *cf, ngx_command_t *cmd,
                               void *conf) noexcept;

/*
 * Reads a secret (an app secret, an API key) from a file at configuration
 * time: a missing, unreadable, empty or non-regular file is an emerg, a
 * file readable by everyone a warning; a final newline is dropped.  The
 * bytes live in cf->pool and are wiped when it is released, through a
 * cleanup that keeps the `secret` pointer: it must live as long as
 * cf->pool (an array element or a pool allocation, never a local).
 */
ngx_int_t ngx_http_provision_x_read_secret(ngx_conf_t *cf, ngx_str_t *path,
                                           ngx_str_t *secret) noexcept;

#endif /* NGX_HTTP_PROVISION_X_APPS_HPP */
