/*
 * Per-request warnings that a flood repeats (a full queue, a full dedup
 * zone, dead letters, refused callbacks) are rate-limited per worker, as
 * nginx-otel does its notices: at most `per_second` lines a second of
 * each kind, and the first line after a pause says how many were left
 * out (or, for the last ones, a line when the worker exits).  The status
 * page counts every case; the log stays readable.
 */

#ifndef NGX_HTTP_PROVISION_X_LOG_HPP
#define NGX_HTTP_PROVISION_X_LOG_HPP

#include "ngx_http_provision_x.hpp"

struct ngx_http_provision_x_log_limit_t {
    const char *what; /* names the kind in the line about skipped ones */
    ngx_uint_t per_second;
    time_t second;
    ngx_uint_t written;
    ngx_uint_t skipped;
    ngx_http_provision_x_log_limit_t *next; /* the limits that skipped */
    bool listed;
};

/* A static limit: NGX_HTTP_PROVISION_X_LOG_LIMIT("queue full", 1) */
#define NGX_HTTP_PROVISION_X_LOG_LIMIT(what, per_second)                       \
    {                                                                          \
        what, per_second, 0, 0, 0, NULL, false                                 \
    }

/* Whether the next line of this kind may be written now. */
bool ngx_http_provision_x_log_allowed(ngx_http_provision_x_log_limit_t *limit,
                                      ngx_log_t *log) noexcept;

/* At exit: says how many lines of each kind were left out since the last
 * line that did. */
void ngx_http_provision_x_log_flush(ngx_log_t *log) noexcept;

#endif /* NGX_HTTP_PROVISION_X_LOG_HPP */
