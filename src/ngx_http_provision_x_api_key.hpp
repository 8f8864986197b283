/*
 * Bearer API keys ("provision_x_api_key file ...", a queue-module
 * directive usable in any location): the gateway's own APIs (the consumer
 * API, the status endpoint) check them before anything else.
 */

#ifndef NGX_HTTP_PROVISION_X_API_KEY_HPP
#define NGX_HTTP_PROVISION_X_API_KEY_HPP

#include "ngx_http_provision_x.hpp"

/*
 * NGX_OK when the request carries one of the keys configured for its
 * location, else NGX_DECLINED.  A location without keys never passes:
 * the APIs expose personal data and fail closed.
 */
ngx_int_t ngx_http_provision_x_api_key_check(ngx_http_request_t *r) noexcept;

/* This location's directive (cf->args[0]) runs only with API keys: nginx
 * -t says so when none are configured. */
void ngx_http_provision_x_api_keys_needed(ngx_conf_t *cf) noexcept;

#endif /* NGX_HTTP_PROVISION_X_API_KEY_HPP */
