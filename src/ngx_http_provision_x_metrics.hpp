/*
 * The counters zone: its layout, shared by the code that counts
 * (metrics.cpp) and the status endpoint that reports (status.cpp), and
 * the calls that count.  Plain data only: it lives in shared memory.
 */

#ifndef NGX_HTTP_PROVISION_X_METRICS_HPP
#define NGX_HTTP_PROVISION_X_METRICS_HPP

#include "ngx_http_provision_x_apps.hpp"

#include "core/cdr.hpp"
#include "core/interface.hpp"
#include "core/plain_data.hpp"
#include "core/reason.hpp"

#define NGX_HTTP_PROVISION_X_METRICS_APPS 64

/* How a call-control query was answered; $provision_x_call_control. */
enum ngx_http_provision_x_cc_outcome_e {
    NGX_HTTP_PROVISION_X_CC_RELAYED,
    NGX_HTTP_PROVISION_X_CC_LANDLINE,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_STATUS,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_INVALID,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_TIMEOUT,
    NGX_HTTP_PROVISION_X_CC_FALLBACK_ERROR,
    NGX_HTTP_PROVISION_X_CC_OUTCOMES
};

extern const ngx_str_t
    ngx_http_provision_x_cc_outcome_names[NGX_HTTP_PROVISION_X_CC_OUTCOMES];
#define NGX_HTTP_PROVISION_X_METRICS_TARGETS 64
#define NGX_HTTP_PROVISION_X_INTERFACE_OUTCOMES                                \
    provision_x::interface_outcome_count

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

/* The counters of one push type of one dialect (CDRs or an event). */
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
 * The counters' type index: a provision_x::push_type, or this one for a
 * push refused before its type was read at a location that takes several
 * (a body that is not JSON, an eventType it does not take).
 */
#define NGX_HTTP_PROVISION_X_TYPE_UNKNOWN provision_x::push_type_count
#define NGX_HTTP_PROVISION_X_TYPE_SLOTS (provision_x::push_type_count + 1)

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

/* The hand-off histograms' sink label: one per kind of CDR sink. */
enum ngx_http_provision_x_sink_e {
    NGX_HTTP_PROVISION_X_SINK_QUEUE,
    NGX_HTTP_PROVISION_X_SINK_FORWARD,
    NGX_HTTP_PROVISION_X_SINK_REDIS,
    NGX_HTTP_PROVISION_X_SINKS
};

extern const char
    *const ngx_http_provision_x_sink_names[NGX_HTTP_PROVISION_X_SINKS];

/* Slot 0 counts what no app could be named for (missing or bad auth). */
struct ngx_http_provision_x_metrics_sh_t {
    ngx_http_provision_x_cdr_counters_t cdr[provision_x::dialect_count]
                                           [NGX_HTTP_PROVISION_X_TYPE_SLOTS];
    ngx_atomic_t call_control[provision_x::dialect_count]
                             [NGX_HTTP_PROVISION_X_CC_OUTCOMES];
    /* Huawei SMS Block mode (provision_x_sms_control), by outcome */
    ngx_atomic_t sms_control[NGX_HTTP_PROVISION_X_CC_OUTCOMES];
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
    ngx_http_provision_x_latency_t sms_control_latency;

    /* interface calls by target (slot 0: no target known) and outcome */
    ngx_uint_t targets;
    u_char target_name[NGX_HTTP_PROVISION_X_METRICS_TARGETS + 1]
                      [NGX_HTTP_PROVISION_X_APP_NAME_MAX];
    size_t target_name_len[NGX_HTTP_PROVISION_X_METRICS_TARGETS + 1];
    ngx_atomic_t interface[NGX_HTTP_PROVISION_X_METRICS_TARGETS + 1]
                          [NGX_HTTP_PROVISION_X_INTERFACE_OUTCOMES];
};

/* NULL until the zone is initialised (and in processes without http) */
static_assert(provision_x::is_plain_data<ngx_http_provision_x_metrics_sh_t>);

extern ngx_http_provision_x_metrics_sh_t *ngx_http_provision_x_metrics;

ngx_int_t ngx_http_provision_x_metrics_add_zone(
    ngx_conf_t *cf, ngx_http_provision_x_main_conf_t *pmcf) noexcept;

void
ngx_http_provision_x_metrics_verified(provision_x::dialect dialect,
                                      ngx_http_provision_x_app_t *app) noexcept;
void ngx_http_provision_x_metrics_rejected(provision_x::dialect dialect,
                                           ngx_http_provision_x_app_t *app,
                                           provision_x::reason why) noexcept;
/* A push acknowledged after its hand-off; type: a TYPE index. */
void ngx_http_provision_x_metrics_cdr(provision_x::dialect dialect,
                                      ngx_uint_t type, ngx_uint_t records,
                                      ngx_uint_t duplicates,
                                      ngx_uint_t invalid) noexcept;
void ngx_http_provision_x_metrics_cdr_retry(provision_x::dialect dialect,
                                            ngx_uint_t type) noexcept;
void ngx_http_provision_x_metrics_cdr_refused(provision_x::dialect dialect,
                                              ngx_uint_t type) noexcept;
/* A hand-off the sink answered (or could not), and how long it took. */
void ngx_http_provision_x_metrics_hand_off(provision_x::dialect dialect,
                                           ngx_uint_t type, ngx_uint_t sink,
                                           ngx_int_t status,
                                           ngx_msec_t elapsed) noexcept;
/* A call-control answer, and how long the platform waited for it. */
void ngx_http_provision_x_metrics_call_control(
    provision_x::dialect dialect, ngx_http_provision_x_cc_outcome_e outcome,
    ngx_msec_t elapsed) noexcept;
/* The same for an SMS Block-mode answer (Huawei only). */
void ngx_http_provision_x_metrics_sms_control(
    ngx_http_provision_x_cc_outcome_e outcome, ngx_msec_t elapsed) noexcept;
/* An interface target's counters, by name (0: none left, or no zone). */
ngx_uint_t ngx_http_provision_x_metrics_target_slot(ngx_str_t *name) noexcept;
void ngx_http_provision_x_metrics_interface(ngx_uint_t slot,
                                            ngx_uint_t outcome) noexcept;

#endif /* NGX_HTTP_PROVISION_X_METRICS_HPP */
