/*
 * The status page: provision_x_status answers a browser (an Accept that
 * prefers text/html to JSON and text/plain, or ?format=html) with one
 * self-contained HTML page that polls the location's JSON and draws it.
 *
 * The page is the same static text for everyone and holds no data and no
 * key, so it is served without one: a browser cannot put an Authorization
 * header on a navigation.  The user gives the key to the page (a form, or
 * the URL fragment, which browsers never send); the page keeps it in the
 * tab's sessionStorage and polls with "Authorization: Bearer", so the
 * numbers stay behind the same keys as before and no key reaches a URL
 * query or a log.  Its Content-Security-Policy allows its own inline
 * style and script by hash, connections to this server only, and no
 * framing or form submission.
 */

#include "ngx_http_provision_x_http.hpp"
#include "ngx_http_provision_x_status.hpp"
#include "ngx_http_provision_x_status_page.hpp"

#include "core/accept.hpp"

/* One representation per Accept: caches must not hand JSON to a browser. */
ngx_int_t
ngx_http_provision_x_status_vary(ngx_http_request_t *r) noexcept
{
    return ngx_http_provision_x_push_header(r, ngx_string("Vary"),
                                            ngx_string("Accept"));
}

bool
ngx_http_provision_x_status_wants_page(ngx_http_request_t *r) noexcept
{
    ngx_str_t format;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {
        return format.len == 4 && ngx_strncmp(format.data, "html", 4) == 0;
    }

    ngx_table_elt_t *accept = r->headers_in.accept;

    if (accept == NULL) {
        return false;
    }

    std::string_view value = provision_x::view(accept->value);
    unsigned html = provision_x::accept_quality(value, "text/html");

    return html > 0
           && html > provision_x::accept_quality(value, "application/json")
           && html > provision_x::accept_quality(value, "text/plain");
}

ngx_int_t
ngx_http_provision_x_status_page(ngx_http_request_t *r) noexcept
{
    static const ngx_str_t html = ngx_string("text/html; charset=utf-8");
    static const struct {
        ngx_str_t key;
        ngx_str_t value;
    } headers[] = {
        {ngx_string("Content-Security-Policy"),
         ngx_string(ngx_http_provision_x_status_page_csp)},
        {ngx_string("X-Content-Type-Options"), ngx_string("nosniff")},
        {ngx_string("Referrer-Policy"), ngx_string("no-referrer")},
        {ngx_string("Cache-Control"), ngx_string("no-store")},
        {ngx_string("Vary"), ngx_string("Accept")},
    };

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (const auto &h : headers) {
        if (ngx_http_provision_x_push_header(r, h.key, h.value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_provision_x_send_bytes(
        r, NGX_HTTP_OK, &html,
        reinterpret_cast<const u_char *>(ngx_http_provision_x_status_page_html),
        sizeof(ngx_http_provision_x_status_page_html) - 1);
}
