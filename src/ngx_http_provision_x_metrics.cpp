/*
 * Counters shared by all workers: one zone the module creates itself, so
 * every verification is counted without a directive.  Counters are plain
 * atomics (no lock on the request path); apps get a slot by name when a
 * configuration is loaded, so a reload that reorders or adds apps keeps
 * each app's history.
 */

#include "ngx_http_provision_x.hpp"

#define NGX_HTTP_PROVISION_X_METRICS_APPS 64
#define NGX_HTTP_PROVISION_X_DIALECTS 3

struct ngx_http_provision_x_app_counters_t {
    ngx_atomic_t verified[NGX_HTTP_PROVISION_X_DIALECTS];
    ngx_atomic_t rejected[NGX_HTTP_PROVISION_X_DIALECTS]
                         [provision_x::reason_count];
};

/* Slot 0 counts what no app could be named for (missing or bad auth). */
struct ngx_http_provision_x_metrics_sh_t {
    ngx_uint_t apps;
    u_char name[NGX_HTTP_PROVISION_X_METRICS_APPS + 1]
               [NGX_HTTP_PROVISION_X_APP_NAME_MAX];
    size_t name_len[NGX_HTTP_PROVISION_X_METRICS_APPS + 1];
    ngx_http_provision_x_app_counters_t
        app[NGX_HTTP_PROVISION_X_METRICS_APPS + 1];
};

static ngx_str_t ngx_http_provision_x_metrics_name =
    ngx_string("provision_x_metrics");

static ngx_http_provision_x_metrics_sh_t *ngx_http_provision_x_metrics;

static ngx_uint_t
ngx_http_provision_x_metrics_slot(ngx_http_provision_x_metrics_sh_t *sh,
                                  ngx_str_t *name) noexcept
{
    for (ngx_uint_t i = 1; i <= sh->apps; i++) {
        if (sh->name_len[i] == name->len &&
            ngx_memcmp(sh->name[i], name->data, name->len) == 0) {
            return i;
        }
    }

    if (sh->apps == NGX_HTTP_PROVISION_X_METRICS_APPS) {
        return 0;
    }

    ngx_uint_t i = ++sh->apps;

    ngx_memcpy(sh->name[i], name->data, name->len);
    sh->name_len[i] = name->len;

    return i;
}

static ngx_int_t
ngx_http_provision_x_metrics_init_zone(ngx_shm_zone_t *shm_zone,
                                       void *data) noexcept
{
    auto *pmcf =
        static_cast<ngx_http_provision_x_main_conf_t *>(shm_zone->data);
    auto *shpool = reinterpret_cast<ngx_slab_pool_t *>(shm_zone->shm.addr);
    ngx_http_provision_x_metrics_sh_t *sh;

    if (data != NULL || shm_zone->shm.exists) {
        sh = static_cast<ngx_http_provision_x_metrics_sh_t *>(shpool->data);

    } else {
        sh = static_cast<ngx_http_provision_x_metrics_sh_t *>(
            ngx_slab_calloc(shpool, sizeof(ngx_http_provision_x_metrics_sh_t)));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = sh;
    }

    /* runs in the master before workers fork: no lock needed */
    auto *apps = static_cast<ngx_http_provision_x_app_t *>(pmcf->apps.elts);

    for (ngx_uint_t i = 0; i < pmcf->apps.nelts; i++) {
        apps[i].metrics_slot =
            ngx_http_provision_x_metrics_slot(sh, &apps[i].name);
    }

    ngx_http_provision_x_metrics = sh;

    return NGX_OK;
}

ngx_int_t
ngx_http_provision_x_metrics_add_zone(
    ngx_conf_t *cf, ngx_http_provision_x_main_conf_t *pmcf) noexcept
{
    size_t size =
        ngx_align(sizeof(ngx_http_provision_x_metrics_sh_t), ngx_pagesize) +
        8 * ngx_pagesize;

    ngx_shm_zone_t *shm_zone =
        ngx_shared_memory_add(cf, &ngx_http_provision_x_metrics_name, size,
                              &ngx_http_provision_x_metrics_name);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_provision_x_metrics_init_zone;
    shm_zone->data = pmcf;

    return NGX_OK;
}

static ngx_http_provision_x_app_counters_t *
ngx_http_provision_x_metrics_app(ngx_http_provision_x_app_t *app) noexcept
{
    return &ngx_http_provision_x_metrics->app[app ? app->metrics_slot : 0];
}

void
ngx_http_provision_x_metrics_verified(ngx_uint_t dialect,
                                      ngx_http_provision_x_app_t *app) noexcept
{
    if (ngx_http_provision_x_metrics == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_provision_x_metrics_app(app)->verified[dialect], 1);
}

void
ngx_http_provision_x_metrics_rejected(ngx_uint_t dialect,
                                      ngx_http_provision_x_app_t *app,
                                      provision_x::reason why) noexcept
{
    if (ngx_http_provision_x_metrics == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_provision_x_metrics_app(app)
             ->rejected[dialect][static_cast<ngx_uint_t>(why)],
        1);
}
