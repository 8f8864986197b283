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
 * $request and the request line of the error log's context use
 * r->request_line, which is masked the same way for every request whose
 * arguments carry a signature.
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

/*
 * The request line as nginx logs it, and as $request shows it: masked
 * when the arguments carry a signature.  r->args, which proxy_pass and
 * the verification read, is left alone.  Post-read phase: once for every
 * request, before any location (or a server-level return) can log it.
 */
ngx_int_t
ngx_http_provision_x_redact_request_line(ngx_http_request_t *r) noexcept
{
    ngx_str_t *line = &r->request_line;

    if (r->args.len == 0) {
        return NGX_DECLINED;
    }

    /* nothing may log the unmasked line: no memory is the gateway's 500 */
    auto *p = static_cast<u_char *>(ngx_pnalloc(r->pool, line->len));
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* one pass: the masked copy is kept only when it differs */
    size_t n = provision_x::redact(reinterpret_cast<const char *>(line->data),
                                   line->len, reinterpret_cast<char *>(p));

    if (n != line->len || ngx_memcmp(p, line->data, n) != 0) {
        line->data = p;
        line->len = n;
    }

    return NGX_DECLINED;
}
