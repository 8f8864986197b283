/*
 * The layout of the counters zone, shared by the code that counts
 * (metrics.cpp) and the status endpoint that reports (status.cpp).
 * Plain data only: it lives in shared memory.
 */

#ifndef NGX_HTTP_PROVISION_X_METRICS_HPP
#define NGX_HTTP_PROVISION_X_METRICS_HPP

#include "ngx_http_provision_x.hpp"

#include "core/interface.hpp"

#define NGX_HTTP_PROVISION_X_METRICS_APPS 64
#define NGX_HTTP_PROVISION_X_METRICS_TARGETS 64
#define NGX_HTTP_PROVISION_X_INTERFACE_OUTCOMES                                \
    provision_x::interface_outcome_count
#define NGX_HTTP_PROVISION_X_DIALECTS 3

struct ngx_http_provision_x_app_counters_t {
    ngx_atomic_t verified[NGX_HTTP_PROVISION_X_DIALECTS];
    ngx_atomic_t rejected[NGX_HTTP_PROVISION_X_DIALECTS]
                         [provision_x::reason_count];
};

enum ngx_http_provision_x_hand_off_e {
    NGX_HTTP_PROVISION_X_HAND_OFF_2XX,
    NGX_HTTP_PROVISION_X_HAND_OFF_3XX,
    NGX_HTTP_PROVISION_X_HAND_OFF_4XX,
    NGX_HTTP_PROVISION_X_HAND_OFF_5XX,
    NGX_HTTP_PROVISION_X_HAND_OFF_CLASSES
};

struct ngx_http_provision_x_cdr_counters_t {
    ngx_atomic_t pushes;     /* acknowledged after a hand-off */
    ngx_atomic_t retries;    /* identical bodies acknowledged by digest */
    ngx_atomic_t refused;    /* answered 4xx: envelope or invalid record */
    ngx_atomic_t records;    /* new records handed off */
    ngx_atomic_t duplicates; /* records dropped as already handed off */
    ngx_atomic_t invalid;    /* records dead-lettered */
    ngx_atomic_t hand_off[NGX_HTTP_PROVISION_X_HAND_OFF_CLASSES];
};

/* Slot 0 counts what no app could be named for (missing or bad auth). */
struct ngx_http_provision_x_metrics_sh_t {
    ngx_http_provision_x_cdr_counters_t cdr[NGX_HTTP_PROVISION_X_DIALECTS];
    ngx_atomic_t call_control[NGX_HTTP_PROVISION_X_DIALECTS]
                             [NGX_HTTP_PROVISION_X_CC_OUTCOMES];
    ngx_uint_t apps;
    u_char name[NGX_HTTP_PROVISION_X_METRICS_APPS + 1]
               [NGX_HTTP_PROVISION_X_APP_NAME_MAX];
    size_t name_len[NGX_HTTP_PROVISION_X_METRICS_APPS + 1];
    ngx_http_provision_x_app_counters_t
        app[NGX_HTTP_PROVISION_X_METRICS_APPS + 1];

    /* interface calls by target (slot 0: no target known) and outcome */
    ngx_uint_t targets;
    u_char target_name[NGX_HTTP_PROVISION_X_METRICS_TARGETS + 1]
                      [NGX_HTTP_PROVISION_X_APP_NAME_MAX];
    size_t target_name_len[NGX_HTTP_PROVISION_X_METRICS_TARGETS + 1];
    ngx_atomic_t interface[NGX_HTTP_PROVISION_X_METRICS_TARGETS + 1]
                          [NGX_HTTP_PROVISION_X_INTERFACE_OUTCOMES];
};

/* NULL until the zone is initialised (and in processes without http) */
extern ngx_http_provision_x_metrics_sh_t *ngx_http_provision_x_metrics;

/* An interface target's counters, by name (0: none left, or no zone). */
ngx_uint_t ngx_http_provision_x_metrics_target_slot(ngx_str_t *name) noexcept;
void ngx_http_provision_x_metrics_interface(ngx_uint_t slot,
                                            ngx_uint_t outcome) noexcept;

#endif /* NGX_HTTP_PROVISION_X_METRICS_HPP */
