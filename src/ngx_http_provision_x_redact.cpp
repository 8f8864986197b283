/*
 * Log hygiene.  nginx itself writes request lines, arguments and every
 * request and upstream header to the error log (the request line with
 * each error, the headers at debug level), so an Aliyun signature in a
 * query string, a Huawei X-AKSK header or a consumer's API key would reach
 * a log before this module ever runs.  Every error log of the
 * configuration (files, syslog, memory; main, server and location level)
 * therefore gets a writer that copies each line, masks the credentials in
 * the copy (core/redact.hpp) and hands the copy on: to the log's own
 * writer (syslog, memory) or to its file.  nginx gives the same buffer to
 * every log of a chain, so it must never be changed in place.
 *
 * The request line nginx adds to an error line's context is masked there,
 * with the rest of the line.  $request is masked when it is read (access
 * logs, map, headers), by the module's handler of the variable: a request
 * whose line nothing reads costs nothing, and r->request_line, which
 * nginx and other modules may parse, stays as it came.
 *
 * Secrets themselves never travel in requests and are never logged.
 */

#include "ngx_http_provision_x.hpp"
#include "ngx_http_provision_x_redact.hpp"

#include "core/redact.hpp"

/* A log's own writer, called with the masked copy. */
struct ngx_http_provision_x_redact_t {
    ngx_log_writer_pt writer; /* NULL: the log writes its file itself */
    void *wdata;
};

static void
ngx_http_provision_x_redact_writer(ngx_log_t *log, ngx_uint_t level,
                                   u_char *buf, size_t len) noexcept
{
    auto *rd = static_cast<ngx_http_provision_x_redact_t *>(log->wdata);
    u_char out[NGX_MAX_ERROR_STR];

    len = ngx_min(len, sizeof(out));
    len = provision_x::redact(reinterpret_cast<const char *>(buf), len,
                              reinterpret_cast<char *>(out));

    if (rd->writer != NULL) {
        ngx_log_t own = *log;

        own.writer = rd->writer;
        own.wdata = rd->wdata;
        rd->writer(&own, level, out, len);
        return;
    }

    /* what ngx_log_error_core() does for a file */
    if (ngx_write_fd(log->file->fd, out, len) == -1 && ngx_errno == NGX_ENOSPC)
    {
        log->disk_full_time = ngx_time();
    }
}

/*
 * Put back what the log had when the configuration is released: a cycle
 * that fails to start unloads this module while its logs are still used.
 */
static void
ngx_http_provision_x_redact_unset(void *data) noexcept
{
    auto *log = static_cast<ngx_log_t *>(data);
    auto *rd = static_cast<ngx_http_provision_x_redact_t *>(log->wdata);

    if (log->writer != ngx_http_provision_x_redact_writer) {
        return;
    }

    log->writer = rd->writer;
    log->wdata = rd->wdata;
}

/* Every log of the chain that has not got the writer yet gets it. */
ngx_int_t
ngx_http_provision_x_redact_log(ngx_pool_t *pool, ngx_log_t *log) noexcept
{
    for (/* void */; log; log = log->next) {
        if (log->writer == ngx_http_provision_x_redact_writer
            || (log->writer == NULL && log->file == NULL))
        {
            continue;
        }

        ngx_pool_cleanup_t *cln =
            ngx_pool_cleanup_add(pool, sizeof(ngx_http_provision_x_redact_t));
        if (cln == NULL) {
            return NGX_ERROR;
        }

        auto *rd = static_cast<ngx_http_provision_x_redact_t *>(cln->data);

        rd->writer = log->writer;
        rd->wdata = log->wdata;

        cln->handler = ngx_http_provision_x_redact_unset;
        cln->data = log;

        log->writer = ngx_http_provision_x_redact_writer;
        log->wdata = rd;
    }

    return NGX_OK;
}

/* nginx's own handler of $request, whose value is masked */
static ngx_http_get_variable_pt ngx_http_provision_x_request_variable;

/* $request: nginx's value, or a masked copy of it when it has credentials */
static ngx_int_t
ngx_http_provision_x_redact_request(ngx_http_request_t *r,
                                    ngx_http_variable_value_t *v,
                                    uintptr_t data) noexcept
{
    if (ngx_http_provision_x_request_variable(r, v, data) != NGX_OK) {
        return NGX_ERROR;
    }

    if (v->not_found || v->len == 0) {
        return NGX_OK;
    }

    /* no memory: no value rather than the unmasked one */
    auto *p = static_cast<u_char *>(ngx_pnalloc(r->pool, v->len));
    if (p == NULL) {
        return NGX_ERROR;
    }

    size_t n = provision_x::redact(reinterpret_cast<const char *>(v->data),
                                   v->len, reinterpret_cast<char *>(p));

    if (n != v->len || ngx_memcmp(p, v->data, n) != 0) {
        v->data = p;
        v->len = n;
    }

    return NGX_OK;
}

/*
 * Postconfiguration, before nginx indexes the variables: $request gets the
 * masking handler, which calls nginx's.
 */
ngx_int_t
ngx_http_provision_x_redact_request_variable(ngx_conf_t *cf) noexcept
{
    static const ngx_str_t name = ngx_string("request");
    auto *cmcf = static_cast<ngx_http_core_main_conf_t *>(
        ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
    auto *key = static_cast<ngx_hash_key_t *>(cmcf->variables_keys->keys.elts);

    for (ngx_uint_t i = 0; i < cmcf->variables_keys->keys.nelts; i++) {
        auto *v = static_cast<ngx_http_variable_t *>(key[i].value);

        if (key[i].key.len != name.len
            || ngx_strncmp(key[i].key.data, name.data, name.len) != 0)
        {
            continue;
        }

        if (v->get_handler != ngx_http_provision_x_redact_request) {
            ngx_http_provision_x_request_variable = v->get_handler;
            v->get_handler = ngx_http_provision_x_redact_request;
        }

        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "provision_x_log_redact: no $request variable to mask");
    return NGX_ERROR;
}
