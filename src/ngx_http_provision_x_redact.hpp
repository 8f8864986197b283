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

/* $request masked: replaces the variable's handler (postconfiguration). */
ngx_int_t ngx_http_provision_x_redact_request_variable(ngx_conf_t *cf) noexcept;

#endif /* NGX_HTTP_PROVISION_X_REDACT_HPP */
