/*
 * Counters shared by all workers: one zone the module creates itself, so
 * every verification is counted without a directive.  Counters are plain
 * atomics (no lock on the request path); apps get a slot by name when a
 * configuration is loaded, so a reload that reorders or adds apps keeps
 * each app's history.
 */

#include "ngx_http_provision_x_metrics.hpp"

static ngx_str_t ngx_http_provision_x_metrics_name =
    ngx_string("provision_x_metrics");

ngx_http_provision_x_metrics_sh_t *ngx_http_provision_x_metrics;

/* A name's slot in one of the zone's name tables (apps, targets), taken
 * when a configuration is loaded, in the master: no lock. */
static ngx_uint_t
ngx_http_provision_x_metrics_slot(
    ngx_uint_t *n, u_char (*names)[NGX_HTTP_PROVISION_X_APP_NAME_MAX],
    size_t *lens, ngx_uint_t max, ngx_str_t *name) noexcept
{
    for (ngx_uint_t i = 1; i <= *n; i++) {
        if (lens[i] == name->len
            && ngx_memcmp(names[i], name->data, name->len) == 0) {
            return i;
        }
    }

    if (*n == max) {
        return 0;
    }

    ngx_uint_t i = *n + 1;

    /* the name first: a status page may read the table meanwhile */
    ngx_memcpy(names[i], name->data, name->len);
    lens[i] = name->len;
    *n = i;

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
        apps[i].metrics_slot = ngx_http_provision_x_metrics_slot(
            &sh->apps, sh->name, sh->name_len,
            NGX_HTTP_PROVISION_X_METRICS_APPS, &apps[i].name);
    }

    ngx_http_provision_x_metrics = sh;

    return NGX_OK;
}

