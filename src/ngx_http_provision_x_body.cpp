/*
 * Request bodies as one contiguous view, whether nginx kept them in memory
 * or spilled them to a temp file; the body itself is left untouched for
 * whatever handles the request next.
 */

#include "ngx_http_provision_x.hpp"

/*
 * The body as one contiguous view: the buffer itself when nginx kept it in
 * one piece in memory, else a pool copy (a temp file is read back).  A
 * copy is followed by `padding` zero bytes, and *padded says so: the CDR
 * parser then reads it in place instead of copying it once more.
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

    if (r->request_body->bufs->next == NULL && !first->in_file) {
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

    *body = std::string_view(reinterpret_cast<char *>(p), last - p);

    if (padded != NULL) {
        *padded = true;
    }

    return NGX_OK;
}
