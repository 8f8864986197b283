/*
 * Verification in the rewrite and access phases (provision_x_verify): the
 * request ctx that carries the verdict through redirects and on to the
 * content handlers, and the refusal in the dialect's own shape.
 */

#ifndef NGX_HTTP_PROVISION_X_ACCESS_HPP
#define NGX_HTTP_PROVISION_X_ACCESS_HPP

#include "ngx_http_provision_x_module.hpp"

#include "core/reason.hpp"

struct ngx_http_provision_x_app_t;
struct ngx_http_provision_x_cdr_t;

/* ctx->created */
#define NGX_HTTP_PROVISION_X_CREATED_UTC 1
#define NGX_HTTP_PROVISION_X_CREATED_BEIJING 2

struct ngx_http_provision_x_ctx_t {
    provision_x::dialect dialect; /* what the access phase verified */
    ngx_http_provision_x_app_t *app;
    ngx_uint_t reason; /* provision_x::reason */
    ngx_int_t status;  /* the access verdict, for re-entry */
    ngx_http_provision_x_loc_conf_t *verified_by; /* where it was reached */
    ngx_http_provision_x_cdr_t *cdr;
    unsigned waiting_body : 1;
    unsigned body_read : 1;
    unsigned verified : 1;
    unsigned passed : 1;  /* the request did verify */
    unsigned debug : 1;   /* the verdict came from a debug-mode location */
    unsigned created : 2; /* Huawei Created read as: 1 UTC, 2 Beijing time */
};

/* The request's ctx, also after an internal redirect; NULL: none yet. */
ngx_http_provision_x_ctx_t *
ngx_http_provision_x_get_ctx(ngx_http_request_t *r) noexcept;
ngx_http_provision_x_ctx_t *
ngx_http_provision_x_ensure_ctx(ngx_http_request_t *r) noexcept;

ngx_int_t ngx_http_provision_x_access_handler(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_access_init_process(ngx_cycle_t *cycle) noexcept;
void ngx_http_provision_x_access_exit_process(ngx_cycle_t *cycle) noexcept;

/* How a refusal is answered: the reason, and the platform's own code and
 * text for this very cause when it has one ("" : the reason's). */
struct ngx_http_provision_x_refusal_t {
    provision_x::reason why;
    const char *detail; /* for the log line, or NULL */
    std::string_view code;
    std::string_view message;
};

ngx_int_t ngx_http_provision_x_reject(
    ngx_http_request_t *r, ngx_http_provision_x_ctx_t *ctx,
    const ngx_http_provision_x_refusal_t *refusal) noexcept;

/* The header filter that reports would-be refusals in debug mode. */
ngx_int_t ngx_http_provision_x_reject_init(ngx_conf_t *cf) noexcept;

#endif /* NGX_HTTP_PROVISION_X_ACCESS_HPP */
