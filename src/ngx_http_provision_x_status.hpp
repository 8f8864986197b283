/*
 * The status endpoint (provision_x_status): counters, queues and zones as
 * JSON or Prometheus text, behind API keys.
 */

#ifndef NGX_HTTP_PROVISION_X_STATUS_HPP
#define NGX_HTTP_PROVISION_X_STATUS_HPP

#include "ngx_http_provision_x.hpp"

char *ngx_http_provision_x_status(ngx_conf_t *cf, ngx_command_t *cmd,
                                  void *conf) noexcept;

/* The status page (ngx_http_provision_x_status_page.cpp): whether the
 * request asks for it, the page itself, and the Vary every answer has. */
bool ngx_http_provision_x_status_wants_page(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_status_page(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_status_vary(ngx_http_request_t *r) noexcept;

#endif /* NGX_HTTP_PROVISION_X_STATUS_HPP */
