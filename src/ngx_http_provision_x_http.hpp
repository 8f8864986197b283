/*
 * HTTP output and input shared by every handler of the .so: one way to
 * push a header, to send a response, to write the consumer API's
 * envelope, and to see a request body whole.
 */

#ifndef NGX_HTTP_PROVISION_X_HTTP_HPP
#define NGX_HTTP_PROVISION_X_HTTP_HPP

#include "ngx_http_provision_x.hpp"

#include <string_view>

/*
 * Platform-facing answers (verdicts, CDR acknowledgements, call control)
 * use the spelling the platforms document; the gateway's own APIs (queue
 * consumers, status) use RFC 8259's, which defines no charset parameter.
 */
extern const ngx_str_t ngx_http_provision_x_platform_json_type;
extern const ngx_str_t ngx_http_provision_x_json_type;
extern const ngx_str_t ngx_http_provision_x_ndjson_type;

/*
 * Adds a response header, every field set: nginx 1.23 added "next", which
 * header filters follow.  Key and value must live as long as the request.
 */
ngx_int_t ngx_http_provision_x_push_header(ngx_http_request_t *r, ngx_str_t key,
                                           ngx_str_t value) noexcept;

/*
 * Sends a whole response: the status, the content type, and `body` (NULL
 * or an empty chain: no body).  Headers other than the content type are
 * pushed by the caller first.  Returns what a content handler returns.
 */
ngx_int_t ngx_http_provision_x_send(ngx_http_request_t *r, ngx_uint_t status,
                                    const ngx_str_t *type,
                                    ngx_chain_t *body) noexcept;

/* The same for a body in one piece of memory that outlives the request. */
ngx_int_t ngx_http_provision_x_send_bytes(ngx_http_request_t *r,
                                          ngx_uint_t status,
                                          const ngx_str_t *type,
                                          const u_char *data,
                                          size_t len) noexcept;

/*
 * The gateway's API envelope (the consumer API, the status endpoint):
 *   {"status_code":N,"message":"<status text>","data":<data>,"error":null}
 * where `data` is JSON the caller has written, or, for an error,
 *   {"status_code":N,"message":...,"data":null,"error":{"code":...,
 *    "message":...}}
 * A 401 names the scheme it wants (RFC 6750), a 503 says when to come
 * back.  Nothing may be cached on the way: the answers hold personal data.
 */
ngx_int_t ngx_http_provision_x_send_envelope(ngx_http_request_t *r,
                                             ngx_uint_t status,
                                             std::string_view data) noexcept;
ngx_int_t
ngx_http_provision_x_send_envelope_error(ngx_http_request_t *r,
                                         ngx_uint_t status, const char *code,
                                         const char *message) noexcept;

/* "Cache-Control: no-store" */
ngx_int_t ngx_http_provision_x_no_store(ngx_http_request_t *r) noexcept;

/*
 * The request body as one contiguous view, whether nginx kept it in
 * memory or spilled it to a temp file; the body itself is left untouched
 * for whatever handles the request next.  NGX_OK, NGX_DECLINED when over
 * max, NGX_ERROR.
 */
ngx_int_t ngx_http_provision_x_body_view(ngx_http_request_t *r, size_t max,
                                         size_t padding, std::string_view *body,
                                         bool *padded) noexcept;

#endif /* NGX_HTTP_PROVISION_X_HTTP_HPP */
