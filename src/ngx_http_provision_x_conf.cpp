/*
 * What the four modules of the .so share at configuration time: reading
 * a dialect, the shared zones directives name, and registering variables.
 */

#include "ngx_http_provision_x_conf.hpp"

using provision_x::dialect;

char *
ngx_http_provision_x_conf_dialect(ngx_conf_t *cf, ngx_str_t *value,
                                  bool allow_off,
                                  provision_x::dialect *d) noexcept
{
    if (provision_x::dialect_from_name(provision_x::view(*value), d)
        && (allow_off || *d != dialect::off))
    {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       allow_off ? "invalid value \"%V\", expected \"off\", "
                                   "\"aliyun\" or \"huawei\""
                                 : "invalid value \"%V\", expected "
                                   "\"aliyun\" or \"huawei\"",
                       value);
    return NGX_HTTP_PROVISION_X_CONF_ERROR;
}

void
ngx_http_provision_x_merge_dialect(provision_x::dialect *conf,
                                   provision_x::dialect prev) noexcept
{
    if (*conf == NGX_HTTP_PROVISION_X_DIALECT_UNSET) {
        *conf =
            prev == NGX_HTTP_PROVISION_X_DIALECT_UNSET ? dialect::off : prev;
    }
}

/* "zone=NAME:SIZE" of the zone directives of the .so's modules */
ngx_int_t
ngx_http_provision_x_zone_arg(ngx_conf_t *cf, ngx_str_t *arg, ngx_str_t *name,
                              ssize_t *size) noexcept
{
    name->data = arg->data + 5;

    u_char *p = ngx_strlchr(name->data, arg->data + arg->len, ':');
    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone size \"%V\"",
                           arg);
        return NGX_ERROR;
    }

    name->len = p - name->data;

    ngx_str_t s;
    s.data = p + 1;
    s.len = arg->data + arg->len - s.data;

    *size = ngx_parse_size(&s);
    if (*size == NGX_ERROR || name->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone \"%V\"", arg);
        return NGX_ERROR;
    }

    if (*size < static_cast<ssize_t>(8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small, the minimum is %uzk", arg,
                           8 * ngx_pagesize / 1024);
        return NGX_ERROR;
    }

    return NGX_OK;
}

/*
 * A zone named by a directive may be defined further down the http block,
 * so its existence and kind are checked once the whole block has been
 * read (init_main_conf), with the naming line in each message.
 */
ngx_shm_zone_t *
ngx_http_provision_x_zone_refer(ngx_conf_t *cf, ngx_array_t *refs,
                                ngx_str_t *name, ngx_uint_t kind,
                                void *tag) noexcept
{
    ngx_shm_zone_t *shm_zone = ngx_shared_memory_add(cf, name, 0, tag);
    if (shm_zone == NULL) {
        return NULL;
    }

    auto *ref =
        static_cast<ngx_http_provision_x_zone_ref_t *>(ngx_array_push(refs));
    if (ref == NULL) {
        return NULL;
    }

    ref->shm_zone = shm_zone;
    ref->kind = kind;
    ref->directive = static_cast<ngx_str_t *>(cf->args->elts)[0];
    ref->file = cf->conf_file->file.name;
    ref->line = cf->conf_file->line;

    return shm_zone;
}

char *
ngx_http_provision_x_zone_refs_check(ngx_conf_t *cf, ngx_array_t *refs) noexcept
{
    static const char *kinds[] = {"", "nonce", "dedup", "queue"};
    auto *ref = static_cast<ngx_http_provision_x_zone_ref_t *>(refs->elts);

    for (ngx_uint_t i = 0; i < refs->nelts; i++) {
        auto *kind = static_cast<ngx_uint_t *>(ref[i].shm_zone->data);
        ngx_str_t *name = &ref[i].shm_zone->shm.name;

        if (kind == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%V\" names %s zone \"%V\", which is not "
                          "defined: add \"provision_x_%s_zone zone=%V:size\" "
                          "in %V:%ui",
                          &ref[i].directive, kinds[ref[i].kind], name,
                          kinds[ref[i].kind], name, &ref[i].file, ref[i].line);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }

        if (*kind != ref[i].kind) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%V\" names zone \"%V\", which is a %s zone, "
                          "not a %s zone, in %V:%ui",
                          &ref[i].directive, name, kinds[*kind],
                          kinds[ref[i].kind], &ref[i].file, ref[i].line);
            return NGX_HTTP_PROVISION_X_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}

/* Each of the .so's modules registers its own table of variables. */
ngx_int_t
ngx_http_provision_x_add_variable_table(ngx_conf_t *cf,
                                        ngx_http_variable_t *table) noexcept
{
    for (ngx_http_variable_t *v = table; v->name.len; v++) {
        ngx_http_variable_t *var =
            ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
