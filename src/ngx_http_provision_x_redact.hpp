/*
 * Log hygiene: credentials are masked in every line written to the logs
 * the module redacts (provision_x_log_redact), and in $request.
 */

#ifndef NGX_HTTP_PROVISION_X_REDACT_HPP
#define NGX_HTTP_PROVISION_X_REDACT_HPP

#include "ngx_http_provision_x.hpp"

/* Masks every line of these logs (and the logs chained after them). */
ngx_int_t ngx_http_provision_x_redact_log(ngx_pool_t *pool,
                                          ngx_log_t *log) noexcept;

/*
 * The post-read phase handler: masks signature parameters in the request
 * line, for $request and the logs.
 */
ngx_int_t
ngx_http_provision_x_redact_request_line(ngx_http_request_t *r) noexcept;

#endif /* NGX_HTTP_PROVISION_X_REDACT_HPP */