ngx_int_t
ngx_http_provision_x_metrics_add_zone(
    ngx_conf_t *cf, ngx_http_provision_x_main_conf_t *pmcf) noexcept
{
    size_t size =
        ngx_align(sizeof(ngx_http_provision_x_metrics_sh_t), ngx_pagesize)
        + 8 * ngx_pagesize;

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
ngx_http_provision_x_metrics_verified(provision_x::dialect dialect,
                                      ngx_http_provision_x_app_t *app) noexcept
{
    if (ngx_http_provision_x_metrics == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_provision_x_metrics_app(app)
                                     ->verified[static_cast<size_t>(dialect)],
                                1);
}

void
ngx_http_provision_x_metrics_rejected(provision_x::dialect dialect,
                                      ngx_http_provision_x_app_t *app,
                                      provision_x::reason why) noexcept
{
    if (ngx_http_provision_x_metrics == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_provision_x_metrics_app(app)->rejected[static_cast<size_t>(
            dialect)][static_cast<ngx_uint_t>(why)],
        1);
}

static ngx_http_provision_x_cdr_counters_t *
ngx_http_provision_x_metrics_cdr_of(provision_x::dialect dialect,
                                    ngx_uint_t type) noexcept
{
    if (ngx_http_provision_x_metrics == NULL
        || static_cast<size_t>(dialect) >= provision_x::dialect_count
        || type >= NGX_HTTP_PROVISION_X_TYPE_SLOTS)
    {
        return NULL;
    }

    return &ngx_http_provision_x_metrics
                ->cdr[static_cast<size_t>(dialect)][type];
}

void
ngx_http_provision_x_metrics_cdr(provision_x::dialect dialect, ngx_uint_t type,
                                 ngx_uint_t records, ngx_uint_t duplicates,
                                 ngx_uint_t invalid) noexcept
{
    ngx_http_provision_x_cdr_counters_t *c =
        ngx_http_provision_x_metrics_cdr_of(dialect, type);

    if (c == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&c->pushes, 1);
    (void) ngx_atomic_fetch_add(&c->records, records);
    (void) ngx_atomic_fetch_add(&c->duplicates, duplicates);
    (void) ngx_atomic_fetch_add(&c->invalid, invalid);
}

void
ngx_http_provision_x_metrics_cdr_retry(provision_x::dialect dialect,
                                       ngx_uint_t type) noexcept
{
    ngx_http_provision_x_cdr_counters_t *c =
        ngx_http_provision_x_metrics_cdr_of(dialect, type);

    if (c != NULL) {
        (void) ngx_atomic_fetch_add(&c->retries, 1);
    }
}

void
ngx_http_provision_x_metrics_cdr_refused(provision_x::dialect dialect,
                                         ngx_uint_t type) noexcept
{
    ngx_http_provision_x_cdr_counters_t *c =
        ngx_http_provision_x_metrics_cdr_of(dialect, type);

    if (c != NULL) {
        (void) ngx_atomic_fetch_add(&c->refused, 1);
    }
}

/* In milliseconds: 1 ms to 2.5 s, dense around the 500 ms deadline. */
const ngx_msec_t
    ngx_http_provision_x_latency_bounds[NGX_HTTP_PROVISION_X_LATENCY_BOUNDS] = {
        1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

const char *const ngx_http_provision_x_sink_names[NGX_HTTP_PROVISION_X_SINKS] =
    {"queue", "forward", "redis"};

static void
ngx_http_provision_x_metrics_observe(ngx_http_provision_x_latency_t *h,
                                     ngx_msec_t elapsed) noexcept
{
    ngx_uint_t i = 0;

    while (i < NGX_HTTP_PROVISION_X_LATENCY_BOUNDS
           && elapsed > ngx_http_provision_x_latency_bounds[i])
    {
        i++;
    }

    (void) ngx_atomic_fetch_add(&h->bucket[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum_ms, elapsed);
}

void
ngx_http_provision_x_metrics_hand_off(provision_x::dialect dialect,
                                      ngx_uint_t type, ngx_uint_t sink,
                                      ngx_int_t status,
                                      ngx_msec_t elapsed) noexcept
{
    ngx_http_provision_x_cdr_counters_t *c =
        ngx_http_provision_x_metrics_cdr_of(dialect, type);

    if (c == NULL || sink >= NGX_HTTP_PROVISION_X_SINKS) {
        return;
    }

    ngx_http_provision_x_metrics_observe(
        &ngx_http_provision_x_metrics
             ->hand_off_latency[static_cast<size_t>(dialect)][sink],
        elapsed);

    ngx_int_t cls = status / 100 - 2;

    if (cls < 0 || cls >= NGX_HTTP_PROVISION_X_HAND_OFF_CLASSES) {
        cls = NGX_HTTP_PROVISION_X_HAND_OFF_5XX;
    }

    (void) ngx_atomic_fetch_add(&c->hand_off[cls], 1);
}

const ngx_str_t
    ngx_http_provision_x_cc_outcome_names[NGX_HTTP_PROVISION_X_CC_OUTCOMES] = {
        ngx_string("relayed"),          ngx_string("landline"),
        ngx_string("fallback_status"),  ngx_string("fallback_invalid"),
        ngx_string("fallback_timeout"), ngx_string("fallback_error"),
};

void
ngx_http_provision_x_metrics_call_control(
    provision_x::dialect dialect, ngx_http_provision_x_cc_outcome_e outcome,
    ngx_msec_t elapsed) noexcept
{
    if (ngx_http_provision_x_metrics == NULL
        || static_cast<size_t>(dialect) >= provision_x::dialect_count)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_provision_x_metrics
             ->call_control[static_cast<size_t>(dialect)][outcome],
        1);
    ngx_http_provision_x_metrics_observe(
        &ngx_http_provision_x_metrics
             ->call_control_latency[static_cast<size_t>(dialect)],
        elapsed);
}

void
ngx_http_provision_x_metrics_sms_control(
    ngx_http_provision_x_cc_outcome_e outcome, ngx_msec_t elapsed) noexcept
{
    if (ngx_http_provision_x_metrics == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_provision_x_metrics->sms_control[outcome], 1);
    ngx_http_provision_x_metrics_observe(
        &ngx_http_provision_x_metrics->sms_control_latency, elapsed);
}

ngx_uint_t
ngx_http_provision_x_metrics_target_slot(ngx_str_t *name) noexcept
{
    ngx_http_provision_x_metrics_sh_t *sh = ngx_http_provision_x_metrics;

    if (sh == NULL) {
        return 0;
    }

    return ngx_http_provision_x_metrics_slot(
        &sh->targets, sh->target_name, sh->target_name_len,
        NGX_HTTP_PROVISION_X_METRICS_TARGETS, name);
}

void
ngx_http_provision_x_metrics_interface(ngx_uint_t slot,
                                       ngx_uint_t outcome) noexcept
{
    if (ngx_http_provision_x_metrics == NULL
        || slot > NGX_HTTP_PROVISION_X_METRICS_TARGETS
        || outcome >= NGX_HTTP_PROVISION_X_INTERFACE_OUTCOMES)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(
        &ngx_http_provision_x_metrics->interface[slot][outcome], 1);
}
