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

#include "ngx_http_provision_x.hpp"
#include "ngx_http_provision_x_status_page.hpp"

#include "core/accept.hpp"

static ngx_int_t
ngx_http_provision_x_status_header(ngx_http_request_t *r, const char *key,
                                   const char *value) noexcept
{
    auto *h =
        static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = reinterpret_cast<u_char *>(const_cast<char *>(key));
    h->key.len = ngx_strlen(key);
    h->value.data = reinterpret_cast<u_char *>(const_cast<char *>(value));
    h->value.len = ngx_strlen(value);
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}

/* One representation per Accept: caches must not hand JSON to a browser. */
ngx_int_t
ngx_http_provision_x_status_vary(ngx_http_request_t *r) noexcept
{
    return ngx_http_provision_x_status_header(r, "Vary", "Accept");
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

    return html > 0 &&
           html > provision_x::accept_quality(value, "application/json") &&
           html > provision_x::accept_quality(value, "text/plain");
}

ngx_int_t
ngx_http_provision_x_status_page(ngx_http_request_t *r) noexcept
{
    static const struct {
        const char *key;
        const char *value;
    } headers[] = {
        {"Content-Security-Policy", ngx_http_provision_x_status_page_csp},
        {"X-Content-Type-Options", "nosniff"},
        {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-store"},
        {"Vary", "Accept"},
    };

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (const auto &h : headers) {
        if (ngx_http_provision_x_status_header(r, h.key, h.value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    size_t len = sizeof(ngx_http_provision_x_status_page_html) - 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/html") - 1;
    r->headers_out.content_type_lowcase = NULL;

    ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    auto *b = static_cast<ngx_buf_t *>(ngx_calloc_buf(r->pool));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = reinterpret_cast<u_char *>(
        const_cast<char *>(ngx_http_provision_x_status_page_html));
    b->last = b->pos + len;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    ngx_chain_t out = {b, NULL};

    return ngx_http_output_filter(r, &out);
}
