/*
 * What the four modules of the .so share at configuration time: reading
 * a dialect, the shared zones directives name, and registering variables.
 */

#ifndef NGX_HTTP_PROVISION_X_CONF_HPP
#define NGX_HTTP_PROVISION_X_CONF_HPP

#include "ngx_http_provision_x.hpp"

#include "core/dialect.hpp"

/* A dialect directive not given at this level: the merge inherits. */
constexpr auto NGX_HTTP_PROVISION_X_DIALECT_UNSET =
    static_cast<provision_x::dialect>(0xff);

/*
 * The dialect *value names, "off" only where allowed; the error is logged
 * here.  NGX_CONF_OK or NGX_CONF_ERROR.
 */
char *ngx_http_provision_x_conf_dialect(ngx_conf_t *cf, ngx_str_t *value,
                                        bool allow_off,
                                        provision_x::dialect *d) noexcept;

/* Inherits an unset dialect, "off" at the top. */
void ngx_http_provision_x_merge_dialect(provision_x::dialect *conf,
                                        provision_x::dialect prev) noexcept;

/* Every shared zone of the .so starts with its kind, so a directive that
 * names a zone can tell a nonce zone from a queue zone. */
enum ngx_http_provision_x_zone_kind_e {
    NGX_HTTP_PROVISION_X_ZONE_NONCE = 1,
    NGX_HTTP_PROVISION_X_ZONE_DEDUP,
    NGX_HTTP_PROVISION_X_ZONE_QUEUE,
};

/* A zone named by a directive, checked once the http block is read (it
 * may be defined further down); errors point at the naming line. */
struct ngx_http_provision_x_zone_ref_t {
    ngx_shm_zone_t *shm_zone;
    ngx_uint_t kind;
    ngx_str_t directive;
    ngx_str_t file;
    ngx_uint_t line;
};

/* "zone=NAME:SIZE", checked the way limit_req checks it */
ngx_int_t ngx_http_provision_x_zone_arg(ngx_conf_t *cf, ngx_str_t *arg,
                                        ngx_str_t *name,
                                        ssize_t *size) noexcept;

/* The zone `name` of module `tag`, to be of `kind` once the http block
 * is read; remembered in `refs` (of ngx_http_provision_x_zone_ref_t). */
ngx_shm_zone_t *ngx_http_provision_x_zone_refer(ngx_conf_t *cf,
                                                ngx_array_t *refs,
                                                ngx_str_t *name,
                                                ngx_uint_t kind,
                                                void *tag) noexcept;
char *ngx_http_provision_x_zone_refs_check(ngx_conf_t *cf,
                                           ngx_array_t *refs) noexcept;

/* The shared memory zones of one module (tag) in a cycle, in order. */
struct ngx_http_provision_x_zone_iter_t {
    ngx_list_part_t *part;
    ngx_uint_t next;
    void *tag;
};

void ngx_http_provision_x_zones_begin(ngx_http_provision_x_zone_iter_t *it,
                                      ngx_cycle_t *cycle, void *tag) noexcept;
ngx_shm_zone_t *
ngx_http_provision_x_zones_next(ngx_http_provision_x_zone_iter_t *it) noexcept;

/* Adds a module's variables; the table ends with ngx_http_null_variable. */
ngx_int_t
ngx_http_provision_x_add_variable_table(ngx_conf_t *cf,
                                        ngx_http_variable_t *table) noexcept;

#endif /* NGX_HTTP_PROVISION_X_CONF_HPP */
