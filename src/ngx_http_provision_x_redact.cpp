/*
 * Log hygiene.  nginx itself writes request lines, arguments and every
 * request header to the error log (the request line on each error, the
 * headers at debug level), so an Aliyun signature in a query string or a
 * Huawei X-AKSK header would reach the log before this module ever runs.
 * Every file error log of the configuration therefore gets a writer that
 * masks credentials in each line before it is written:
 *
 *   signature=…  PasswordDigest="…"  X-AKSK: …  X-WSSE: …  Bearer …
 *
 * Secrets themselves never travel in requests and are never logged.
 */

#include "ngx_http_provision_x.hpp"

#include <string_view>

static const char ngx_http_provision_x_mask[] = "...";

static bool
ngx_http_provision_x_value_end(u_char c, bool quoted) noexcept
{
    if (quoted) {
        return c == '"' || c == '\n';
    }

    return c == '&' || c == ' ' || c == '"' || c == '\n' || c == ',';
}

/*
 * Masks the value after every case-insensitive occurrence of `key` in
 * buf[0..len): the line only ever shrinks, so this works in place.
 */
static size_t
ngx_http_provision_x_mask_after(u_char *buf, size_t len, std::string_view key,
                                bool to_line_end) noexcept
{
    size_t at = 0;

    while (at + key.size() <= len) {
        u_char *hit = ngx_strlcasestrn(buf + at, buf + len,
                                       (u_char *) key.data(), key.size() - 1);
        if (hit == NULL) {
            break;
        }

        size_t start = (hit - buf) + key.size();
        bool quoted = start < len && buf[start] == '"';

        if (quoted) {
            start++;
        }

        size_t end = start;

        while (end < len) {
            if (to_line_end
                    ? buf[end] == '\n'
                    : ngx_http_provision_x_value_end(buf[end], quoted)) {
                break;
            }

            end++;
        }

        size_t mask = sizeof(ngx_http_provision_x_mask) - 1;

        if (end - start > mask) {
            ngx_memcpy(buf + start, ngx_http_provision_x_mask, mask);
            ngx_memmove(buf + start + mask, buf + end, len - end);
            len -= (end - start) - mask;
            end = start + mask;
        }

        at = end;
    }

    return len;
}

static void
ngx_http_provision_x_redact_writer(ngx_log_t *log, ngx_uint_t level,
                                   u_char *buf, size_t len) noexcept
{
    len = ngx_http_provision_x_mask_after(buf, len, "x-aksk: ", true);
    len = ngx_http_provision_x_mask_after(buf, len, "x-wsse: ", true);
    len = ngx_http_provision_x_mask_after(buf, len, "authorization: bearer ",
                                          false);
    len = ngx_http_provision_x_mask_after(buf, len, "passworddigest=", false);
    len = ngx_http_provision_x_mask_after(buf, len, "signature=", false);

    (void) ngx_write_fd(log->file->fd, buf, len);
}

static void
ngx_http_provision_x_redact_unset(void *data) noexcept
{
    static_cast<ngx_log_t *>(data)->writer = NULL;
}

/*
 * Logs with a writer of their own (syslog, memory) are left alone.  The
 * writer is taken off again when the configuration is released: a cycle
 * that fails to start unloads this module while its log is still in use.
 */
ngx_int_t
ngx_http_provision_x_redact_log(ngx_conf_t *cf, ngx_log_t *log) noexcept
{
    for (/* void */; log; log = log->next) {
        if (log->writer != NULL || log->file == NULL) {
            continue;
        }

        ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_provision_x_redact_unset;
        cln->data = log;

        log->writer = ngx_http_provision_x_redact_writer;
    }

    return NGX_OK;
}
