/*
 * Rate-limited warnings; see the header.
 */

#include "ngx_http_provision_x_log.hpp"

/* this worker's limits that have ever skipped a line, for the exit */
static ngx_http_provision_x_log_limit_t *ngx_http_provision_x_log_skippers;

static void
ngx_http_provision_x_log_skipped(ngx_http_provision_x_log_limit_t *limit,
                                 ngx_log_t *log) noexcept
{
    if (limit->skipped != 0) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "provision_x: %ui more \"%s\" warnings were not "
                      "logged (at most %ui a second)",
                      limit->skipped, limit->what, limit->per_second);
        limit->skipped = 0;
    }
}

bool
ngx_http_provision_x_log_allowed(ngx_http_provision_x_log_limit_t *limit,
                                 ngx_log_t *log) noexcept
{
    time_t now = ngx_time();

    if (now != limit->second) {
        ngx_http_provision_x_log_skipped(limit, log);

        limit->second = now;
        limit->written = 0;
    }

    if (limit->written < limit->per_second) {
        limit->written++;
        return true;
    }

    if (!limit->listed) {
        limit->listed = true;
        limit->next = ngx_http_provision_x_log_skippers;
        ngx_http_provision_x_log_skippers = limit;
    }

    limit->skipped++;
    return false;
}

void
ngx_http_provision_x_log_flush(ngx_log_t *log) noexcept
{
    for (ngx_http_provision_x_log_limit_t *limit =
             ngx_http_provision_x_log_skippers;
         limit != NULL; limit = limit->next)
    {
        ngx_http_provision_x_log_skipped(limit, log);
    }
}
