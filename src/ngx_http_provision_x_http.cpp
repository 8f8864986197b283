/*
 * HTTP output and input shared by every handler of the .so.
 */

#include "ngx_http_provision_x_http.hpp"

const ngx_str_t ngx_http_provision_x_platform_json_type =
    ngx_string("application/json;charset=UTF-8");
const ngx_str_t ngx_http_provision_x_json_type = ngx_string("application/json");
const ngx_str_t ngx_http_provision_x_ndjson_type =
    ngx_string("application/x-ndjson");

ngx_int_t
ngx_http_provision_x_push_header(ngx_http_request_t *r, ngx_str_t key,
                                 ngx_str_t value) noexcept
{
    auto *h =
        static_cast<ngx_table_elt_t *>(ngx_list_push(&r->headers_out.headers));
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->lowcase_key = static_cast<u_char *>(ngx_pnalloc(r->pool, key.len));
    if (h->lowcase_key == NULL) {
        h->hash = 0; /* nginx skips an entry without a hash */
        return NGX_ERROR;
    }

    ngx_strlow(h->lowcase_key, key.data, key.len);

    h->hash = 1;
    h->key = key;
    h->value = value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}

ngx_int_t
ngx_http_provision_x_send(ngx_http_request_t *r, ngx_uint_t status,
                          const ngx_str_t *type, ngx_chain_t *body) noexcept
{
    off_t len = 0;
    ngx_chain_t *last = NULL;

    for (ngx_chain_t *cl = body; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
        last = cl;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    if (type != NULL) {
        r->headers_out.content_type = *type;

        /*
         * The length of the type alone: with the whole length nginx would
         * append a configured charset after the one the type names.
         */
        u_char *semicolon =
            ngx_strlchr(type->data, type->data + type->len, ';');
        r->headers_out.content_type_len =
            semicolon ? semicolon - type->data : type->len;
        r->headers_out.content_type_lowcase = NULL;
    }

    ngx_int_t rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (last == NULL) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    last->buf->last_buf = (r == r->main) ? 1 : 0;
    last->buf->last_in_chain = 1;

    return ngx_http_output_filter(r, body);
}

ngx_int_t
ngx_http_provision_x_send_bytes(ngx_http_request_t *r, ngx_uint_t status,
                                const ngx_str_t *type, const u_char *data,
                                size_t len) noexcept
{
    if (len == 0) {
        return ngx_http_provision_x_send(r, status, type, NULL);
    }

    auto *b = static_cast<ngx_buf_t *>(ngx_calloc_buf(r->pool));
    auto *cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = const_cast<u_char *>(data);
    b->last = b->pos + len;
    b->memory = 1;

    cl->buf = b;
    cl->next = NULL;

    return ngx_http_provision_x_send(r, status, type, cl);
}

ngx_int_t
ngx_http_provision_x_no_store(ngx_http_request_t *r) noexcept
{
    return ngx_http_provision_x_push_header(r, ngx_string("Cache-Control"),
                                            ngx_string("no-store"));
}

static const char *
ngx_http_provision_x_status_text(ngx_uint_t status) noexcept
{
    switch (status) {
    case NGX_HTTP_OK:
        return "ok";
    case NGX_HTTP_BAD_REQUEST:
        return "bad request";
    case NGX_HTTP_UNAUTHORIZED:
        return "unauthorized";
    case NGX_HTTP_FORBIDDEN:
        return "forbidden";
    case NGX_HTTP_NOT_FOUND:
        return "not found";
    case NGX_HTTP_NOT_ALLOWED:
        return "method not allowed";
    case NGX_HTTP_CONFLICT:
        return "conflict";
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "payload too large";
    case NGX_HTTP_BAD_GATEWAY:
        return "bad gateway";
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return "service unavailable";
    case NGX_HTTP_GATEWAY_TIME_OUT:
        return "gateway timeout";
    default:
        return status >= 500 ? "internal server error" : "error";
    }
}

static u_char *
ngx_http_provision_x_json_string(u_char *p, const char *text,
                                 size_t len) noexcept
{
    *p++ = '"';
    p = reinterpret_cast<u_char *>(ngx_escape_json(
        p, reinterpret_cast<u_char *>(const_cast<char *>(text)), len));
    *p++ = '"';

    return p;
}

/* `error_code` NULL: a success carrying `data` */
static ngx_int_t
ngx_http_provision_x_envelope(ngx_http_request_t *r, ngx_uint_t status,
                              std::string_view data, const char *error_code,
                              const char *error_message) noexcept
{
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    const char *text = ngx_http_provision_x_status_text(status);
    size_t code_len = error_code ? ngx_strlen(error_code) : 0;
    size_t message_len = error_code ? ngx_strlen(error_message) : 0;

    /* worst case: every byte of the error escaped as \u00XX */
    size_t len = sizeof("{\"status_code\":,\"message\":\"\",\"data\":null,"
                        "\"error\":{\"code\":\"\",\"message\":\"\"}}\n")
                 + NGX_INT_T_LEN + ngx_strlen(text) + data.size()
                 + 6 * (code_len + message_len);

    ngx_buf_t *b = ngx_create_temp_buf(r->pool, len);
    auto *cl = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last,
                          "{\"status_code\":%ui,\"message\":\"%s\","
                          "\"data\":",
                          status, text);

    if (error_code == NULL) {
        b->last = ngx_cpymem(b->last, data.data(), data.size());
        b->last = ngx_cpymem(b->last, ",\"error\":null}\n", 15);

    } else {
        b->last = ngx_cpymem(b->last, "null,\"error\":{\"code\":", 21);
        b->last =
            ngx_http_provision_x_json_string(b->last, error_code, code_len);
        b->last = ngx_cpymem(b->last, ",\"message\":", 11);
        b->last = ngx_http_provision_x_json_string(b->last, error_message,
                                                   message_len);
        b->last = ngx_cpymem(b->last, "}}\n", 3);
    }

    if (ngx_http_provision_x_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_UNAUTHORIZED
        && ngx_http_provision_x_push_header(
               r, ngx_string("WWW-Authenticate"),
               ngx_string("Bearer realm=\"provision_x\""))
               != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_http_provision_x_push_header(r, ngx_string("Retry-After"),
                                            ngx_string("1"))
               != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    return ngx_http_provision_x_send(r, status, &ngx_http_provision_x_json_type,
                                     cl);
}

ngx_int_t
ngx_http_provision_x_send_envelope(ngx_http_request_t *r, ngx_uint_t status,
                                   std::string_view data) noexcept
{
    return ngx_http_provision_x_envelope(r, status, data, NULL, NULL);
}

ngx_int_t
ngx_http_provision_x_send_envelope_error(ngx_http_request_t *r,
                                         ngx_uint_t status, const char *code,
                                         const char *message) noexcept
{
    return ngx_http_provision_x_envelope(r, status, {}, code, message);
}

/*
 * The padded copy [p, last) stands for the body from now on: nginx's
 * buffers of it that are allocations of the pool's own are freed (not
 * header_in, which holds the start of a body sent with its headers), and
 * the request's chain becomes the copy ($request_body still reads it).
 */
static void
ngx_http_provision_x_body_replace(ngx_http_request_t *r, u_char *p,
                                  u_char *last) noexcept
{
    ngx_chain_t *chain = r->request_body->bufs;

    for (ngx_chain_t *cl = chain; cl; cl = cl->next) {
        if (!cl->buf->in_file) {
            ngx_pfree(r->pool, cl->buf->start);
        }
    }

    ngx_buf_t *b = chain->buf;

    ngx_memzero(b, sizeof(ngx_buf_t));
    b->start = p;
    b->pos = p;
    b->last = last;
    b->end = last;
    b->temporary = 1;
    b->last_buf = 1;
    chain->next = NULL;
}

/*
 * The body as one contiguous view: the buffer itself when nginx kept it in
 * one piece in memory and no padding is asked for, else a pool copy (a
 * temp file is read back).  A copy is followed by `padding` zero bytes,
 * and *padded says so: the CDR parser then reads it in place instead of
 * copying it once more; that copy takes the place of nginx's buffers in
 * the request, which are freed, so a push is never held twice.
 */
ngx_int_t
ngx_http_provision_x_body_view(ngx_http_request_t *r, size_t max,
                               size_t padding, std::string_view *body,
                               bool *padded) noexcept
{
    *body = std::string_view();

    if (padded != NULL) {
        *padded = false;
    }

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    size_t len = 0;
    ngx_chain_t *cl;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > max) {
        return NGX_DECLINED;
    }

    ngx_buf_t *first = r->request_body->bufs->buf;

    if (r->request_body->bufs->next == NULL && !first->in_file && padding == 0)
    {
        *body = std::string_view(reinterpret_cast<char *>(first->pos), len);
        return NGX_OK;
    }

    u_char *p = static_cast<u_char *>(ngx_pnalloc(r->pool, len + padding + 1));
    if (p == NULL) {
        return NGX_ERROR;
    }

    u_char *last = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        ngx_buf_t *b = cl->buf;

        if (!b->in_file) {
            last = ngx_cpymem(last, b->pos, b->last - b->pos);
            continue;
        }

        ssize_t n = ngx_read_file(b->file, last, b->file_last - b->file_pos,
                                  b->file_pos);
        if (n != b->file_last - b->file_pos) {
            return NGX_ERROR;
        }

        last += n;
    }

    ngx_memzero(last, padding);

    if (padding != 0) {
        ngx_http_provision_x_body_replace(r, p, last);
    }

    *body = std::string_view(reinterpret_cast<char *>(p), last - p);

    if (padded != NULL) {
        *padded = true;
    }

    return NGX_OK;
}
