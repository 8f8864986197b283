/*
 * Apps and their secrets: "provision_x_app NAME secret=FILE ...".
 *
 * Secrets are read once, at configuration load, from files only, so they
 * never sit in nginx.conf, a variable or a log.  Several secrets per app
 * let an operator rotate one without downtime: the old and the new secret
 * verify side by side until the platform has switched.  The bytes, and
 * the HMAC key states prepared from them, are wiped when the
 * configuration that read them is released.
 */

#include "ngx_http_provision_x_apps.hpp"

#include <openssl/crypto.h>

#include <new>

/* A secret is a short token; anything longer is a wrong file. */
#define NGX_HTTP_PROVISION_X_SECRET_MAX 4096

static void
ngx_http_provision_x_secret_wipe(void *data) noexcept
{
    auto *secret = static_cast<ngx_str_t *>(data);

    OPENSSL_cleanse(secret->data, secret->len);
}

ngx_int_t
ngx_http_provision_x_read_secret(ngx_conf_t *cf, ngx_str_t *path,
                                 ngx_str_t *secret) noexcept
{
    if (ngx_conf_full_name(cf->cycle, path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_fd_t fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " secret file \"%s\" failed",
                           path->data);
        return NGX_ERROR;
    }

    ngx_int_t rc = NGX_ERROR;
    ngx_file_info_t fi;
    ssize_t n;
    u_char buf[NGX_HTTP_PROVISION_X_SECRET_MAX + 1];
    ngx_file_t file;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " secret file \"%s\" failed",
                           path->data);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is not a regular file",
                           path->data);
        goto done;
    }

    if (fi.st_mode & S_IROTH) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "secret file \"%s\" is readable by everyone; "
                           "chmod o-r it",
                           path->data);
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *path;
    file.log = cf->log;

    n = ngx_read_file(&file, buf, sizeof(buf), 0);
    if (n == NGX_ERROR) {
        goto done;
    }

    if (n > NGX_HTTP_PROVISION_X_SECRET_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%s\" is longer than %d bytes",
                           path->data, NGX_HTTP_PROVISION_X_SECRET_MAX);
        goto done;
    }

    /* editors add a final newline; a secret never ends in whitespace */
    while (n > 0
           && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '
               || buf[n - 1] == '\t'))
    {
        n--;
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "secret file \"%s\" is empty",
                           path->data);
        goto done;
    }

    secret->data = static_cast<u_char *>(ngx_pnalloc(cf->pool, n));
    if (secret->data == NULL) {
        goto done;
    }

    ngx_memcpy(secret->data, buf, n);
    secret->len = n;

    {
        ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            goto done;
        }

        cln->handler = ngx_http_provision_x_secret_wipe;
        cln->data = secret;
    }

    rc = NGX_OK;

done:

    OPENSSL_cleanse(buf, sizeof(buf));

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%s\" failed", path->data);
    }

    return rc;
}

static void
ngx_http_provision_x_secret_keys_wipe(void *data) noexcept
{
    /* hmac_key's destructor frees (and so clears) its digest states */
    static_cast<ngx_http_provision_x_secret_keys_t *>(data)
        ->~ngx_http_provision_x_secret_keys_t();
}

/*
 * The inner and outer pad blocks of each key verification may use are
 * hashed here, once, instead of on every request.
 */
static ngx_int_t
ngx_http_provision_x_prepare_keys(ngx_conf_t *cf,
                                  ngx_http_provision_x_app_t *app,
                                  ngx_str_t *secret) noexcept
{
    using provision_x::hmac_algorithm;

    ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(
        cf->pool, sizeof(ngx_http_provision_x_secret_keys_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    auto *keys = new (cln->data) ngx_http_provision_x_secret_keys_t;
    cln->handler = ngx_http_provision_x_secret_keys_wipe;
    cln->data = keys;

    auto **slot = static_cast<ngx_http_provision_x_secret_keys_t **>(
        ngx_array_push(&app->keys));
    if (slot == NULL) {
        return NGX_ERROR;
    }

    *slot = keys;

    std::string_view text = provision_x::view(*secret);

    if (!keys->aliyun.set(hmac_algorithm::sha1, {text})
        || !keys->aliyun_amp.set(hmac_algorithm::sha1, {text, "&"})
        || !keys->huawei.set(hmac_algorithm::sha256, {text}))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "OpenSSL could not prepare the HMAC keys of app "
                           "\"%V\"",
                           &app->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}

ngx_http_provision_x_app_t *
ngx_http_provision_x_app_find(ngx_http_provision_x_main_conf_t *pmcf,
                              std::string_view name) noexcept
{
    auto *apps = static_cast<ngx_http_provision_x_app_t *>(pmcf->apps.elts);

    for (ngx_uint_t i = 0; i < pmcf->apps.nelts; i++) {
        if (provision_x::view(apps[i].name) == name) {
            return &apps[i];
        }
    }

    return NULL;
}

char *
ngx_http_provision_x_app(ngx_conf_t *cf, ngx_command_t *cmd,
                         void *conf) noexcept
{
    auto *pmcf = static_cast<ngx_http_provision_x_main_conf_t *>(conf);
    auto *value = static_cast<ngx_str_t *>(cf->args->elts);

    if (value[1].len > NGX_HTTP_PROVISION_X_APP_NAME_MAX) {
        return provision_x::conf_message("has an app name that is too long");
    }

    if (ngx_http_provision_x_app_find(pmcf, provision_x::view(value[1]))) {
        return provision_x::conf_message("is duplicate");
    }

    auto *app =
        static_cast<ngx_http_provision_x_app_t *>(ngx_array_push(&pmcf->apps));
    if (app == NULL) {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    app->name = value[1];

    if (ngx_array_init(&app->secrets, cf->pool, cf->args->nelts - 2,
                       sizeof(ngx_str_t))
            != NGX_OK
        || ngx_array_init(&app->keys, cf->pool, cf->args->nelts - 2,
                          sizeof(ngx_http_provision_x_secret_keys_t *))
               != NGX_OK)
    {
        return NGX_HTTP_PROVISION_X_CONF_ERROR;
    }

    for (ngx_uint_t i = 2; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "secret=", 7) != 0 || value[i].len == 7)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", expected "
                               "\"secret=file\"",
                               &value[i]);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        ngx_str_t path;
        path.data = value[i].data + 7;
        path.len = value[i].len - 7;

        auto *secret = static_cast<ngx_str_t *>(ngx_array_push(&app->secrets));
        if (secret == NULL) {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        if (ngx_http_provision_x_read_secret(cf, &path, secret) != NGX_OK
            || ngx_http_provision_x_prepare_keys(cf, app, secret) != NGX_OK)
        {
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}
