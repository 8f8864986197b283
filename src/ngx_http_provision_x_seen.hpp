/*
 * The nonce and dedup zones: a provision_x::seen_header table in shared
 * memory, behind the slab pool's mutex, with nginx's zone lifecycle.
 */

#ifndef NGX_HTTP_PROVISION_X_SEEN_HPP
#define NGX_HTTP_PROVISION_X_SEEN_HPP

#include "ngx_http_provision_x_module.hpp"

#include "core/seen_table.hpp"

struct ngx_http_provision_x_seen_ctx_t {
    ngx_uint_t kind; /* first, as in every zone of the module */
    ngx_shm_zone_t *shm_zone;
    ngx_slab_pool_t *shpool;
    provision_x::seen_header *sh;
    time_t ttl;                  /* dedup: how long a key is remembered */
    ngx_uint_t max_share;        /* percent of the slots one app may hold */
    ngx_slab_pool_t *old_shpool; /* the zone a resize replaced */
    provision_x::seen_header *old_sh;
    unsigned committed : 1;
};

enum ngx_http_provision_x_seen_rc_e {
    NGX_HTTP_PROVISION_X_SEEN_ADDED,
    NGX_HTTP_PROVISION_X_SEEN_PRESENT,
    NGX_HTTP_PROVISION_X_SEEN_FULL,
    NGX_HTTP_PROVISION_X_SEEN_OVER_SHARE,
    NGX_HTTP_PROVISION_X_SEEN_RETIRED,
};

/* provision_x_nonce_zone / provision_x_dedup_zone: all their parameters */
char *ngx_http_provision_x_seen_zone(ngx_conf_t *cf, ngx_uint_t kind) noexcept;

/* The new cycle runs: a zone it resized stays retired. */
void ngx_http_provision_x_seen_commit(ngx_cycle_t *cycle) noexcept;

ngx_http_provision_x_seen_rc_e
ngx_http_provision_x_seen_add(ngx_http_provision_x_seen_ctx_t *ctx,
                              const u_char *digest, time_t expire,
                              ngx_uint_t owner, ngx_log_t *log) noexcept;

/* All n or as many as fit; the worst outcome is returned. */
ngx_http_provision_x_seen_rc_e ngx_http_provision_x_seen_add_all(
    ngx_http_provision_x_seen_ctx_t *ctx,
    const u_char (*digests)[NGX_HTTP_PROVISION_X_DIGEST_LEN], ngx_uint_t n,
    time_t expire, ngx_uint_t owner, ngx_log_t *log) noexcept;

ngx_uint_t
ngx_http_provision_x_seen_contains(ngx_http_provision_x_seen_ctx_t *ctx,
                                   const u_char *digest) noexcept;

/*
 * known[i] = whether the zone holds the i-th of n digests, which lie
 * `stride` bytes apart from `first` on: under one lock, every bucket
 * prefetched before it.
 */
void
ngx_http_provision_x_seen_contains_each(ngx_http_provision_x_seen_ctx_t *ctx,
                                        const u_char *first, size_t stride,
                                        ngx_uint_t n, u_char *known) noexcept;

void ngx_http_provision_x_seen_stats(ngx_http_provision_x_seen_ctx_t *ctx,
                                     provision_x::seen_stats *st) noexcept;

#endif /* NGX_HTTP_PROVISION_X_SEEN_HPP */
