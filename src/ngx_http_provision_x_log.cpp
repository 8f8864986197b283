/*
 * Rate-limited warnings; see the header.
 */

#include "ngx_http_provision_x_log.hpp"

bool
ngx_http_provision_x_log_allowed(ngx_http_provision_x_log_limit_t *limit,
                                 ngx_log_t *log) noexcept
{
    time_t now = ngx_time();

    if (now != limit->second) {
        if (limit->skipped != 0) {
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "provision_x: %ui more \"%s\" warnings were not "
                          "logged (at most %ui a second)",
                          limit->skipped, limit->what, limit->per_second);
        }

        limit->second = now;
        limit->written = 0;
        limit->skipped = 0;
    }

    if (limit->written < limit->per_second) {
        limit->written++;
        return true;
    }

    limit->skipped++;
    return false;
}
