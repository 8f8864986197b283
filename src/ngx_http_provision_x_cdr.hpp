/*
 * The push receiver (provision_x_receive; provision_x_cdr is its CDR
 * form) and its sinks.  The handler parses a push of any type the
 * location takes (CDRs, call events, number status, SMS notifications,
 * Aliyun's receipts), keeps its new records and hands them to the one
 * sink its location names: the shared-memory queue (queue=), an internal
 * location that proxies them (forward=) or a Redis stream (redis=).  The
 * sinks see NDJSON lines, whatever their type.  Each sink is a
 * descriptor; what a sink needs beyond the push it keeps in sink_ctx.
 */

#ifndef NGX_HTTP_PROVISION_X_CDR_HPP
#define NGX_HTTP_PROVISION_X_CDR_HPP

#include "ngx_http_provision_x_metrics.hpp"
#include "ngx_http_provision_x_module.hpp"

#include "core/cdr.hpp"

/* One push on its way through the handler. */
struct ngx_http_provision_x_cdr_t {
    provision_x::cdr_push *push;
    /* its counters' type index (NGX_HTTP_PROVISION_X_TYPE_UNKNOWN until
     * the parse, or an identical retry, told it) */
    ngx_uint_t type;
    provision_x::cdr_line_meta meta;
    /* the new records' NDJSON lines, in pieces: their heads in the pool,
     * their records in the request's padded copy of the body */
    provision_x::cdr_line_pieces *lines;
    u_char (*keys)[NGX_HTTP_PROVISION_X_DIGEST_LEN];
    const provision_x::cdr_record **records; /* the new records */
    ngx_uint_t fresh;
    ngx_uint_t known; /* of the fresh: already in a shared sink (Redis) */
    ngx_uint_t duplicates;
    ngx_uint_t invalid;
    u_char body_digest[NGX_HTTP_PROVISION_X_DIGEST_LEN];
    ngx_msec_t hand_off_start; /* ngx_current_msec, for the histogram */
    void *sink_ctx;            /* the sink's own state */
    ngx_int_t sink_status;     /* what the sink's subrequest answered */
    unsigned sink_done : 1;    /* its subrequest ended */
    unsigned retry : 1;
};

struct ngx_http_provision_x_cdr_sink_t {
    const char *name;  /* its provision_x_receive parameter */
    ngx_uint_t metric; /* its ngx_http_provision_x_sink_e, for the histogram */

    /* Hands the push's new records over: NGX_DONE while a subrequest
     * runs, else what the content handler returns. */
    ngx_int_t (*hand_off)(ngx_http_request_t *r,
                          ngx_http_provision_x_ctx_t *ctx) noexcept;

    /* A subrequest sink's end, on the parent: answers the platform (or
     * hands off again).  NULL for a sink that answers at once. */
    void (*finish)(ngx_http_request_t *r, ngx_http_provision_x_ctx_t *ctx,
                   ngx_int_t status) noexcept;
};

extern const ngx_http_provision_x_cdr_sink_t ngx_http_provision_x_cdr_queue;
extern const ngx_http_provision_x_cdr_sink_t ngx_http_provision_x_cdr_forward;
extern const ngx_http_provision_x_cdr_sink_t ngx_http_provision_x_cdr_redis;

/* The sink a receiver's parameter names ("queue", ...), or NULL. */
const ngx_http_provision_x_cdr_sink_t *
ngx_http_provision_x_cdr_sink_named(std::string_view name) noexcept;

ngx_int_t ngx_http_provision_x_cdr_handler(ngx_http_request_t *r) noexcept;
ngx_int_t ngx_http_provision_x_cdr_init_process(ngx_cycle_t *cycle) noexcept;
void ngx_http_provision_x_cdr_exit_process(ngx_cycle_t *cycle) noexcept;

/*
 * The platform's answer in the location's dialect: for 200, the
 * acknowledgement of the push's type (push_ack_body); otherwise the
 * dialect's error shape with `message`.
 */
ngx_int_t ngx_http_provision_x_cdr_answer(ngx_http_request_t *r,
                                          ngx_uint_t status,
                                          const char *message) noexcept;

/* The sink has the records: mark them seen, count, acknowledge. */
ngx_int_t
ngx_http_provision_x_cdr_commit(ngx_http_request_t *r,
                                ngx_http_provision_x_ctx_t *ctx) noexcept;

/*
 * Starts the sink's subrequest to the location's forward= or redis= URI,
 * status only, with `module_ctx` as its ctx of `module` (NULL: none); the
 * sink's finish() runs on the parent once it ended.  NGX_DONE, or an
 * error status.
 */
ngx_int_t ngx_http_provision_x_cdr_subrequest(ngx_http_request_t *r,
                                              ngx_http_provision_x_ctx_t *ctx,
                                              ngx_http_request_t **sr,
                                              ngx_module_t *module,
                                              void *module_ctx) noexcept;

/* Counts a hand-off by the sink's answer and times it from its start. */
void ngx_http_provision_x_cdr_handed_off(ngx_http_request_t *r,
                                         ngx_http_provision_x_ctx_t *ctx,
                                         ngx_int_t status) noexcept;

/* Acknowledges what the sink confirmed (2xx), else makes the platform
 * retry; the common finish(). */
void ngx_http_provision_x_cdr_sink_finish(ngx_http_request_t *r,
                                          ngx_http_provision_x_ctx_t *ctx,
                                          ngx_int_t status) noexcept;

#endif /* NGX_HTTP_PROVISION_X_CDR_HPP */
