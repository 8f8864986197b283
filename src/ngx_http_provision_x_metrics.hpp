/*
 * The layout of the counters zone, shared by the code that counts
 * (metrics.cpp) and the status endpoint that reports (status.cpp).
 * Plain data only: it lives in shared memory.
 */

#ifndef NGX_HTTP_PROVISION_X_METRICS_HPP
#define NGX_HTTP_PROVISION_X_METRICS_HPP

#include "ngx_http_provision_x.hpp"

#define NGX_HTTP_PROVISION_X_METRICS_APPS 64

struct ngx_http_provision_x_app_counters_t {
    ngx_atomic_t verified[provision_x::dialect_count];
    ngx_atomic_t rejected[provision_x::dialect_count]
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

/*
 * A latency histogram: fixed buckets around call control's 500 ms
 * deadline, counted without a lock.  bucket[i] counts the observations of
 * at most ngx_http_provision_x_latency_bounds[i] ms not counted by a lower
 * bucket; the last one those above every bound (Prometheus' +Inf).
 * The exposition makes them cumulative.
 */
#define NGX_HTTP_PROVISION_X_LATENCY_BOUNDS 10

struct ngx_http_provision_x_latency_t {
    ngx_atomic_t bucket[NGX_HTTP_PROVISION_X_LATENCY_BOUNDS + 1];
    ngx_atomic_t sum_ms;
};

extern const ngx_msec_t
    ngx_http_provision_x_latency_bounds[NGX_HTTP_PROVISION_X_LATENCY_BOUNDS];

/* Slot 0 counts what no app could be named for (missing or bad auth). */
struct ngx_http_provision_x_metrics_sh_t {
    ngx_http_provision_x_cdr_counters_t cdr[provision_x::dialect_count];
    ngx_atomic_t call_control[provision_x::dialect_count]
                             [NGX_HTTP_PROVISION_X_CC_OUTCOMES];
    ngx_uint_t apps;
    u_char name[NGX_HTTP_PROVISION_X_METRICS_APPS + 1]
               [NGX_HTTP_PROVISION_X_APP_NAME_MAX];
    size_t name_len[NGX_HTTP_PROVISION_X_METRICS_APPS + 1];
    ngx_http_provision_x_app_counters_t
        app[NGX_HTTP_PROVISION_X_METRICS_APPS + 1];
    /* from the start of a hand-off to the sink's answer */
    ngx_http_provision_x_latency_t hand_off_latency[provision_x::dialect_count]
                                                   [NGX_HTTP_PROVISION_X_SINKS];
    /* from the query's arrival to the answer, relayed or the gateway's */
    ngx_http_provision_x_latency_t
        call_control_latency[provision_x::dialect_count];
};

/* NULL until the zone is initialised (and in processes without http) */
extern ngx_http_provision_x_metrics_sh_t *ngx_http_provision_x_metrics;

#endif /* NGX_HTTP_PROVISION_X_METRICS_HPP */
